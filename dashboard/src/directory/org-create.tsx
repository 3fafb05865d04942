// Creating an organization: a unique name, optionally a display name and an external ID.
// Metadata and members are on its page.

import { Fragment } from "preact";
import { useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { fieldOf, orAbsent, refuse, within } from "./fields";
import type { Organization } from "./types";

const FIELDS = [
  { key: "name", id: "org-create-name", label: "Name", hint: "Unique in the tenant, 1 to 255 characters; logins may name it." },
  { key: "display_name", id: "org-create-display-name", label: "Display name", hint: "Shown to people (optional)." },
  { key: "external_id", id: "org-create-external-id", label: "External ID", hint: "Your own systems' id (optional, unique)." },
] as const;

type Key = (typeof FIELDS)[number]["key"];
const EMPTY: Record<Key, string> = { name: "", display_name: "", external_id: "" };

export function CreateOrg({ api, onCreated }: { api: Api; onCreated: (o: Organization) => void }) {
  const [draft, setDraft] = useState(EMPTY);
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [created, setCreated] = useState<Organization | null>(null);
  const form = useRef<HTMLFormElement>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    setCreated(null);
    setBad(undefined);
    try {
      if (!draft.name.trim()) throw refuse("name", "give the organization a name");
      const org = await api.post<Organization>("/organizations", {
        name: draft.name.trim(),
        display_name: orAbsent(draft.display_name),
        external_id: orAbsent(draft.external_id),
      });
      setDraft(EMPTY);
      setCreated(org);
      setNotice(done(`Created ${org.name}.`));
      onCreated(org);
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failed("Not created", err));
      const hit = FIELDS.find((f) => within(field, f.key));
      if (hit) form.current?.querySelector<HTMLInputElement>(`#${hit.id}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="org-create-title" class="create">
      <h2 id="org-create-title">Create an organization</h2>
      <form id="org-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        {FIELDS.map((f) => (
          <Fragment key={f.key}>
            <label for={f.id}>{f.label}</label>
            <div>
              <input
                id={f.id}
                autocomplete="off"
                spellcheck={false}
                value={draft[f.key]}
                aria-invalid={within(bad, f.key) ? "true" : undefined}
                aria-describedby={`${f.id}-help`}
                onInput={(e) => setDraft({ ...draft, [f.key]: e.currentTarget.value })}
              />
              <p id={`${f.id}-help`} class="muted hint">
                {f.hint}
              </p>
            </div>
          </Fragment>
        ))}
        <div class="actions field-grid-actions">
          <button id="org-create-submit" type="submit" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create organization"}
          </button>
        </div>
      </form>
      <NoticeLine id="org-create-notice" notice={notice}>
        {created && notice?.ok && (
          <a id="org-create-link" href={`#/organizations/${enc(created.id)}`}>
            Open {created.name}
          </a>
        )}
      </NoticeLine>
    </section>
  );
}
