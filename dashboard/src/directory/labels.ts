// Names for the ids a list holds: memberships carry a user's and an organization's id only,
// so the page asks for each one it shows (a page of them at most, never the whole directory)
// and falls back to the id when a lookup fails.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "../api";

/** `label(id)` once `GET path(id)` answered, else undefined (show the id meanwhile). */
export function useLabels<T>(api: Api, ids: string[], path: (id: string) => string, name: (item: T) => string) {
  const [labels, setLabels] = useState<Map<string, string>>(new Map());
  // Asked already (answered or not), so neither a re-render nor "More" asks twice.
  const asked = useRef(new Set<string>());
  const mounted = useRef(true);
  const key = [...new Set(ids)].sort().join(" ");

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    for (const id of key.split(" ")) {
      if (!id || asked.current.has(id)) continue;
      asked.current.add(id);
      api.get<T>(path(id)).then(
        (item) => mounted.current && setLabels((old) => new Map(old).set(id, name(item))),
        () => undefined,
      );
    }
  }, [api, key]);

  return (id: string): string | undefined => labels.get(id);
}
