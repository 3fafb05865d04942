// A set of held roles with a remove button each and a select to add one: a user's tenant-wide
// roles, or a member's roles in one organization. Both answer the resulting set, which the
// page shows in place of its own.

import { useId, useState } from "preact/hooks";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import type { Paged } from "../paged";
import { ADMIN_ROLE } from "./built-in";
import type { Role } from "./types";

export interface RoleChipsProps {
  /** Prefix of the parts: `{name}-list`, `-remove` (class, with `data-role`), `-select`, `-add`,
   * `-more`, `-notice`; ids, or classes when `byClass` (one per table row). */
  name: string;
  byClass?: boolean;
  held: string[];
  /** The tenant's roles listed so far (a page at a time). */
  roles: Paged<Role>;
  /** Whom the roles are for, in the controls' names: "ada@example.com in Globex". */
  who: string;
  add: (role: string) => Promise<string[]>;
  remove: (role: string) => Promise<string[]>;
  /** Offer "More roles" here (once per page, not per row). */
  offerMore?: boolean;
}

export function RoleChips({ name, byClass, held, roles, who, add, remove, offerMore }: RoleChipsProps) {
  const [choice, setChoice] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const uid = useId();
  const part = (p: string) => (byClass ? { class: `${name}-${p}` } : { id: `${name}-${p}` });
  const selectId = byClass ? `${name}-select-${uid}` : `${name}-select`;
  const offered = (roles.items ?? []).filter((r) => !held.includes(r.name));

  async function act(what: string, call: () => Promise<string[]>, said: (now: string[]) => string) {
    setBusy(true);
    setNotice(null);
    try {
      const now = await call();
      setNotice(done(said(now)));
    } catch (err) {
      setNotice(failed(what, err));
    } finally {
      setBusy(false);
    }
  }

  function submit(e: Event) {
    e.preventDefault();
    if (!choice) {
      setNotice({ ok: false, text: "Not added: roles: choose a role to add." });
      return;
    }
    const role = choice;
    act("Not added", () => add(role), () => {
      setChoice("");
      return `Gave ${who} the role ${role}.`;
    });
  }

  return (
    <div class="role-chips">
      {held.length === 0 ? (
        <p id={byClass ? undefined : `${name}-list`} class={`muted ${byClass ? `${name}-list` : ""}`.trim()}>
          No roles.
        </p>
      ) : (
        <ul id={byClass ? undefined : `${name}-list`} class={`chips ${byClass ? `${name}-list` : ""}`.trim()}>
          {held.map((r) => (
            <li key={r} data-role={r}>
              <code>{r}</code>
              {r === ADMIN_ROLE && <span class="muted"> (administrator)</span>}{" "}
              <button
                type="button"
                class={`${name}-remove link`}
                data-role={r}
                aria-label={`Remove the role ${r} from ${who}`}
                disabled={busy}
                onClick={() => act("Not removed", () => remove(r), () => `Took the role ${r} from ${who}.`)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={submit}>
        <label for={selectId} class="sr-only">
          Role to give {who}
        </label>
        <select id={selectId} class={byClass ? `${name}-select` : undefined} value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
          <option value="">{roles.loading && !roles.items?.length ? "Loading roles…" : "Add a role…"}</option>
          {offered.map((r) => (
            <option key={r.id} value={r.name}>
              {r.name}
            </option>
          ))}
        </select>
        <button type="submit" {...part("add")} disabled={busy || !choice} aria-label={`Add the chosen role to ${who}`}>
          Add
        </button>
        {offerMore && roles.more && (
          <button type="button" id={`${name}-more`} class="link" disabled={roles.loading} onClick={roles.loadMore}>
            More roles
          </button>
        )}
      </form>
      {byClass ? (
        <div class={`${name}-notice`}>
          <NoticeLine id={`${name}-notice-${uid}`} notice={notice} />
        </div>
      ) : (
        <NoticeLine id={`${name}-notice`} notice={notice} />
      )}
    </div>
  );
}
