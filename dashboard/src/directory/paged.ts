// One server-paged list: the first page on load, the next on "More", never a walk of every
// cursor. A change of path, query or generation starts again from the first page, and an
// answer for a list no longer shown is dropped rather than appended.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc, type Page } from "../api";

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

/** `GET {path}?{query}&limit=…`; `query` is without `?` and may be empty. */
export function usePaged<T>(api: Api, path: string, query = "", generation = 0, limit = PAGE_SIZE): Paged<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const listing = useRef(0);

  async function load(cursor: string | undefined) {
    const mine = cursor ? listing.current : ++listing.current;
    setLoading(true);
    setFailure(null);
    if (!cursor) {
      setItems(null);
      setNext(undefined);
    }
    try {
      const params = [query, `limit=${limit}`, cursor ? `cursor=${enc(cursor)}` : ""].filter(Boolean).join("&");
      const page = await api.get<Page<T>>(`${path}?${params}`);
      if (mine !== listing.current) return;
      setItems((old) => (cursor && old ? [...old, ...page.data] : page.data));
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
