// The roles page: the tenant's roles, paged on the server and found by the start of their name,
// each with its permissions; one at a time opens in an editor below the list (description and
// permissions; the name is fixed once created, since assignments refer to it); creating one. The
// administrator role is built in and shown read-only.

import type { Api } from "../api";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { ADMIN_ROLE, BuiltInBadge } from "./built-in";
import { BY_NAME_PREFIX, describeByName, FindForm, type FoundMemory, NOTHING_FOUND, useFound } from "./find-form";
import { EditButton, useOpenedEditor } from "./opened-editor";
import { RoleCreate, RoleEditor } from "./role-editor";
import type { Role } from "./types";

const remembered: FoundMemory = { found: NOTHING_FOUND };

const FIND_BY = [BY_NAME_PREFIX];

const describe = describeByName("roles", "role");

export function RolesPage({ api }: { api: Api }) {
  const { found, query, generation, apply, restart } = useFound(remembered);
  const roles = usePaged<Role>(api, "/roles", { query, generation });
  const editor = useOpenedEditor<Role>(roles, "roles-title");
  const open = editor.open;

  return (
    <section aria-labelledby="roles-title" class="directory-page">
      <h1 id="roles-title" tabIndex={-1}>
        Roles
      </h1>
      <p class="muted">
        Named sets of permissions. Users hold roles tenant-wide (on their page) or in an organization (on its page); tokens carry
        them through hooks and JWT templates. Holders of <code>{ADMIN_ROLE}</code> administer this dashboard.
      </p>
      <FindForm prefix="roles" label="Find a role" options={FIND_BY} applied={found} onApply={apply} describe={describe}>
        By the start of the name, letters A to Z in any case ("edit" finds editor).
      </FindForm>
      <ListBody paged={roles} loadingText="Loading the roles…" emptyId="roles-empty" emptyText={found.by ? `No role's name starts with ${found.value}.` : "No roles yet: create one below."}>
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
                      <EditButton prefix="role" row={r} what={`the role ${r.name}`} builtIn={builtIn} editor={editor} />
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
          onRole={editor.saved}
          onDeleted={editor.deleted}
          onClose={editor.close}
        />
      )}
      <RoleCreate api={api} onCreated={restart} />
    </section>
  );
}
