// One user's page: profile, sign-in and sessions, tenant roles, organizations, both metadata
// objects, and deletion. Every change answers the user (or the part it changed), which
// replaces the page's copy, so what is shown is what the server holds.

import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { CHOICES_PAGE_SIZE, usePaged } from "../paged";
import { Failure } from "../ui";
import { AuditLink } from "./audit";
import { ADMIN_ROLE } from "./built-in";
import { Confirm } from "./confirm";
import { MetadataEditor } from "./metadata-editor";
import { RoleChips } from "./role-chips";
import type { Role, User } from "./types";
import { UserAccess } from "./user-access";
import { UserOrgs } from "./user-orgs";
import { UserProfile } from "./user-profile";

export function UserPage({ api, id }: { api: Api; id: string }) {
  const [user, setUser] = useState<User | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const roles = usePaged<Role>(api, "/roles", { limit: CHOICES_PAGE_SIZE });

  useEffect(() => {
    let gone = false;
    setUser(null);
    setFailure(null);
    api.get<User>(`/users/${enc(id)}`).then(
      (u) => !gone && setUser(u),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api, id]);

  if (!user) {
    return (
      <section aria-labelledby="user-title">
        <p class="crumbs">
          <a href="#/users">All users</a>
        </p>
        <h1 id="user-title">User</h1>
        {failure ? <Failure error={failure} /> : <p role="status">Loading the user…</p>}
      </section>
    );
  }

  const base = `/users/${enc(user.id)}`;
  // Each part answers only what it changed: merged into the latest copy, not the one rendered.
  const patch = (part: Partial<User>) => setUser((old) => (old ? { ...old, ...part } : old));

  async function changeRoles(call: () => Promise<{ roles: string[] }>): Promise<string[]> {
    const r = await call();
    patch({ roles: r.roles });
    return r.roles;
  }

  return (
    <section key={user.id} aria-labelledby="user-title" class="directory-page user-page" data-user-id={user.id}>
      <p class="crumbs">
        <a href="#/users">All users</a>
      </p>
      <h1 id="user-title">{user.email}</h1>
      <p class="muted">
        <code id="user-id">{user.id}</code>, created <time dateTime={user.created_at}>{when(user.created_at)}</time>;{" "}
        <span id="user-last-login">
          {user.last_login ? (
            <>
              last login <time dateTime={user.last_login}>{when(user.last_login)}</time> ({user.logins_count} in all)
            </>
          ) : (
            "never logged in"
          )}
        </span>
        . <AuditLink resourceId={user.id}>Changes in the audit log</AuditLink>
      </p>
      <UserProfile api={api} user={user} onUser={setUser} />
      <UserAccess api={api} user={user} onUser={setUser} />
      <section aria-labelledby="user-roles-title">
        <h2 id="user-roles-title">Roles</h2>
        <p class="muted">
          Tenant-wide roles; their permissions are on the <a href="#/roles">roles page</a>. Holding <code>{ADMIN_ROLE}</code>{" "}
          makes the user an administrator of this dashboard.
        </p>
        <RoleChips
          name="user-role"
          held={user.roles}
          roles={roles}
          who={user.email}
          offerMore
          add={(r) => changeRoles(() => api.post(`${base}/roles`, { roles: [r] }))}
          remove={(r) => changeRoles(() => api.call("DELETE", `${base}/roles/${enc(r)}`))}
        />
        <Failure error={roles.failure} />
      </section>
      <UserOrgs api={api} user={user} roles={roles} />
      <MetadataEditor
        api={api}
        path={`${base}/user_metadata`}
        route="/users/{id}/user_metadata"
        field="user_metadata"
        editorId="user-metadata-editor"
        prefix="user-metadata"
        title="User metadata"
        intro="Data the user may edit through your application (preferences, profile extras). Hooks and JWT templates read it."
        value={user.user_metadata}
        onSaved={(v) => patch({ user_metadata: v })}
      />
      <MetadataEditor
        api={api}
        path={`${base}/app_metadata`}
        route="/users/{id}/app_metadata"
        field="app_metadata"
        editorId="app-metadata-editor"
        prefix="app-metadata"
        title="App metadata"
        intro="Data only you and your hooks set (plan, entitlements): the user cannot change it, so applications may trust it."
        value={user.app_metadata}
        onSaved={(v) => patch({ app_metadata: v })}
      />
      <section aria-labelledby="user-delete-title" class="danger-zone">
        <h2 id="user-delete-title">Delete</h2>
        <p class="muted">Deleting a user removes their profile, roles, memberships, sessions and tokens.</p>
        <Confirm
          id="user-delete"
          start="Delete user…"
          question={
            <>
              Delete <strong>{user.email}</strong> with their roles, memberships, sessions and tokens? This cannot be undone.
            </>
          }
          yes={`Yes, delete ${user.email}`}
          failure="Not deleted"
          run={async () => {
            await api.delete(base);
            window.location.hash = "#/users";
          }}
        />
      </section>
    </section>
  );
}
