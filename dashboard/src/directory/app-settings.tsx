// An application's settings, saved with one PATCH of what changed: lists are typed one item a
// line and replace the stored list whole (as the API does), so an error on `redirect_uris[2]`
// is shown on the line it came from. The built-in dashboard client is shown read-only.

import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, type Notice, NoticeLine } from "../hooks/notice";
import { span } from "../traces/format";
import { failedOnLine, fieldOf, itemOf, lineOf, refuse, sameList, splitLines, within } from "./fields";
import { type Application, GRANT_TYPES, SIGNING_ALGS } from "./types";

const LISTS = [
  {
    key: "redirect_uris",
    id: "app-redirect-uris",
    label: "Redirect URIs",
    hint: "Where logins may return, matched exactly: https, http on localhost, or a native app's reverse-DNS scheme.",
  },
  {
    key: "post_logout_redirect_uris",
    id: "app-post-logout-uris",
    label: "Post-logout redirect URIs",
    hint: "Where logout may send the browser afterwards, matched exactly.",
  },
  {
    key: "allowed_web_origins",
    id: "app-web-origins",
    label: "Allowed web origins (CORS)",
    hint: "Origins whose pages may call the token endpoints from the browser, such as https://app.example.com (no path).",
  },
] as const;

const LIFETIMES = [
  { key: "id_token_lifetime", id: "app-id-token-lifetime", label: "ID token lifetime", max: 86_400 },
  { key: "access_token_lifetime", id: "app-access-token-lifetime", label: "Access token lifetime", max: 86_400 },
  { key: "refresh_token_lifetime", id: "app-refresh-token-lifetime", label: "Refresh token lifetime", max: 31_536_000 },
] as const;

const GRANT_WORDS: Record<string, string> = {
  authorization_code: "Authorization code (logins in a browser, with PKCE)",
  refresh_token: "Refresh token (new tokens without a new login)",
  client_credentials: "Client credentials (machine to machine, no user)",
  password: "Password (the application takes the user's password; discouraged, RFC 9700 2.4)",
};
const CONFIDENTIAL_ONLY = ["client_credentials", "password"];

type ListKey = (typeof LISTS)[number]["key"];
type LifetimeKey = (typeof LIFETIMES)[number]["key"];
interface Draft {
  name: string;
  lists: Record<ListKey, string>;
  grants: string[];
  signing_alg: string;
  lifetimes: Record<LifetimeKey, string>;
  first_party: boolean;
}

const draftOf = (a: Application): Draft => ({
  name: a.name,
  lists: {
    redirect_uris: a.redirect_uris.join("\n"),
    post_logout_redirect_uris: a.post_logout_redirect_uris.join("\n"),
    allowed_web_origins: a.allowed_web_origins.join("\n"),
  },
  grants: a.grant_types,
  signing_alg: a.signing_alg,
  lifetimes: {
    id_token_lifetime: String(a.id_token_lifetime),
    access_token_lifetime: String(a.access_token_lifetime),
    refresh_token_lifetime: String(a.refresh_token_lifetime),
  },
  first_party: a.first_party,
});

/** The element a refused field concerns, to mark and focus. */
function elementOf(field: string | undefined): string | undefined {
  if (!field) return undefined;
  if (field === "name") return "app-name";
  const list = LISTS.find((l) => within(field, l.key));
  if (list) return list.id;
  const life = LIFETIMES.find((l) => l.key === field);
  if (life) return life.id;
  if (field === "signing_alg") return "app-signing-alg";
  if (within(field, "grant_types")) return "app-grant-types";
  if (field === "first_party") return "app-first-party";
  return undefined;
}

export function AppSettings({ api, app, readOnly, onApp }: { api: Api; app: Application; readOnly: boolean; onApp: (a: Application) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(app));
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useRef<HTMLFormElement>(null);
  const saved = JSON.stringify(draftOf(app));
  useEffect(() => setDraft(draftOf(app)), [saved]);
  const isPublic = app.type === "public";

  function changes(): { body: Record<string, unknown>; lines: Record<string, number[]>; grants: string[] } {
    const body: Record<string, unknown> = {};
    const lines: Record<string, number[]> = {};
    if (draft.name.trim() !== app.name) {
      if (!draft.name.trim()) throw refuse("name", "give the application a name");
      body.name = draft.name.trim();
    }
    for (const { key } of LISTS) {
      const typed = splitLines(draft.lists[key]);
      lines[key] = typed.lines;
      if (!sameList(typed.items, app[key])) body[key] = typed.items;
    }
    // In the API's order, so `grant_types[i]` names the i-th checked box.
    const grants = GRANT_TYPES.filter((g) => draft.grants.includes(g));
    if (!sameList([...grants].sort(), [...app.grant_types].sort())) body.grant_types = grants;
    if (draft.signing_alg !== app.signing_alg) body.signing_alg = draft.signing_alg;
    for (const { key, max } of LIFETIMES) {
      const text = draft.lifetimes[key].trim();
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < 60 || n > max) throw refuse(key, `must be a whole number of seconds between 60 and ${max}`);
      if (n !== app[key]) body[key] = n;
    }
    if (draft.first_party !== app.first_party) body.first_party = draft.first_party;
    return { body, lines, grants };
  }

  async function submit(e: Event) {
    e.preventDefault();
    setBad(undefined);
    setNotice(null);
    let lines: Record<string, number[]> = {};
    let grants: string[] = [];
    try {
      const c = changes();
      lines = c.lines;
      grants = c.grants;
      if (Object.keys(c.body).length === 0) {
        setNotice(done("Nothing to save: no setting changed."));
        return;
      }
      setBusy(true);
      onApp(await api.patch<Application>(`/applications/${enc(app.client_id)}`, c.body));
      setNotice(done(`Saved ${Object.keys(c.body).join(", ")}. New logins and tokens use them at once.`));
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      const item = itemOf(field);
      setNotice(failedOnLine("Not saved", err, item ? lineOf(err, item[0], lines[item[0]] ?? []) : undefined));
      const target = item?.[0] === "grant_types" && grants[item[1]] ? `app-grant-${grants[item[1]]}` : elementOf(field);
      if (target) form.current?.querySelector<HTMLElement>(`#${target}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  const invalid = (key: string) => (within(bad, key) ? "true" : undefined);
  return (
    <section aria-labelledby="app-settings-title">
      <h2 id="app-settings-title">Settings</h2>
      <form id="app-settings-form" ref={form} noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <fieldset class="plain" disabled={readOnly}>
          <legend class="sr-only">Settings of {app.name}</legend>
          <div class="field-grid">
            <label for="app-name">Name</label>
            <input id="app-name" autocomplete="off" value={draft.name} aria-invalid={invalid("name")} onInput={(e) => setDraft({ ...draft, name: e.currentTarget.value })} />
            {LISTS.map((l) => (
              <Fragment key={l.key}>
                <label for={l.id}>{l.label}</label>
                <div>
                  <textarea
                    id={l.id}
                    class="lines"
                    rows={Math.max(2, draft.lists[l.key].split("\n").length + 1)}
                    spellcheck={false}
                    autocomplete="off"
                    value={draft.lists[l.key]}
                    aria-invalid={invalid(l.key)}
                    aria-describedby={`${l.id}-help`}
                    onInput={(e) => setDraft({ ...draft, lists: { ...draft.lists, [l.key]: e.currentTarget.value } })}
                  />
                  <p id={`${l.id}-help`} class="muted hint">
                    One a line. {l.hint}
                  </p>
                </div>
              </Fragment>
            ))}
          </div>
          <fieldset id="app-grant-types" class="grant-types" aria-invalid={invalid("grant_types")} tabIndex={-1}>
            <legend>Allowed grant types</legend>
            {GRANT_TYPES.map((g) => {
              const refused = isPublic && CONFIDENTIAL_ONLY.includes(g);
              return (
                <label key={g} class="check">
                  <input
                    type="checkbox"
                    id={`app-grant-${g}`}
                    name="grant_types"
                    value={g}
                    checked={draft.grants.includes(g)}
                    // A public client may keep one it has (the API refuses adding it), so it can be unchecked.
                    disabled={refused && !draft.grants.includes(g)}
                    onChange={(e) =>
                      setDraft({
                        ...draft,
                        grants: e.currentTarget.checked ? [...draft.grants, g] : draft.grants.filter((x) => x !== g),
                      })
                    }
                  />
                  <span>
                    <code>{g}</code>: {GRANT_WORDS[g]}
                    {refused && <span class="muted"> (confidential applications only)</span>}
                  </span>
                </label>
              );
            })}
          </fieldset>
          <div class="field-grid">
            <label for="app-signing-alg">Signing algorithm</label>
            <div>
              <select
                id="app-signing-alg"
                value={draft.signing_alg}
                aria-invalid={invalid("signing_alg")}
                aria-describedby="app-signing-alg-help"
                onChange={(e) => setDraft({ ...draft, signing_alg: e.currentTarget.value })}
              >
                {SIGNING_ALGS.map((a) => (
                  <option key={a} value={a}>
                    {a}
                  </option>
                ))}
              </select>
              <p id="app-signing-alg-help" class="muted hint">
                Of the ID and access tokens issued to this application; the tenant's keys of each are on the{" "}
                <a href="#/keys">signing keys</a> page.
              </p>
            </div>
            {LIFETIMES.map((l) => {
              const n = Number(draft.lifetimes[l.key]);
              return (
                <Fragment key={l.key}>
                  <label for={l.id}>{l.label}</label>
                  <div>
                    <input
                      id={l.id}
                      type="number"
                      inputMode="numeric"
                      min={60}
                      max={l.max}
                      step={1}
                      value={draft.lifetimes[l.key]}
                      aria-invalid={invalid(l.key)}
                      aria-describedby={`${l.id}-help`}
                      onInput={(e) => setDraft({ ...draft, lifetimes: { ...draft.lifetimes, [l.key]: e.currentTarget.value } })}
                    />{" "}
                    seconds
                    <p id={`${l.id}-help`} class="muted hint">
                      {Number.isInteger(n) && n > 0 ? `${span(n)}. ` : ""}60 to {l.max.toLocaleString("en-US")} seconds.
                    </p>
                  </div>
                </Fragment>
              );
            })}
            <span />
            <label class="check">
              <input
                id="app-first-party"
                type="checkbox"
                checked={draft.first_party}
                onChange={(e) => setDraft({ ...draft, first_party: e.currentTarget.checked })}
              />
              <span>First party: users are not asked to consent to its scopes</span>
            </label>
          </div>
          {!readOnly && (
            <div class="actions">
              <button id="app-save" type="submit" class="primary" disabled={busy}>
                {busy ? "Saving…" : "Save settings"}
              </button>
            </div>
          )}
        </fieldset>
      </form>
      <NoticeLine id="app-notice" notice={notice} />
    </section>
  );
}
