// The users page: the tenant's users, paged on the server; finding them by the start of the
// email, or one by exact email or external id (the filters the API has); creating one.

import { type Api, enc } from "../api";
import { when } from "../hooks/format";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { FindForm, type Found, type FoundMemory, NOTHING_FOUND, useFound } from "./find-form";
import type { User } from "./types";
import { CreateUser } from "./user-create";

const remembered: FoundMemory = { found: NOTHING_FOUND };

const FIND_BY = [
  // First: what a search box is for ("ada" finds ada@example.com and adam@example.org).
  { by: "email_prefix", label: "Email starting with" },
  { by: "email", label: "Email", type: "email" as const },
  { by: "external_id", label: "External ID" },
];

function emptyText(f: Found): string {
  switch (f.by) {
    case "":
      return "No users yet: create one below.";
    case "email_prefix":
      return `No user's email starts with ${f.value}.`;
    case "email":
      return "No user has exactly that email.";
    default:
      return "No user has exactly that external ID.";
  }
}

function describe(f: Found): string {
  switch (f.by) {
    case "":
      return "Showing every user.";
    case "email_prefix":
      return `Showing the users whose email starts with ${f.value}.`;
    case "email":
      return `Showing the user whose email is ${f.value}.`;
    default:
      return `Showing the user whose external ID is ${f.value}.`;
  }
}

export function UsersPage({ api }: { api: Api }) {
  const { found, query, generation, apply, restart } = useFound(remembered);
  const users = usePaged<User>(api, "/users", { query, generation });

  return (
    <section aria-labelledby="users-title" class="directory-page">
      <h1 id="users-title">Users</h1>
      <p class="muted">
        The people who log in to the tenant's applications. Open one to edit the profile, block them, end their sessions, give
        roles, see their organizations and edit their metadata.
      </p>
      <FindForm prefix="users" label="Find a user" options={FIND_BY} applied={found} onApply={apply} describe={describe}>
        By the start of the email address (any case: "ada" finds ada@example.com and adam@example.org), the whole
        address, or the whole external ID. There is no search by name.
      </FindForm>
      <ListBody
        paged={users}
        loadingText="Loading the users…"
        emptyId="users-empty"
        emptyText={emptyText(found)}
      >
        <UserTable users={users.items ?? []} />
      </ListBody>
      <ListFooter paged={users} moreId="users-more" moreText="more users" />
      <CreateUser api={api} onCreated={restart} />
    </section>
  );
}

function UserTable({ users }: { users: User[] }) {
  return (
    <div class="table-scroll" role="region" aria-labelledby="users-title" tabIndex={0}>
      <table id="users-list" class="data">
        <caption class="sr-only">The tenant's users, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Roles</th>
            <th scope="col">External ID</th>
            <th scope="col">Last login</th>
            <th scope="col">ID</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-user-id={u.id} data-blocked={u.blocked ? "true" : "false"}>
              <th scope="row">
                <a class="user-link" href={`#/users/${enc(u.id)}`}>
                  {u.email}
                </a>
              </th>
              <td>{u.name ?? <span class="muted">none</span>}</td>
              <td class="user-status">{u.blocked ? <strong class="status-badge failed">Blocked</strong> : "Active"}</td>
              <td class="user-roles">{u.roles.length ? u.roles.join(", ") : <span class="muted">none</span>}</td>
              <td>{u.external_id ? <code>{u.external_id}</code> : <span class="muted">none</span>}</td>
              <td>{u.last_login ? <time dateTime={u.last_login}>{when(u.last_login)}</time> : <span class="muted">never</span>}</td>
              <td>
                <code>{u.id}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
