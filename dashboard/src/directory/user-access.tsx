// Whether a user can log in, and their sessions: block and unblock, "End all sessions", a new
// password. Blocking, ending the sessions and a new password all end the user's sessions and
// revoke their refresh tokens and access grants (README, "Logging a user in"), which the page
// says before they happen.

import { useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";
import { Confirm } from "./confirm";
import { fieldOf, refuse, within } from "./fields";
import type { User } from "./types";

export function UserAccess({ api, user, onUser }: { api: Api; user: User; onUser: (u: User) => void }) {
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const base = `/users/${enc(user.id)}`;

  async function block() {
    onUser(await api.patch<User>(base, { blocked: true }));
    setNotice(done(`Blocked ${user.email}: logins are refused, sessions ended and tokens revoked.`));
  }

  async function unblock() {
    setBusy(true);
    setNotice(null);
    try {
      onUser(await api.patch<User>(base, { blocked: false }));
      setNotice(done(`Unblocked ${user.email}: they can log in again.`));
    } catch (err) {
      setNotice(failed("Not unblocked", err));
    } finally {
      setBusy(false);
    }
  }

  async function endSessions(): Promise<string> {
    // `delete` answers nothing; this DELETE answers how many sessions it ended.
    const r = await api.call<{ sessions_ended: number }>("DELETE", `${base}/sessions`);
    const n = r?.sessions_ended ?? 0;
    return `Ended ${n} session${n === 1 ? "" : "s"} and revoked ${user.email}'s refresh tokens and access grants.`;
  }

  return (
    <section aria-labelledby="user-access-title">
      <h2 id="user-access-title">Sign-in and sessions</h2>
      <p id="user-status" data-blocked={user.blocked ? "true" : "false"}>
        {user.blocked ? (
          <>
            <strong class="status-badge failed">Blocked</strong> {user.email} cannot log in.
          </>
        ) : (
          <>
            <strong class="status-badge success">Active</strong> {user.email} can log in
            {user.has_password ? "; a password is set." : "; no password is set."}
          </>
        )}
      </p>
      <div class="access-actions">
        {user.blocked ? (
          <div>
            <button id="user-unblock" disabled={busy} onClick={unblock}>
              {busy ? "Unblocking…" : "Unblock"}
            </button>
          </div>
        ) : (
          <Confirm
            id="user-block"
            start="Block…"
            question={
              <>
                Block <strong>{user.email}</strong>? Their logins are refused, their sessions end and their refresh tokens and access
                grants are revoked now, until you unblock them.
              </>
            }
            yes={`Yes, block ${user.email}`}
            failure="Not blocked"
            run={block}
          />
        )}
        <Confirm
          id="user-end-sessions"
          start="End all sessions…"
          mild
          question={
            <>
              Sign <strong>{user.email}</strong> out everywhere? Every login session ends and their refresh tokens and access
              grants are revoked; they can log in again.
            </>
          }
          yes="Yes, end all sessions"
          failure="Sessions not ended"
          run={endSessions}
        />
      </div>
      <NoticeLine id="user-access-notice" notice={notice} />
      <SetPassword api={api} user={user} onUser={onUser} />
    </section>
  );
}

function SetPassword({ api, user, onUser }: { api: Api; user: User; onUser: (u: User) => void }) {
  const [password, setPassword] = useState("");
  const [bad, setBad] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setBad(false);
    setNotice(null);
    try {
      if (password === "") throw refuse("password", "type the new password");
      await api.put(`/users/${enc(user.id)}/password`, { password });
      setPassword("");
      setNotice(done(`Set ${user.email}'s password; their sessions ended and their tokens were revoked.`));
      // `has_password` changed; a failed reload only leaves the old line, the password is set.
      api.get<User>(`/users/${enc(user.id)}`).then(onUser, () => undefined);
    } catch (err) {
      setBad(within(fieldOf(err), "password"));
      setNotice(failed("Password not set", err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h3 id="user-password-title">Password</h3>
      <form id="user-password-form" class="inline-form" aria-labelledby="user-password-title" noValidate onSubmit={submit} onInput={() => setBad(false)}>
      <label>
        New password{" "}
        <input
          id="user-password"
          type="password"
          autocomplete="new-password"
          value={password}
          aria-invalid={bad ? "true" : undefined}
          aria-describedby="user-password-help"
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <button id="user-password-save" type="submit" disabled={busy}>
        {busy ? "Setting…" : "Set password"}
      </button>
      </form>
      <p id="user-password-help" class="muted hint">
        8 to 256 characters. Setting it ends the user's sessions, revokes their tokens and lifts a brute-force lock.
      </p>
      <NoticeLine id="user-password-notice" notice={notice} />
    </>
  );
}
