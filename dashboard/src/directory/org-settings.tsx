// An organization's name, display name and external ID, saved with one PATCH of what changed
// (an emptied display name or external ID is sent as null, which clears it).

import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, NoticeLine } from "../hooks/notice";
import { orNull, within } from "./fields";
import { GridSubmit, TextFields } from "./form-parts";
import { useFormState } from "./form-state";
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
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();
  const saved = JSON.stringify(draftOf(org));
  useEffect(() => setDraft(draftOf(org)), [saved]);

  function submit(e: Event) {
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
    attempt(
      async () => {
        onOrg(await api.patch<Organization>(`/organizations/${enc(org.id)}`, body));
        setNotice(done(`Saved ${Object.keys(body).join(", ")}.`));
      },
      (err) => failed("Not saved", err),
      (field) => FIELDS.find((f) => within(field, f.key))?.id,
    );
  }

  return (
    <section aria-labelledby="org-settings-title">
      <h2 id="org-settings-title">Settings</h2>
      <form id="org-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <TextFields fields={FIELDS} draft={draft} invalid={invalid} onInput={(key, value) => setDraft({ ...draft, [key]: value })} />
        <GridSubmit id="org-save" busy={busy} busyText="Saving…" text="Save settings" />
      </form>
      <NoticeLine id="org-notice" notice={notice} />
    </section>
  );
}
