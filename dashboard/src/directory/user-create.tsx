// Creating a user: an email, optionally a password and a name. The rest (profile, roles,
// metadata) is on the user's page, where every field can be changed later anyway.

import { useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed } from "../hooks/notice";
import { orAbsent, refuse, within } from "./fields";
import { CreatedNotice, GridSubmit } from "./form-parts";
import { useFormState } from "./form-state";
import type { User } from "./types";

export function CreateUser({ api, onCreated }: { api: Api; onCreated: (u: User) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();
  const [created, setCreated] = useState<User | null>(null);

  function submit(e: Event) {
    e.preventDefault();
    setCreated(null);
    attempt(
      async () => {
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
      },
      (err) => failed("Not created", err),
      (field) => {
        const input = ["email", "password", "name"].find((f) => within(field, f));
        return input && `user-create-${input}`;
      },
    );
  }

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
        <GridSubmit id="user-create-submit" busy={busy} busyText="Creating…" text="Create user" />
      </form>
      <CreatedNotice id="user-create-notice" notice={notice} linkId="user-create-link" href={created ? `#/users/${enc(created.id)}` : undefined}>
        Open {created?.email}
      </CreatedNotice>
    </section>
  );
}
