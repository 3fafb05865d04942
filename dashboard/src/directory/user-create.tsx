// Creating a user: an email, optionally a password and a name. The rest (profile, roles,
// metadata) is on the user's page, where every field can be changed later anyway.

import { useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { fieldOf, orAbsent, refuse, within } from "./fields";
import type { User } from "./types";

export function CreateUser({ api, onCreated }: { api: Api; onCreated: (u: User) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [created, setCreated] = useState<User | null>(null);
  const form = useRef<HTMLFormElement>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    setCreated(null);
    setBad(undefined);
    try {
      if (!email.trim()) throw refuse("email", "give the user's email address");
      const user = await api.post<User>("/users", {
        email: email.trim(),
        // Sent as typed: spaces can be part of a password.
        password: password === "" ? undefined : password,
        name: orAbsent(name),
      });
      setEmail("");
      setPassword("");
      setName("");
      setCreated(user);
      setNotice(
        done(
          `Created ${user.email}${user.has_password ? "" : " without a password: they cannot log in with one until it is set"}.`,
        ),
      );
      onCreated(user);
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failed("Not created", err));
      const input = ["email", "password", "name"].find((f) => within(field, f));
      if (input) form.current?.querySelector<HTMLInputElement>(`#user-create-${input}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  const invalid = (f: string) => (within(bad, f) ? "true" : undefined);
  return (
    <section aria-labelledby="user-create-title" class="create">
      <h2 id="user-create-title">Create a user</h2>
      <form id="user-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <label for="user-create-email">Email</label>
        <input
          id="user-create-email"
          type="email"
          autocomplete="off"
          spellcheck={false}
          required
          value={email}
          aria-invalid={invalid("email")}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="user-create-password">
          Password <span class="muted">(optional)</span>
        </label>
        <div>
          <input
            id="user-create-password"
            type="password"
            autocomplete="new-password"
            value={password}
            aria-invalid={invalid("password")}
            aria-describedby="user-create-password-help"
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <p id="user-create-password-help" class="muted hint">
            8 to 256 characters, stored as an argon2id hash. Without one, the user cannot log in with a password until it is set.
          </p>
        </div>
        <label for="user-create-name">
          Name <span class="muted">(optional)</span>
        </label>
        <input
          id="user-create-name"
          autocomplete="off"
          value={name}
          aria-invalid={invalid("name")}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <div class="actions field-grid-actions">
          <button id="user-create-submit" type="submit" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
      <NoticeLine id="user-create-notice" notice={notice}>
        {created && notice?.ok && (
          <a id="user-create-link" href={`#/users/${enc(created.id)}`}>
            Open {created.email}
          </a>
        )}
      </NoticeLine>
    </section>
  );
}
