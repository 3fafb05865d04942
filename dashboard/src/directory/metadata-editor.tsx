// A metadata object (a user's `user_metadata` or `app_metadata`, an organization's `metadata`,
// an application's `client_metadata`) in a JSON editor, written by either of the API's two
// calls: merge (PATCH) or replace (PUT). Both answer the stored object, which the editor then
// shows, so what is on screen is what the server holds. The rules are the sigil-hooks crate's
// (metadata.rs), written out beside the buttons because the two calls differ exactly where a
// mistake loses data: a key removed from the editor survives a merge and not a replace.

import type { Diagnostic } from "@codemirror/lint";
import type { EditorView } from "@codemirror/view";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "../api";
import { createEventEditor, replaceDoc } from "../hooks/event-editor";
import { bytes, pretty } from "../hooks/format";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { lineAndColumn } from "../templates/editor";
import { refuse } from "./fields";

/** The server's limits (sigil-hooks metadata.rs), so the page can say them before a refusal. */
const MAX_BYTES = 16 * 1024;

type Json = Record<string, unknown>;

export interface MetadataEditorProps {
  api: Api;
  /** The object's own endpoint (`/users/usr_…/user_metadata`): PATCH merges, PUT replaces. */
  path: string;
  /** The same endpoint as the page shows it, with `{id}`. */
  route: string;
  /** The field as the API names it in refusals (`user_metadata`). */
  field: string;
  /** The editor's element id (`user-metadata-editor`). */
  editorId: string;
  /** Prefix of the other ids: `{prefix}-merge`, `-replace`, `-revert`, `-notice`, `-rules`. */
  prefix: string;
  title: string;
  intro: ComponentChildren;
  value: Json;
  onSaved: (v: Json) => void;
}

const text = (v: unknown) => `${pretty(v)}\n`;

export function MetadataEditor({ api, path, route, field, editorId, prefix, title, intro, value, onSaved }: MetadataEditorProps) {
  const [problems, setProblems] = useState<Diagnostic[] | null>(null);
  const [draft, setDraft] = useState(() => text(value));
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // What the server holds, as the editor would show it: the draft is unsaved when it differs.
  const stored = useRef(text(value));
  const titleId = `${prefix}-title`;

  useEffect(() => {
    view.current = createEventEditor(host.current!, {
      doc: stored.current,
      label: `${title} (JSON)`,
      onChange: setDraft,
      onProblems: setProblems,
    });
    return () => {
      view.current?.destroy();
      view.current = null;
    };
  }, []);

  // The page got the object anew (another save answered the whole record): an untouched
  // editor follows it, a draft is kept.
  const incoming = text(value);
  useEffect(() => {
    if (incoming === stored.current) return;
    const untouched = view.current?.state.doc.toString() === stored.current;
    stored.current = incoming;
    if (untouched && view.current) replaceDoc(view.current, incoming);
  }, [incoming]);

  function parsed(): Json {
    let v: unknown;
    try {
      v = JSON.parse(view.current!.state.doc.toString());
    } catch (e) {
      throw refuse(field, `is not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw refuse(field, "must be a JSON object");
    return v as Json;
  }

  function show(v: Json) {
    stored.current = text(v);
    if (view.current) replaceDoc(view.current, stored.current);
    onSaved(v);
  }

  async function merge() {
    setBusy(true);
    setNotice(null);
    try {
      const patch = parsed();
      const before = JSON.parse(stored.current) as Json;
      const result = await api.patch<Json>(path, patch);
      show(result);
      const keys = Object.keys(patch);
      // Only what the merge changed: the editor usually holds the whole object, unchanged keys too.
      const set = keys.filter((k) => patch[k] !== null && JSON.stringify(patch[k]) !== JSON.stringify(before[k]));
      const deleted = keys.filter((k) => patch[k] === null && k in before);
      const kept = Object.keys(before).filter((k) => !(k in patch) && k in result);
      const parts = [
        set.length ? `set ${set.join(", ")}` : "",
        deleted.length ? `deleted ${deleted.join(", ")}` : "",
      ].filter(Boolean);
      let said = `Merged: ${parts.length ? parts.join("; ") : "nothing changed ({} merges nothing)"}.`;
      if (kept.length) {
        said += ` Kept ${kept.join(", ")}, which the editor left out: a merge keeps what it is not sent; set a key to null, or replace, to delete it.`;
      }
      setNotice(done(said));
    } catch (err) {
      setNotice(failed("Not merged", err));
    } finally {
      setBusy(false);
    }
  }

  async function replace() {
    setBusy(true);
    setNotice(null);
    try {
      const result = await api.put<Json>(path, parsed());
      show(result);
      const n = Object.keys(result).length;
      setNotice(done(`Replaced: ${field} now holds ${n === 0 ? "no keys" : `${n} top-level key${n === 1 ? "" : "s"}`}.`));
    } catch (err) {
      setNotice(failed("Not replaced", err));
    } finally {
      setBusy(false);
    }
  }

  function revert() {
    if (view.current) replaceDoc(view.current, stored.current);
    setNotice(done("Back to the stored object."));
  }

  const errors = problems ?? [];
  const size = sizeOf(draft);
  const unsaved = draft !== stored.current;
  return (
    <section aria-labelledby={titleId} class="metadata">
      <h2 id={titleId}>{title}</h2>
      <p class="muted">{intro}</p>
      <div class="metadata-layout">
        <div class="metadata-edit">
          <div class="editor" id={editorId} ref={host} />
          <div id={`${prefix}-problems`} class="metadata-problems" role="status" aria-live="polite">
            {errors.length > 0 ? (
              <ul class="problems">
                {errors.map((d) => (
                  <li>
                    <button type="button" class="link" onClick={() => view.current?.dispatch({ selection: { anchor: d.from }, scrollIntoView: true })}>
                      {view.current ? lineAndColumn(view.current, d.from) : ""}
                    </button>
                    : {d.message}
                  </li>
                ))}
              </ul>
            ) : (
              <span class={size !== null && size > MAX_BYTES ? "warn" : "muted"}>
                {size === null ? "" : `${bytes(size)} of ${bytes(MAX_BYTES)}`}
                {unsaved ? " · unsaved changes" : ""}
              </span>
            )}
          </div>
          <div class="actions">
            <button id={`${prefix}-merge`} class="primary" disabled={busy || errors.length > 0} onClick={merge} aria-describedby={`${prefix}-rule-merge`}>
              Merge
            </button>
            <button id={`${prefix}-replace`} disabled={busy || errors.length > 0} onClick={replace} aria-describedby={`${prefix}-rule-replace`}>
              Replace
            </button>
            <button id={`${prefix}-revert`} disabled={busy || !unsaved} onClick={revert}>
              Revert
            </button>
          </div>
          <NoticeLine id={`${prefix}-notice`} notice={notice} />
        </div>
        <dl id={`${prefix}-rules`} class="merge-rules">
          <dt>Merge</dt>
          <dd id={`${prefix}-rule-merge`}>
            <code>PATCH {route}</code>: each top-level key in the editor replaces the stored key
            whole (nested objects are not merged), a key set to <code>null</code> is deleted, and keys left out are kept.
          </dd>
          <dt>Replace</dt>
          <dd id={`${prefix}-rule-replace`}>
            <code>PUT {route}</code>: the stored object becomes exactly what the editor holds, so
            keys removed from it are deleted; <code>null</code> values are dropped.
          </dd>
          <dt>Limits</dt>
          <dd>A JSON object of at most 16 KiB, keys up to 255 characters, nested at most 32 levels.</dd>
        </dl>
      </div>
    </section>
  );
}

/** The draft's size as the server counts it (compact JSON, UTF-8), or null while it does not parse. */
function sizeOf(draft: string): number | null {
  try {
    return new TextEncoder().encode(JSON.stringify(JSON.parse(draft))).length;
  } catch {
    return null;
  }
}
