// The applications and hooks the filters offer, a page of 100 at a time: a tenant with more
// gets a "More" button rather than the page walking every cursor on load.

import { useEffect, useState } from "preact/hooks";
import { type Api, enc, type Page } from "../api";

export interface Listed<T> {
  items: T[];
  /** Whether the server has more after `items`. */
  more: boolean;
  loading: boolean;
  failure: unknown;
  loadMore: () => void;
}

const LIMIT = 100;

/** `GET {path}?limit=100`, page by page; `keep` drops what the page never offers. */
export function useListed<T>(api: Api, path: string, keep: (item: T) => boolean = () => true): Listed<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);

  async function load(cursor: string | undefined, gone: () => boolean) {
    setLoading(true);
    setFailure(null);
    try {
      const page = await api.get<Page<T>>(`${path}?limit=${LIMIT}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      if (gone()) return;
      const kept = page.data.filter(keep);
      setItems((old) => (cursor ? [...old, ...kept] : kept));
      setNext(page.next_cursor);
    } catch (e) {
      if (!gone()) setFailure(e);
    } finally {
      if (!gone()) setLoading(false);
    }
  }

  useEffect(() => {
    let gone = false;
    load(undefined, () => gone);
    return () => {
      gone = true;
    };
  }, [api, path]);

  return {
    items,
    more: next !== undefined,
    loading,
    failure,
    loadMore: () => {
      if (next && !loading) load(next, () => false);
    },
  };
}
