// The roles page: the tenant's roles, paged on the server, each with its permissions; one at a
// time opens in an editor below the list (description and permissions; the name is fixed once
// created, since assignments refer to it); creating one. The administrator role is built in
// and shown read-only.

import { useRef, useState } from "preact/hooks";
import type { Api } from "../api";
import { ListBody, ListFooter } from "./list-parts";
import { usePaged } from "./paged";
import { ADMIN_ROLE, BuiltInBadge } from "./built-in";
import { RoleCreate, RoleEditor } from "./role-editor";
import type { Role } from "./types";

export function RolesPage({ api }: { api: Api }) {
  const [generation, setGeneration] = useState(0);
  const roles = usePaged<Role>(api, "/roles", "", generation);
  const [open, setOpen] = useState<Role | null>(null);
  const opener = useRef<HTMLElement | null>(null);

  // A closed editor gives focus back to the button that opened it.
  function close() {
    setOpen(null);
    opener.current?.focus();
  }

  return (
    <section aria-labelledby="roles-title" class="directory-page">
      <h1 id="roles-title" tabIndex={-1}>
        Roles
      </h1>
      <p class="muted">
        Named sets of permissions. Users hold roles tenant-wide (on their page) or in an organization (on its page); tokens carry
        them through hooks and JWT templates. Holders of <code>{ADMIN_ROLE}</code> administer this dashboard.
      </p>
      <ListBody paged={roles} loadingText="Loading the roles…" emptyId="roles-empty" emptyText="No roles yet: create one below.">
        <div class="table-scroll" role="region" aria-labelledby="roles-title" tabIndex={0}>
          <table id="roles-list" class="data">
            <caption class="sr-only">The tenant's roles</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Permissions</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(roles.items ?? []).map((r) => {
                const builtIn = r.name === ADMIN_ROLE;
                return (
                  <tr key={r.id} data-role-id={r.id} data-role-name={r.name} data-built-in={builtIn ? "true" : undefined}>
                    <th scope="row">
                      <code>{r.name}</code> {builtIn && <BuiltInBadge />}
                    </th>
                    <td>{r.description ?? <span class="muted">none</span>}</td>
                    <td class="role-permissions">
                      {r.permissions.length ? r.permissions.map((p) => <code class="chip">{p}</code>) : <span class="muted">none</span>}
                    </td>
                    <td>
                      <button
                        class="role-edit"
                        data-role-id={r.id}
                        aria-expanded={open?.id === r.id ? "true" : "false"}
                        aria-controls="role-editor"
                        aria-label={`${builtIn ? "View" : "Edit"} the role ${r.name}`}
                        onClick={(e) => {
                          opener.current = e.currentTarget;
                          setOpen(open?.id === r.id ? null : r);
                        }}
                      >
                        {builtIn ? "View" : "Edit"}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </ListBody>
      <ListFooter paged={roles} moreId="roles-more" moreText="more roles" />
      {open && (
        <RoleEditor
          key={open.id}
          api={api}
          role={open}
          onRole={(r) => {
            setOpen(r);
            roles.edit((all) => all.map((x) => (x.id === r.id ? r : x)));
          }}
          onDeleted={() => {
            roles.edit((all) => all.filter((x) => x.id !== open.id));
            setOpen(null);
            document.getElementById("roles-title")?.focus();
          }}
          onClose={close}
        />
      )}
      <RoleCreate api={api} onCreated={() => setGeneration((g) => g + 1)} />
    </section>
  );
}
