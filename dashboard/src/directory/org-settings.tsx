// An organization's name, display name and external ID, saved with one PATCH of what changed
// (an emptied display name or external ID is sent as null, which clears it).

import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { fieldOf, orNull, within } from "./fields";
import type { Organization } from "./types";

const FIELDS = [
  { key: "name", id: "org-name", label: "Name", hint: "Unique in the tenant; logins may name the organization by it." },
  { key: "display_name", id: "org-display-name", label: "Display name", hint: "Shown to people; empty clears it." },
  { key: "external_id", id: "org-external-id", label: "External ID", hint: "Your own systems' id, unique; empty clears it." },
] as const;

type Key = (typeof FIELDS)[number]["key"];
const draftOf = (o: Organization): Record<Key, string> => ({
  name: o.name,
  display_name: o.display_name ?? "",
  external_id: o.external_id ?? "",
});

export function OrgSettings({ api, org, onOrg }: { api: Api; org: Organization; onOrg: (o: Organization) => void }) {
  const [draft, setDraft] = useState(() => draftOf(org));
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useRef<HTMLFormElement>(null);
  const saved = JSON.stringify(draftOf(org));
  useEffect(() => setDraft(draftOf(org)), [saved]);

  async function submit(e: Event) {
    e.preventDefault();
    const was = draftOf(org);
    const body: Record<string, unknown> = {};
    // The name cannot be cleared: an emptied one is sent as "" for the API to refuse by name.
    if (draft.name.trim() !== was.name) body.name = draft.name.trim();
    if (draft.display_name.trim() !== was.display_name) body.display_name = orNull(draft.display_name);
    if (draft.external_id.trim() !== was.external_id) body.external_id = orNull(draft.external_id);
    setBad(undefined);
    if (Object.keys(body).length === 0) {
      setNotice(done("Nothing to save: no field changed."));
      return;
    }
    setBusy(true);
    setNotice(null);
    try {
      onOrg(await api.patch<Organization>(`/organizations/${enc(org.id)}`, body));
      setNotice(done(`Saved ${Object.keys(body).join(", ")}.`));
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failed("Not saved", err));
      const hit = FIELDS.find((f) => within(field, f.key));
      if (hit) form.current?.querySelector<HTMLInputElement>(`#${hit.id}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="org-settings-title">
      <h2 id="org-settings-title">Settings</h2>
      <form id="org-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
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
          <button id="org-save" type="submit" class="primary" disabled={busy}>
            {busy ? "Saving…" : "Save settings"}
          </button>
        </div>
      </form>
      <NoticeLine id="org-notice" notice={notice} />
    </section>
  );
}
