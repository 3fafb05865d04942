// Registering an application: a name, its type and its redirect URIs; the rest has safe
// defaults (code and refresh grants, RS256, first party) and is on its page. A confidential
// application's secret is in the creation's answer only, so the page shows it there.

import { useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, type Notice, NoticeLine } from "../hooks/notice";
import { failedOnLine, fieldOf, lineOf, refuse, splitLines, within } from "./fields";
import { SecretOnce } from "./secret-once";
import type { ApplicationCreated } from "./types";

export function CreateApp({ api, onCreated }: { api: Api; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState<"confidential" | "public">("confidential");
  const [uris, setUris] = useState("");
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [created, setCreated] = useState<ApplicationCreated | null>(null);
  const form = useRef<HTMLFormElement>(null);

  async function submit(e: Event) {
    e.preventDefault();
    const redirects = splitLines(uris);
    setBusy(true);
    setBad(undefined);
    setNotice(null);
    setCreated(null);
    try {
      if (!name.trim()) throw refuse("name", "give the application a name");
      const app = await api.post<ApplicationCreated>("/applications", {
        name: name.trim(),
        type,
        redirect_uris: redirects.items,
      });
      setName("");
      setUris("");
      setCreated(app);
      setNotice(done(`Registered ${app.name} as ${app.client_id}.`));
      onCreated();
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failedOnLine("Not registered", err, lineOf(err, "redirect_uris", redirects.lines)));
      const target = within(field, "redirect_uris") ? "app-create-redirect-uris" : within(field, "type") ? "app-create-type" : "app-create-name";
      form.current?.querySelector<HTMLElement>(`#${target}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="app-create-title" class="create">
      <h2 id="app-create-title">Register an application</h2>
      <form id="app-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <label for="app-create-name">Name</label>
        <div>
          <input
            id="app-create-name"
            autocomplete="off"
            value={name}
            aria-invalid={within(bad, "name") ? "true" : undefined}
            aria-describedby="app-create-name-help"
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <p id="app-create-name-help" class="muted hint">
            Shown on the login page.
          </p>
        </div>
        <label for="app-create-type">Type</label>
        <div>
          <select
            id="app-create-type"
            value={type}
            aria-invalid={within(bad, "type") ? "true" : undefined}
            aria-describedby="app-create-type-help"
            onChange={(e) => setType(e.currentTarget.value as "confidential" | "public")}
          >
            <option value="confidential">Confidential (a server: has a secret)</option>
            <option value="public">Public (single-page or native app: no secret)</option>
          </select>
          <p id="app-create-type-help" class="muted hint">
            Fixed once registered. Public applications use PKCE and cannot have the client credentials or password grants.
          </p>
        </div>
        <label for="app-create-redirect-uris">Redirect URIs</label>
        <div>
          <textarea
            id="app-create-redirect-uris"
            class="lines"
            rows={3}
            spellcheck={false}
            autocomplete="off"
            value={uris}
            aria-invalid={within(bad, "redirect_uris") ? "true" : undefined}
            aria-describedby="app-create-redirect-uris-help"
            onInput={(e) => setUris(e.currentTarget.value)}
          />
          <p id="app-create-redirect-uris-help" class="muted hint">
            One a line, matched exactly: https, http on localhost, or a native app's reverse-DNS scheme. No wildcards.
          </p>
        </div>
        <div class="actions field-grid-actions">
          <button id="app-create-submit" type="submit" class="primary" disabled={busy}>
            {busy ? "Registering…" : "Register application"}
          </button>
        </div>
      </form>
      <NoticeLine id="app-create-notice" notice={notice}>
        {created && notice?.ok && (
          <a id="app-create-link" href={`#/applications/${enc(created.client_id)}`}>
            Open {created.name}
          </a>
        )}
      </NoticeLine>
      {created?.client_secret && (
        <SecretOnce id="app-created-secret" secret={created.client_secret} clientId={created.client_id} onDismiss={() => setCreated({ ...created, client_secret: undefined })} />
      )}
    </section>
  );
}
