// One server-paged list: the first page on load, the next on "More", never a walk of every
// cursor. A change of path, query or generation starts again from the first page, and an
// answer for a list no longer shown (refiltered, reloaded or unmounted) is dropped rather than
// appended.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc, type Page } from "./api";

export interface Paged<T> {
  /** Null until the first page arrives. */
  items: T[] | null;
  /** Whether the server has more after `items`. */
  more: boolean;
  loading: boolean;
  failure: unknown;
  loadMore: () => void;
  /** Changes the items shown without asking the server (after a change it answered). */
  edit: (f: (items: T[]) => T[]) => void;
}

export const PAGE_SIZE = 25;

/** For lists offered as choices (a select's options): a tenant with more gets a "More" button
 * rather than the page walking every cursor on load. */
export const CHOICES_PAGE_SIZE = 100;

export interface PagedOptions<T> {
  /** Without `?`; may be empty. */
  query?: string;
  /** Bumped to list again from the first page. */
  generation?: number;
  limit?: number;
  /** Asks `limit=…` before `query` rather than after it: the runs' list has always asked so. */
  limitFirst?: boolean;
  /** Drops what the page never offers, page by page. */
  keep?: (item: T) => boolean;
  /** Leaves the rows shown while the first page loads again, instead of the loading line. */
  holdWhileReloading?: boolean;
}

/** `GET {path}?{query}&limit=…`, then the same with `&cursor=…` for each "More". */
export function usePaged<T>(
  api: Api,
  path: string,
  { query = "", generation = 0, limit = PAGE_SIZE, limitFirst = false, keep, holdWhileReloading = false }: PagedOptions<T> = {},
): Paged<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  // Each first-page load gets a number: an answer for an older one is dropped.
  const listing = useRef(0);

  async function load(cursor: string | undefined) {
    const mine = cursor ? listing.current : ++listing.current;
    setLoading(true);
    setFailure(null);
    if (!cursor && !holdWhileReloading) {
      setItems(null);
      setNext(undefined);
    }
    try {
      const size = `limit=${limit}`;
      const first = limitFirst ? [size, query] : [query, size];
      const params = [...first, cursor ? `cursor=${enc(cursor)}` : ""].filter(Boolean).join("&");
      const page = await api.get<Page<T>>(`${path}?${params}`);
      if (mine !== listing.current) return;
      const data = keep ? page.data.filter(keep) : page.data;
      setItems((old) => (cursor && old ? [...old, ...data] : data));
      setNext(page.next_cursor);
    } catch (e) {
      if (mine === listing.current) setFailure(e);
    } finally {
      if (mine === listing.current) setLoading(false);
    }
  }

  useEffect(() => {
    load(undefined);
    return () => {
      listing.current++;
    };
  }, [api, path, query, generation]);

  return {
    items,
    more: next !== undefined,
    loading,
    failure,
    loadMore: () => {
      if (next && !loading) load(next);
    },
    edit: (f) => setItems((old) => (old ? f(old) : old)),
  };
}
