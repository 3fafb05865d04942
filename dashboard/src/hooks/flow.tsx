// The post-login flow: its bindings in order, each with its failure policy, edited as a draft
// and saved whole (the API replaces the flow atomically), or reverted to what is live.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiFailure, enc, type Page } from "../api";
import { Failure } from "../ui";
import { type Item, FlowList } from "./flow-list";
import { reason } from "./format";
import { failed, type Notice, NoticeLine } from "./notice";
import { type Binding, type Flow, type Hook, POST_LOGIN } from "./types";

/** The API's `MAX_BINDINGS`. */
const MAX_BINDINGS = 20;
const HOOKS_PAGE = 100;

/** A binding as the PUT body takes it: absent fields stay absent, so a pinned version and a
 * binding's own deadline survive a save made for something else. */
function body(b: Binding): Binding {
  const out: Binding = { hook: b.hook, failure_policy: b.failure_policy };
  if (b.version != null) out.version = b.version;
  if (b.deadline_ms != null) out.deadline_ms = b.deadline_ms;
  return out;
}

const same = (a: Binding[], b: Binding[]) => JSON.stringify(a.map(body)) === JSON.stringify(b.map(body));

/** Why a hook cannot be added to the flow, if it cannot: the API refuses both. */
function unbindable(h: Hook): string | null {
  const deployed = h.versions.find((v) => v.version === h.deployed_version);
  if (!deployed) return "nothing deployed";
  if (deployed.world !== POST_LOGIN) return `a ${deployed.world} hook`;
  return null;
}

export function FlowPage({ api }: { api: Api }) {
  const [live, setLive] = useState<Flow | null>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [hooks, setHooks] = useState<Map<string, Hook>>(new Map());
  // The tenant's hooks as listed, page by page, for the add control.
  const [listed, setListed] = useState<Hook[]>([]);
  const [listNext, setListNext] = useState<string | undefined>(undefined);
  const [adding, setAdding] = useState("");
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [errorAt, setErrorAt] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const nextKey = useRef(0);

  const toItems = (f: Flow): Item[] => f.bindings.map((binding) => ({ key: nextKey.current++, binding }));

  function know(more: Hook[]) {
    setHooks((old) => {
      const m = new Map(old);
      for (const h of more) m.set(h.id, h);
      return m;
    });
  }

  async function listHooks(cursor?: string) {
    try {
      const page = await api.get<Page<Hook>>(`/hooks?limit=${HOOKS_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      setListed((old) => (cursor ? [...old, ...page.data] : page.data));
      setListNext(page.next_cursor);
      know(page.data);
      return page.data;
    } catch (e) {
      setFailure(e);
      return [];
    }
  }

  useEffect(() => {
    let gone = false;
    (async () => {
      try {
        const [flow, first] = await Promise.all([api.get<Flow>("/flows/post-login"), listHooks()]);
        // The flow names its hooks by id; those not on the first page of the list are fetched
        // one by one (at most MAX_BINDINGS), rather than paging through every hook.
        const seen = new Set(first.map((h) => h.id));
        const missing = [...new Set(flow.bindings.map((b) => b.hook))].filter((id) => !seen.has(id));
        const found = await Promise.all(missing.map((id) => api.get<Hook>(`/hooks/${enc(id)}`).catch(() => null)));
        if (gone) return;
        know(found.filter((h): h is Hook => h !== null));
        setLive(flow);
        setItems(toItems(flow));
      } catch (e) {
        if (!gone) setFailure(e);
      }
    })();
    return () => {
      gone = true;
    };
  }, [api]);

  const bound = new Set(items.map((it) => it.binding.hook));
  const candidates = listed.filter((h) => !bound.has(h.id));
  const firstFree = candidates.find((h) => !unbindable(h))?.id ?? "";
  // Keep the add control on a hook that can still be added.
  useEffect(() => {
    if (!candidates.some((h) => h.id === adding && !unbindable(h))) setAdding(firstFree);
  }, [firstFree, adding, items.length]);

  function change(next: Item[]) {
    setItems(next);
    setErrorAt(null);
    setNotice(null);
  }

  function add() {
    const h = hooks.get(adding);
    if (!h) return;
    change([...items, { key: nextKey.current++, binding: { hook: h.id, failure_policy: "fail_closed" } }]);
    setNotice({ ok: true, text: `Added ${h.name} at position ${items.length + 1}; save to apply.` });
  }

  async function save() {
    if (!live) return;
    setBusy(true);
    setNotice(null);
    setErrorAt(null);
    try {
      const flow: Flow = { bindings: items.map((it) => body(it.binding)) };
      if (live.budget_ms !== undefined) flow.budget_ms = live.budget_ms;
      const saved = await api.put<Flow>("/flows/post-login", flow);
      setLive(saved);
      setItems(toItems(saved));
      setNotice({ ok: true, text: "Saved." });
    } catch (err) {
      const at = err instanceof ApiFailure ? /^bindings\[(\d+)\]/.exec(err.field ?? "") : null;
      const index = at ? Number(at[1]) : null;
      const item = index !== null ? items[index] : undefined;
      if (item) {
        setErrorAt(index);
        const name = hooks.get(item.binding.hook)?.name ?? item.binding.hook;
        setNotice({ ok: false, text: `Not saved: ${reason(err)} (${name}, position ${index! + 1})` });
      } else {
        setNotice(failed("Not saved", err));
      }
    } finally {
      setBusy(false);
    }
  }

  function revert() {
    if (!live) return;
    setItems(toItems(live));
    setErrorAt(null);
    setNotice({ ok: true, text: "Reverted to the live flow." });
  }

  const changed = live !== null && !same(items.map((it) => it.binding), live.bindings);
  const full = items.length >= MAX_BINDINGS;

  return (
    <section aria-labelledby="flow-title">
      <h1 id="flow-title">Post-login flow</h1>
      <p class="muted">
        The hooks every login runs, top to bottom, each with what happens when it fails. A deny always stops the login. Saved
        changes apply within 5 seconds on every node.
      </p>
      <Failure error={failure} />
      {live === null ? (
        !failure && <p role="status">Loading the flow…</p>
      ) : (
        <>
          {items.length === 0 && (
            <p id="flow-empty" class="muted">
              No hooks in the flow: logins run none.
            </p>
          )}
          <FlowList items={items} hooks={hooks} errorAt={errorAt} onChange={change} />
          {live.budget_ms !== undefined && (
            <p class="muted" id="flow-budget">
              The flow's budget is {live.budget_ms} ms (kept when you save).
            </p>
          )}
          <div class="inline-form">
            <label for="flow-add-hook">Add a hook</label>
            <select id="flow-add-hook" value={adding} disabled={full} onChange={(e) => setAdding(e.currentTarget.value)}>
              {adding === "" && (
                <option value="">{candidates.length ? "(none can be added: deploy a post-login version first)" : "(every listed hook is in the flow)"}</option>
              )}
              {candidates.map((h) => {
                const why = unbindable(h);
                return (
                  <option value={h.id} disabled={why !== null}>
                    {h.name}
                    {why ? ` (${why})` : ""}
                  </option>
                );
              })}
            </select>
            <button id="flow-add" type="button" disabled={full || !adding} onClick={add}>
              Add at the end
            </button>
            {listNext && (
              <button id="flow-add-more" type="button" onClick={() => listHooks(listNext)}>
                More hooks
              </button>
            )}
            {full && <span class="muted">A flow holds at most {MAX_BINDINGS} hooks.</span>}
          </div>
          <div class="actions">
            <button id="flow-save" class="primary" disabled={busy || !changed} onClick={save}>
              Save
            </button>
            <button id="flow-revert" disabled={busy || !changed} onClick={revert}>
              Revert
            </button>
            {changed && <span class="muted">Unsaved changes.</span>}
          </div>
          <NoticeLine id="flow-notice" notice={notice} />
        </>
      )}
    </section>
  );
}
