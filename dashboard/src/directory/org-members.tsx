// An organization's members, paged on the server, with their roles in it; adding one by email
// (the API takes a user id, so the email is looked up first, exactly as the users page finds
// one) and removing one.

import { useRef, useState } from "preact/hooks";
import { type Api, ApiFailure, enc, type Page } from "../api";
import { when } from "../hooks/format";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { ListBody, ListFooter } from "../list-parts";
import { type Paged, usePaged } from "../paged";
import { Confirm } from "./confirm";
import { fieldOf, refuse, within } from "./fields";
import { RoleChips } from "./role-chips";
import type { Membership, Organization, Role, User } from "./types";

export function OrgMembers({ api, org, roles }: { api: Api; org: Organization; roles: Paged<Role> }) {
  // Bumped after an addition: the new member's place in the id order may be on any page.
  const [generation, setGeneration] = useState(0);
  const base = `/organizations/${enc(org.id)}/members`;
  const members = usePaged<Membership>(api, base, { generation });
  const orgName = org.display_name || org.name;

  async function setRoles(m: Membership, held: string[]): Promise<string[]> {
    const updated = await api.put<Membership>(`${base}/${enc(m.user_id)}`, { roles: held });
    members.edit((all) => all.map((x) => (x.user_id === m.user_id ? updated : x)));
    return updated.roles;
  }

  async function remove(m: Membership) {
    await api.delete(`${base}/${enc(m.user_id)}`);
    members.edit((all) => all.filter((x) => x.user_id !== m.user_id));
  }

  return (
    <section aria-labelledby="org-members-title">
      <h2 id="org-members-title">Members</h2>
      <p class="muted">
        Each member's roles here are their own to this organization (the tenant's roles, held only when logging in through{" "}
        {orgName}).
      </p>
      <ListBody paged={members} loadingText="Loading the members…" emptyId="org-members-empty" emptyText="No members yet: add one below.">
        <table id="org-members" class="data">
          <caption class="sr-only">Members of {orgName}</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Roles in {orgName}</th>
              <th scope="col">Member since</th>
              <th scope="col">
                <span class="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(members.items ?? []).map((m) => {
              const who = m.user_email;
              return (
                <tr key={m.user_id} data-user-id={m.user_id}>
                  <th scope="row">
                    <a class="user-link" href={`#/users/${enc(m.user_id)}`}>
                      {who}
                    </a>
                  </th>
                  <td>
                    <RoleChips
                      name="member-role"
                      byClass
                      held={m.roles}
                      roles={roles}
                      who={`${who} in ${orgName}`}
                      add={(r) => setRoles(m, [...m.roles, r])}
                      remove={(r) => setRoles(m, m.roles.filter((x) => x !== r))}
                    />
                  </td>
                  <td>
                    <time dateTime={m.created_at}>{when(m.created_at)}</time>
                  </td>
                  <td>
                    <Confirm
                      id="org-member-remove"
                      byClass
                      mild
                      start="Remove…"
                      startLabel={`Remove ${who ?? m.user_id} from ${orgName}`}
                      question={
                        <>
                          Remove <strong>{who ?? m.user_id}</strong> from {orgName}, with their roles in it?
                        </>
                      }
                      yes="Yes, remove"
                      failure="Not removed"
                      run={() => remove(m)}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </ListBody>
      <ListFooter paged={members} moreId="org-members-more" moreText="more members" />
      <AddMember api={api} org={org} roles={roles} onAdded={() => setGeneration((g) => g + 1)} />
    </section>
  );
}

function AddMember({ api, org, roles, onAdded }: { api: Api; org: Organization; roles: Paged<Role>; onAdded: () => void }) {
  const [address, setAddress] = useState("");
  const [role, setRole] = useState("");
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const input = useRef<HTMLInputElement>(null);

  async function submit(e: Event) {
    e.preventDefault();
    const wanted = address.trim();
    setBusy(true);
    setBad(undefined);
    setNotice(null);
    try {
      if (!wanted) throw refuse("email", "give the email of the user to add");
      const found = await api.get<Page<User>>(`/users?email=${enc(wanted)}`);
      const user = found.data[0];
      if (!user) throw refuse("email", `no user has the email ${wanted} (the match is exact)`);
      try {
        await api.post(`/organizations/${enc(org.id)}/members`, { user_id: user.id, roles: role ? [role] : [] });
      } catch (err) {
        // The API names the membership's key (`user_id`); the page says which user that is.
        if (err instanceof ApiFailure && err.status === 409) {
          throw new ApiFailure(409, err.code, `${err.message}: ${user.email} is already a member`, err.field);
        }
        throw err;
      }
      setAddress("");
      setRole("");
      setNotice(done(`Added ${user.email} to ${org.display_name || org.name}${role ? ` with the role ${role}` : ""}.`));
      onAdded();
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(failed("Not added", err));
      if (within(field, "email") || within(field, "user_id")) input.current?.focus();
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h3 id="org-member-add-title">Add a member</h3>
      <form id="org-member-add-form" class="inline-form" aria-labelledby="org-member-add-title" noValidate onSubmit={submit} onInput={() => setBad(undefined)}>
      <label>
        User's email{" "}
        <input
          id="org-member-email"
          ref={input}
          type="email"
          autocomplete="off"
          spellcheck={false}
          value={address}
          aria-invalid={within(bad, "email") || within(bad, "user_id") ? "true" : undefined}
          aria-describedby="org-member-add-notice"
          onInput={(e) => setAddress(e.currentTarget.value)}
        />
      </label>
      <label>
        Role{" "}
        <select id="org-member-role" value={role} aria-invalid={within(bad, "roles") ? "true" : undefined} onChange={(e) => setRole(e.currentTarget.value)}>
          <option value="">No role</option>
          {(roles.items ?? []).map((r) => (
            <option key={r.id} value={r.name}>
              {r.name}
            </option>
          ))}
        </select>
      </label>
      {roles.more && (
        <button id="org-member-roles-more" type="button" class="link" disabled={roles.loading} onClick={roles.loadMore}>
          More roles
        </button>
      )}
      <button id="org-member-add" type="submit" class="primary" disabled={busy}>
        {busy ? "Adding…" : "Add member"}
      </button>
      </form>
      <NoticeLine id="org-member-add-notice" notice={notice} />
    </>
  );
}
