// One role's description and permissions (typed one a line, replacing the set as the API
// does), its deletion, and the form that creates a role.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, NoticeLine } from "../hooks/notice";
import { ADMIN_ROLE, BuiltInNote } from "./built-in";
import { Confirm } from "./confirm";
import { failedOnLine, lineOf, orAbsent, orNull, refuse, sameList, splitLines, within } from "./fields";
import { EditorActions, GridSubmit } from "./form-parts";
import { useFormState } from "./form-state";
import type { Role } from "./types";

const PERMISSIONS_HINT = "One a line, printable ASCII without spaces, such as read:reports; at most 500.";

export function RoleEditor({
  api,
  role,
  onRole,
  onDeleted,
  onClose,
}: {
  api: Api;
  role: Role;
  onRole: (r: Role) => void;
  onDeleted: () => void;
  onClose: () => void;
}) {
  const builtIn = role.name === ADMIN_ROLE;
  const [description, setDescription] = useState(role.description ?? "");
  const [permissions, setPermissions] = useState(role.permissions.join("\n"));
  const { setBad, busy, notice, setNotice, attempt, invalid } = useFormState();
  const heading = useRef<HTMLHeadingElement>(null);

  // Opening the editor takes the reader to it.
  useEffect(() => heading.current?.focus(), []);

  function submit(e: Event) {
    e.preventDefault();
    const typed = splitLines(permissions);
    const body: Record<string, unknown> = {};
    if (description.trim() !== (role.description ?? "")) body.description = orNull(description);
    if (!sameList(typed.items, role.permissions)) body.permissions = typed.items;
    setBad(undefined);
    if (Object.keys(body).length === 0) {
      setNotice(done("Nothing to save: nothing changed."));
      return;
    }
    attempt(
      async () => {
        const r = await api.patch<Role>(`/roles/${enc(role.id)}`, body);
        onRole(r);
        setPermissions(r.permissions.join("\n"));
        setNotice(done(`Saved ${Object.keys(body).join(" and ")}. Tokens issued from now on carry them.`));
      },
      (err) => failedOnLine("Not saved", err, lineOf(err, "permissions", typed.lines)),
    );
  }

  return (
    <section id="role-editor" aria-labelledby="role-editor-title" class="editor-panel" data-role-id={role.id}>
      <h2 id="role-editor-title" ref={heading} tabIndex={-1}>
        Role <code>{role.name}</code>
      </h2>
      {builtIn && (
        <BuiltInNote id="role-built-in">
          Its holders administer this dashboard: give it to or take it from users on their page. It is shown read-only and cannot
          be deleted (the API answers 409).
        </BuiltInNote>
      )}
      <form id="role-form" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <fieldset class="plain" disabled={builtIn}>
          <legend class="sr-only">The role {role.name}</legend>
          <div class="field-grid">
            <label for="role-description">Description</label>
            <input
              id="role-description"
              autocomplete="off"
              value={description}
              aria-invalid={invalid("description")}
              onInput={(e) => setDescription(e.currentTarget.value)}
            />
            <label for="role-permissions">Permissions</label>
            <div>
              <textarea
                id="role-permissions"
                class="lines"
                rows={Math.max(3, permissions.split("\n").length + 1)}
                spellcheck={false}
                autocomplete="off"
                value={permissions}
                aria-invalid={invalid("permissions")}
                aria-describedby="role-permissions-help"
                onInput={(e) => setPermissions(e.currentTarget.value)}
              />
              <p id="role-permissions-help" class="muted hint">
                {PERMISSIONS_HINT} Saving replaces the whole set.
              </p>
            </div>
          </div>
        </fieldset>
        <EditorActions prefix="role" builtIn={builtIn} busy={busy} saveText="Save role" onClose={onClose} />
      </form>
      <NoticeLine id="role-notice" notice={notice} />
      {!builtIn && (
        <Confirm
          id="role-delete"
          start="Delete role…"
          question={
            <>
              Delete the role <code>{role.name}</code>? It is taken from every user and membership that holds it. This cannot be
              undone.
            </>
          }
          yes={`Yes, delete ${role.name}`}
          failure="Not deleted"
          run={async () => {
            await api.delete(`/roles/${enc(role.id)}`);
            onDeleted();
          }}
        />
      )}
    </section>
  );
}

export function RoleCreate({ api, onCreated }: { api: Api; onCreated: (r: Role) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [permissions, setPermissions] = useState("");
  const { setBad, busy, notice, setNotice, form, attempt, invalid } = useFormState();

  function submit(e: Event) {
    e.preventDefault();
    const typed = splitLines(permissions);
    attempt(
      async () => {
        if (!name.trim()) throw refuse("name", "give the role a name");
        const r = await api.post<Role>("/roles", { name: name.trim(), description: orAbsent(description), permissions: typed.items });
        setName("");
        setDescription("");
        setPermissions("");
        setNotice(done(`Created the role ${r.name}.`));
        onCreated(r);
      },
      (err) => failedOnLine("Not created", err, lineOf(err, "permissions", typed.lines)),
      (field) => {
        const target = ["name", "description", "permissions"].find((f) => within(field, f));
        return target && `role-create-${target}`;
      },
    );
  }

  return (
    <section aria-labelledby="role-create-title" class="create">
      <h2 id="role-create-title">Create a role</h2>
      <form id="role-create-form" ref={form} class="field-grid" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
        <label for="role-create-name">Name</label>
        <div>
          <input
            id="role-create-name"
            autocomplete="off"
            spellcheck={false}
            value={name}
            aria-invalid={invalid("name")}
            aria-describedby="role-create-name-help"
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <p id="role-create-name-help" class="muted hint">
            1 to 100 printable ASCII characters without spaces, unique; fixed once created.
          </p>
        </div>
        <label for="role-create-description">
          Description <span class="muted">(optional)</span>
        </label>
        <input
          id="role-create-description"
          autocomplete="off"
          value={description}
          aria-invalid={invalid("description")}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <label for="role-create-permissions">Permissions</label>
        <div>
          <textarea
            id="role-create-permissions"
            class="lines"
            rows={3}
            spellcheck={false}
            autocomplete="off"
            value={permissions}
            aria-invalid={invalid("permissions")}
            aria-describedby="role-create-permissions-help"
            onInput={(e) => setPermissions(e.currentTarget.value)}
          />
          <p id="role-create-permissions-help" class="muted hint">
            {PERMISSIONS_HINT}
          </p>
        </div>
        <GridSubmit id="role-create-submit" busy={busy} busyText="Creating…" text="Create role" />
      </form>
      <NoticeLine id="role-create-notice" notice={notice} />
    </section>
  );
}
