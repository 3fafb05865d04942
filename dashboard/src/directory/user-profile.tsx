// A user's profile fields and external ID, saved with one PATCH of what changed: an emptied
// field is sent as null, which clears it; a field left alone is not sent, so a change made
// meanwhile elsewhere to another field survives.

import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { fieldOf, orNull, within } from "./fields";
import type { User } from "./types";

const TEXT_FIELDS = [
  { key: "name", label: "Name", hint: "" },
  { key: "given_name", label: "Given name", hint: "" },
  { key: "family_name", label: "Family name", hint: "" },
  { key: "nickname", label: "Nickname", hint: "" },
  { key: "picture", label: "Picture URL", hint: "An http(s) URL." },
  { key: "external_id", label: "External ID", hint: "Your own systems' id for the user: up to 128 characters, unique in the tenant." },
] as const;

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

/** Input ids: `user-email`, `user-email-verified`, `user-name`, `user-given-name`, … */
const inputId = (key: string) => `user-${key.replace(/_/g, "-")}`;

export function UserProfile({ api, user, onUser }: { api: Api; user: User; onUser: (u: User) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(user));
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useRef<HTMLFormElement>(null);

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

  async function submit(e: Event) {
    e.preventDefault();
    const body = changes();
    setBad(undefined);
    if (Object.keys(body).length === 0) {
      setNotice(done("Nothing to save: no field changed."));
      return;
    }
    setBusy(true);
    setNotice(null);
    try {
      const u = await api.patch<User>(`/users/${enc(user.id)}`, body);
      onUser(u);
      setNotice(done(`Saved ${Object.keys(body).join(", ")}.`));
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failed("Not saved", err));
      if (field) form.current?.querySelector<HTMLInputElement>(`#${inputId(field)}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  const invalid = (key: string) => (within(bad, key) ? "true" : undefined);
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
        {TEXT_FIELDS.map(({ key, label, hint }) => (
          <Fragment key={key}>
            <label for={inputId(key)}>{label}</label>
            <div>
              <input
                id={inputId(key)}
                type="text"
                inputMode={key === "picture" ? "url" : undefined}
                autocomplete="off"
                spellcheck={false}
                value={draft[key]}
                aria-invalid={invalid(key)}
                aria-describedby={hint ? `${inputId(key)}-help` : undefined}
                onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
              />
              {hint && (
                <p id={`${inputId(key)}-help`} class="muted hint">
                  {hint}
                </p>
              )}
            </div>
          </Fragment>
        ))}
        <div class="actions field-grid-actions">
          <button id="user-profile-save" type="submit" class="primary" disabled={busy}>
            {busy ? "Saving…" : "Save profile"}
          </button>
        </div>
      </form>
      <NoticeLine id="user-profile-notice" notice={notice} />
    </section>
  );
}
