// A user's profile fields and external ID, saved with one PATCH of what changed: an emptied
// field is sent as null, which clears it; a field left alone is not sent, so a change made
// meanwhile elsewhere to another field survives.

import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, NoticeLine } from "../hooks/notice";
import { orNull } from "./fields";
import { GridSubmit, TextFields } from "./form-parts";
import { useFormState } from "./form-state";
import type { User } from "./types";

/** Input ids: `user-email`, `user-email-verified`, `user-name`, `user-given-name`, … */
const inputId = (key: string) => `user-${key.replace(/_/g, "-")}`;

const TEXT_FIELDS = (
  [
    { key: "name", label: "Name", hint: "" },
    { key: "given_name", label: "Given name", hint: "" },
    { key: "family_name", label: "Family name", hint: "" },
    { key: "nickname", label: "Nickname", hint: "" },
    { key: "picture", label: "Picture URL", hint: "An http(s) URL.", inputMode: "url" },
    { key: "external_id", label: "External ID", hint: "Your own systems' id for the user: up to 128 characters, unique in the tenant." },
  ] as const
).map((f) => ({ ...f, id: inputId(f.key), type: "text" as const }));

type TextKey = (typeof TEXT_FIELDS)[number]["key"];
type Draft = Record<TextKey, string> & { email: string; email_verified: boolean };

const draftOf = (u: User): Draft => ({
  email: u.email,
  email_verified: u.email_verified,
  name: u.name ?? "",
  given_name: u.given_name ?? "",
  family_name: u.family_name ?? "",
  nickname: u.nickname ?? "",
  picture: u.picture ?? "",
  external_id: u.external_id ?? "",
});

export function UserProfile({ api, user, onUser }: { api: Api; user: User; onUser: (u: User) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(user));
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();

  // A save elsewhere on the page answers the whole user: the form follows the saved values.
  const saved = JSON.stringify(draftOf(user));
  useEffect(() => setDraft(draftOf(user)), [saved]);

  function changes(): Record<string, unknown> {
    const was = draftOf(user);
    const out: Record<string, unknown> = {};
    if (draft.email.trim() !== was.email) out.email = draft.email.trim();
    if (draft.email_verified !== was.email_verified) out.email_verified = draft.email_verified;
    for (const { key } of TEXT_FIELDS) {
      if (draft[key].trim() !== was[key]) out[key] = orNull(draft[key]);
    }
    return out;
  }

  function submit(e: Event) {
    e.preventDefault();
    const body = changes();
    setBad(undefined);
    if (Object.keys(body).length === 0) {
      setNotice(done("Nothing to save: no field changed."));
      return;
    }
    attempt(
      async () => {
        const u = await api.patch<User>(`/users/${enc(user.id)}`, body);
        onUser(u);
        setNotice(done(`Saved ${Object.keys(body).join(", ")}.`));
      },
      (err) => failed("Not saved", err),
      (field) => (field ? inputId(field) : undefined),
    );
  }

  return (
    <section aria-labelledby="user-profile-title">
      <h2 id="user-profile-title">Profile</h2>
      <p class="muted">An emptied field is cleared. The email must stay unique in the tenant (any case).</p>
      <form id="user-profile-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <label for="user-email">Email</label>
        <input
          id="user-email"
          type="email"
          autocomplete="off"
          spellcheck={false}
          value={draft.email}
          aria-invalid={invalid("email")}
          onInput={(e) => setDraft({ ...draft, email: e.currentTarget.value })}
        />
        <span />
        <label class="check">
          <input
            id="user-email-verified"
            type="checkbox"
            checked={draft.email_verified}
            onChange={(e) => setDraft({ ...draft, email_verified: e.currentTarget.checked })}
          />
          <span>Email verified</span>
        </label>
        <TextFields fields={TEXT_FIELDS} draft={draft} invalid={invalid} onInput={(key, value) => setDraft({ ...draft, [key]: value })} />
        <GridSubmit id="user-profile-save" busy={busy} busyText="Saving…" text="Save profile" />
      </form>
      <NoticeLine id="user-profile-notice" notice={notice} />
    </section>
  );
}
