// Creating an organization: a unique name, optionally a display name and an external ID.
// Metadata and members are on its page.

import { useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed } from "../hooks/notice";
import { orAbsent, refuse, within } from "./fields";
import { CreatedNotice, GridSubmit, TextFields } from "./form-parts";
import { useFormState } from "./form-state";
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
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();
  const [created, setCreated] = useState<Organization | null>(null);

  function submit(e: Event) {
    e.preventDefault();
    setCreated(null);
    attempt(
      async () => {
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
      },
      (err) => failed("Not created", err),
      (field) => FIELDS.find((f) => within(field, f.key))?.id,
    );
  }

  return (
    <section aria-labelledby="org-create-title" class="create">
      <h2 id="org-create-title">Create an organization</h2>
      <form id="org-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <TextFields fields={FIELDS} draft={draft} invalid={invalid} onInput={(key, value) => setDraft({ ...draft, [key]: value })} />
        <GridSubmit id="org-create-submit" busy={busy} busyText="Creating…" text="Create organization" />
      </form>
      <CreatedNotice id="org-create-notice" notice={notice} linkId="org-create-link" href={created ? `#/organizations/${enc(created.id)}` : undefined}>
        Open {created?.name}
      </CreatedNotice>
    </section>
  );
}
