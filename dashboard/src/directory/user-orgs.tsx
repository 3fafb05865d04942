// The organizations a user belongs to, paged on the server, with the user's roles in each
// (editable here as on the organization's page).

import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { ListBody, ListFooter } from "../list-parts";
import { type Paged, usePaged } from "../paged";
import { RoleChips } from "./role-chips";
import type { Membership, Role, User } from "./types";

export function UserOrgs({ api, user, roles }: { api: Api; user: User; roles: Paged<Role> }) {
  const memberships = usePaged<Membership>(api, `/users/${enc(user.id)}/organizations`);

  async function setRoles(m: Membership, held: string[]): Promise<string[]> {
    const updated = await api.put<Membership>(`/organizations/${enc(m.organization_id)}/members/${enc(user.id)}`, { roles: held });
    memberships.edit((all) => all.map((x) => (x.organization_id === m.organization_id ? updated : x)));
    return updated.roles;
  }

  return (
    <section aria-labelledby="user-orgs-title">
      <h2 id="user-orgs-title">Organizations</h2>
      <p class="muted">
        The organizations {user.email} belongs to, with their roles in each (roles are the tenant's; a membership holds its own
        set). Members are added and removed on the organization's page.
      </p>
      <ListBody paged={memberships} loadingText="Loading the organizations…" emptyId="user-orgs-empty" emptyText="No organization.">
        <table id="user-orgs-list" class="data">
          <caption class="sr-only">The organizations of {user.email}</caption>
          <thead>
            <tr>
              <th scope="col">Organization</th>
              <th scope="col">Roles in it</th>
              <th scope="col">Member since</th>
            </tr>
          </thead>
          <tbody>
            {(memberships.items ?? []).map((m) => {
              const name = m.organization_name;
              return (
                <tr key={m.organization_id} data-org-id={m.organization_id}>
                  <th scope="row">
                    <a class="org-link" href={`#/organizations/${enc(m.organization_id)}`}>
                      {name}
                    </a>
                    <br />
                    <code class="muted">{m.organization_id}</code>
                  </th>
                  <td>
                    <RoleChips
                      name="user-org-role"
                      byClass
                      held={m.roles}
                      roles={roles}
                      who={`${user.email} in ${name}`}
                      add={(r) => setRoles(m, [...m.roles, r])}
                      remove={(r) => setRoles(m, m.roles.filter((x) => x !== r))}
                    />
                  </td>
                  <td>
                    <time dateTime={m.created_at}>{when(m.created_at)}</time>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </ListBody>
      <ListFooter paged={memberships} moreId="user-orgs-more" moreText="more organizations" />
    </section>
  );
}
