// The JWT templates page: edit the tenant's or an application's template for either token,
// validated as you type, previewed against a real user, compared with what is live, saved, and
// its history from the audit log.

import type { Completion } from "@codemirror/autocomplete";
import { MergeView } from "@codemirror/merge";
import { json } from "@codemirror/lang-json";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, ApiFailure, enc, type Page } from "../api";
import { cspNonce } from "../nonce";
import { Failure } from "../ui";
import { pathOptions } from "./complete";
import { createEditor, lineAndColumn } from "./editor";
import type { Problem } from "./lint";

type TokenKind = "id_token" | "access_token";
const TOKENS: [TokenKind, string][] = [
  ["id_token", "ID token"],
  ["access_token", "Access token"],
];

interface Templates {
  access_token?: unknown;
  id_token?: unknown;
}
interface App {
  client_id: string;
  name: string;
}
interface Preview {
  access_token?: Record<string, unknown> | null;
  id_token?: Record<string, unknown> | null;
}
interface AuditEntry {
  id: string;
  actor: string;
  at: string;
  action: string;
  resource_id: string;
  summary: unknown;
}

const EMPTY = "{\n  \n}\n";

/** The draft formatted as the live template is, when it parses. */
function normal(text: string): string {
  try {
    return pretty(JSON.parse(text));
  } catch {
    return text;
  }
}

function pretty(v: unknown): string {
  return v === undefined || v === null ? "" : `${JSON.stringify(v, null, 2)}\n`;
}

/** The API paths of one template. */
function paths(client: string, token: TokenKind) {
  const base = client ? `/applications/${enc(client)}/jwt-templates` : "/jwt-templates";
  return { list: base, one: `${base}/${token}`, resource: client ? `${client}/${token}` : token };
}

export function TemplatesPage({ api }: { api: Api }) {
  const [apps, setApps] = useState<App[]>([]);
  // The start of an application's name to list them by: the API pages at 100, so a tenant with
  // more finds the one it wants by name.
  const [appPrefix, setAppPrefix] = useState("");
  const [appTyped, setAppTyped] = useState("");
  const [client, setClient] = useState("");
  const [token, setToken] = useState<TokenKind>("id_token");
  const [live, setLive] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const [problems, setProblems] = useState<Problem[] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const [showDiff, setShowDiff] = useState(false);
  const [history, setHistory] = useState<AuditEntry[]>([]);
  const options = useRef<Completion[]>(pathOptions([]));
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const p = useMemo(() => paths(client, token), [client, token]);

  useEffect(() => {
    const search = appPrefix ? `&name_prefix=${enc(appPrefix)}` : "";
    api.get<Page<App>>(`/applications?limit=100${search}`).then((page) => {
      const found = page.data.filter((a) => !a.client_id.startsWith("sigil-dashboard-"));
      // The application being edited stays in the list whatever the search.
      setApps((before) => {
        const chosen = before.find((a) => a.client_id === client);
        return chosen && !found.some((a) => a.client_id === client) ? [chosen, ...found] : found;
      });
    }, setFailure);
  }, [api, appPrefix]);

  useEffect(() => {
    api.get<{ data: string[] }>("/metadata-keys?limit=1000").then(
      (keys) => (options.current = pathOptions(keys.data)),
      setFailure,
    );
  }, [api]);

  // Loads the live template of the chosen application and token into a new editor.
  useEffect(() => {
    let gone = false;
    setLive(null);
    setNotice("");
    setProblems(null);
    api.get<Templates>(p.list).then((t) => {
      if (gone) return;
      const text = pretty(t[token]);
      setLive(text);
      setDraft(text || EMPTY);
      view.current?.destroy();
      view.current = createEditor(host.current!, {
        doc: text || EMPTY,
        api,
        options: () => options.current,
        onProblems: setProblems,
        onChange: setDraft,
        label: `${token === "id_token" ? "ID" : "Access"} token template`,
      });
    }, setFailure);
    api.get<Page<AuditEntry>>(`/audit-log?resource_type=jwt_template&resource_id=${enc(p.resource)}&limit=20`).then(
      (page) => !gone && setHistory(page.data),
      setFailure,
    );
    return () => {
      gone = true;
    };
  }, [api, p]);

  useEffect(() => () => view.current?.destroy(), []);

  // Compared as JSON, so a save (the server gives the template back formatted) or a change of
  // spacing is not a change.
  const changed = live !== null && normal(draft) !== normal(live || EMPTY);

  async function save() {
    setBusy(true);
    setNotice("");
    try {
      const template = JSON.parse(draft);
      const saved = await api.put<unknown>(p.one, template);
      setLive(pretty(saved));
      setNotice("Saved. New tokens carry these claims from the next login.");
      setHistory((await api.get<Page<AuditEntry>>(`/audit-log?resource_type=jwt_template&resource_id=${enc(p.resource)}&limit=20`)).data);
    } catch (e) {
      if (e instanceof SyntaxError) setNotice(`Not saved: the JSON is invalid (${e.message}).`);
      else if (e instanceof ApiFailure) setNotice(`Not saved: ${e.describe()}`);
      else setNotice(`Not saved: ${String(e)}`);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    try {
      await api.delete(p.one);
      setLive("");
      setNotice(client ? "Removed: the tenant's template applies to this application again." : "Removed.");
    } catch (e) {
      setNotice(`Not removed: ${e instanceof ApiFailure ? e.describe() : String(e)}`);
    } finally {
      setBusy(false);
    }
  }

  const errors = problems ?? [];
  return (
    <section aria-labelledby="templates-title">
      <h1 id="templates-title">JWT templates</h1>
      <p class="muted">
        Claims added to every token the tenant issues. Strings may contain <code>{"{{ }}"}</code> expressions that read from
        the login event; press Ctrl+Space inside one for the fields and this tenant's metadata keys.
      </p>
      <Failure error={failure} />
      <div class="toolbar">
        <form
          class="inline-form"
          role="search"
          aria-label="Find an application"
          onSubmit={(e) => {
            e.preventDefault();
            setAppPrefix(appTyped.trim());
          }}
        >
          <label>
            Applications named{" "}
            <input
              id="template-app-find"
              autocomplete="off"
              spellcheck={false}
              placeholder="any name"
              value={appTyped}
              title="The start of the name, letters A to Z in any case; Enter lists them"
              onInput={(e) => setAppTyped((e.target as HTMLInputElement).value)}
            />
          </label>
        </form>
        <label>
          Applies to{" "}
          <select id="template-scope" value={client} onChange={(e) => setClient((e.target as HTMLSelectElement).value)}>
            <option value="">Every application (tenant default)</option>
            {apps.map((a) => (
              <option value={a.client_id}>{a.name}</option>
            ))}
          </select>
        </label>
        <div role="tablist" aria-label="Token">
          {TOKENS.map(([k, label]) => (
            <button role="tab" id={`tab-${k}`} aria-selected={token === k} class={token === k ? "tab active" : "tab"} onClick={() => setToken(k)}>
              {label}
            </button>
          ))}
        </div>
      </div>
      <div class="editor" id="template-editor" ref={host} />
      <div id="template-problems" role="status" aria-live="polite">
        {problems === null ? (
          <span class="muted">Checking…</span>
        ) : errors.length === 0 ? (
          <span class="ok">The template is valid.</span>
        ) : (
          <ul class="problems">
            {errors.map((e) => (
              <li>
                <button class="link" onClick={() => view.current?.dispatch({ selection: { anchor: e.from }, scrollIntoView: true })}>
                  {view.current ? lineAndColumn(view.current, e.from) : ""}
                </button>
                : {e.message}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div class="actions">
        <button id="template-save" class="primary" disabled={busy || errors.length > 0 || !changed} onClick={save}>
          Save
        </button>
        <button id="template-diff" aria-pressed={showDiff} onClick={() => setShowDiff(!showDiff)}>
          {showDiff ? "Hide changes" : "Show changes"}
        </button>
        <button id="template-delete" disabled={busy || !live} onClick={remove}>
          {client ? "Remove override" : "Delete"}
        </button>
        <span id="template-notice" role="status">
          {notice}
        </span>
      </div>
      {showDiff && live !== null && <Diff live={live} draft={normal(draft)} />}
      <PreviewPanel api={api} apps={apps} client={client} token={token} draft={draft} valid={errors.length === 0} />
      <h2>History</h2>
      <ul id="template-history" class="history">
        {history.length === 0 && <li class="muted">No changes recorded.</li>}
        {history.map((h) => (
          <li>
            <time>{h.at}</time> <strong>{h.action}</strong> by <code>{h.actor}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** What is live against the draft, side by side. */
function Diff({ live, draft }: { live: string; draft: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const readOnly = [cspNonce, json(), EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const merge = new MergeView({
      a: { doc: live, extensions: readOnly },
      b: { doc: draft, extensions: readOnly },
      parent: host.current!,
      collapseUnchanged: { margin: 2, minSize: 4 },
    });
    return () => merge.destroy();
  }, [live, draft]);
  return (
    <section aria-label="Changes against the live template" class="diff">
      <div class="diff-labels">
        <span>Live</span>
        <span>Draft</span>
      </div>
      <div ref={host} id="template-diff-view" />
    </section>
  );
}

interface UserRow {
  id: string;
  email: string;
}

/** Renders the draft (for its token) and the live template of the other token against a user. */
function PreviewPanel(props: { api: Api; apps: App[]; client: string; token: TokenKind; draft: string; valid: boolean }) {
  const { api, apps, client, token, draft, valid } = props;
  const [email, setEmail] = useState("");
  const [org, setOrg] = useState("");
  const [app, setApp] = useState("");
  const [result, setResult] = useState<Preview | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      const body: Record<string, unknown> = { template: JSON.parse(draft), token };
      const clientId = client || app || apps[0]?.client_id;
      if (email.trim()) {
        const users = await api.get<Page<UserRow>>(`/users?email=${enc(email.trim())}`);
        const user = users.data[0];
        if (!user) throw new ApiFailure(404, "not_found", `no user has the email ${email.trim()}`, "email");
        if (!clientId) throw new ApiFailure(400, "invalid_field", "a preview for a user needs an application", "application");
        body.user_id = user.id;
        body.client_id = clientId;
        if (org.trim()) body.organization = org.trim();
      } else if (clientId) {
        body.client_id = clientId;
      }
      setResult(await api.post<Preview>("/jwt-templates/preview", body));
    } catch (e) {
      setResult(null);
      setFailure(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="preview-title" class="preview">
      <h2 id="preview-title">Preview</h2>
      <form onSubmit={run} class="inline-form">
        <label>
          User's email <input id="preview-email" type="email" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} placeholder="the sample event when empty" />
        </label>
        <label>
          Organization <input id="preview-org" value={org} onInput={(e) => setOrg((e.target as HTMLInputElement).value)} placeholder="id or name (optional)" />
        </label>
        {!client && (
          <label>
            Application{" "}
            <select id="preview-app" value={app || apps[0]?.client_id} onChange={(e) => setApp((e.target as HTMLSelectElement).value)}>
              {apps.map((a) => (
                <option value={a.client_id}>{a.name}</option>
              ))}
            </select>
          </label>
        )}
        <button id="preview-run" type="submit" disabled={busy || !valid}>
          Preview
        </button>
      </form>
      <Failure error={failure} />
      {result && (
        <div class="claims">
          {TOKENS.map(([k, label]) => (
            <figure>
              <figcaption>
                {label} claims{k === token ? " (draft)" : " (live)"}
              </figcaption>
              <pre id={`preview-${k}`}>{result[k] ? JSON.stringify(result[k], null, 2) : "(no template)"}</pre>
            </figure>
          ))}
        </div>
      )}
    </section>
  );
}
