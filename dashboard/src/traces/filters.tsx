// Which runs the charts and the list show. The API filters by user id; people know users by
// email, so the form looks the email up first and queries nothing when no user has it.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiFailure, enc, type Page } from "../api";
import { reason } from "../hooks/format";
import { type Notice, NoticeLine } from "../hooks/notice";
import type { Paged } from "../paged";
import { Failure } from "../ui";
import { type App, type HookName, STATUSES, type TraceStatus } from "./types";

export interface Filters {
  /** As typed, to show it back. */
  email: string;
  /** The user the email named when the filters were applied ("" for any). */
  userId: string;
  clientId: string;
  status: "" | TraceStatus;
  /** A hook's name (the API filters by name, so runs of a deleted hook still match). */
  hook: string;
}

export const NO_FILTERS: Filters = { email: "", userId: "", clientId: "", status: "", hook: "" };

/** The API's query for `f`, without `?`; empty when nothing is filtered. */
export function filterQuery(f: Filters): string {
  const pairs: [string, string][] = [
    ["user_id", f.userId],
    ["client_id", f.clientId],
    ["status", f.status],
    ["hook", f.hook],
  ];
  return pairs
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}=${enc(v)}`)
    .join("&");
}

/** The applied filters in words, announced when they change. */
export function describeFilters(f: Filters, appName: (clientId: string) => string): string {
  const parts: string[] = [];
  if (f.email) parts.push(`of ${f.email}`);
  if (f.clientId) parts.push(`to ${appName(f.clientId)}`);
  if (f.status) parts.push(`with status ${f.status}`);
  if (f.hook) parts.push(`in which ${f.hook} ran`);
  return parts.length ? `Showing runs ${parts.join(", ")}.` : "Showing every run.";
}

interface UserRow {
  id: string;
  email: string;
}

export function TraceFilterForm({
  api,
  applied,
  apps,
  hooks,
  appName,
  onApply,
}: {
  api: Api;
  applied: Filters;
  apps: Paged<App>;
  hooks: Paged<HookName>;
  appName: (clientId: string) => string;
  onApply: (f: Filters) => void;
}) {
  const [email, setEmail] = useState(applied.email);
  const [clientId, setClientId] = useState(applied.clientId);
  const [status, setStatus] = useState<"" | TraceStatus>(applied.status);
  const [hook, setHook] = useState(applied.hook);
  const [notice, setNotice] = useState<Notice>(null);
  const [badEmail, setBadEmail] = useState(false);
  const [busy, setBusy] = useState(false);
  const emailInput = useRef<HTMLInputElement>(null);

  // The form shows what is applied whenever that changes from outside (Clear, a remembered set).
  useEffect(() => {
    setEmail(applied.email);
    setClientId(applied.clientId);
    setStatus(applied.status);
    setHook(applied.hook);
  }, [applied]);

  async function apply(e: Event) {
    e.preventDefault();
    const address = email.trim();
    let userId = "";
    setBadEmail(false);
    if (address) {
      setBusy(true);
      setNotice({ ok: true, text: `Looking up ${address}…` });
      try {
        const users = await api.get<Page<UserRow>>(`/users?email=${enc(address)}`);
        const user = users.data[0];
        if (!user) throw new ApiFailure(404, "not_found", `no user has the email ${address}`, "user");
        userId = user.id;
      } catch (err) {
        setNotice({ ok: false, text: reason(err) });
        setBadEmail(true);
        emailInput.current?.focus();
        return;
      } finally {
        setBusy(false);
      }
    }
    const f: Filters = { email: address, userId, clientId, status, hook };
    setNotice({ ok: true, text: describeFilters(f, appName) });
    onApply(f);
  }

  function clear() {
    setBadEmail(false);
    setNotice({ ok: true, text: describeFilters(NO_FILTERS, appName) });
    onApply({ ...NO_FILTERS });
  }

  const listFailure = apps.failure ?? hooks.failure;

  return (
    <form id="traces-filters" class="trace-filters" role="search" aria-label="Filter the runs" noValidate onSubmit={apply}>
      <div class="trace-filter-fields">
        <div class="field">
          <label for="traces-user">User's email</label>
          <input
            id="traces-user"
            ref={emailInput}
            type="email"
            autocomplete="off"
            placeholder="any user"
            value={email}
            aria-invalid={badEmail ? "true" : undefined}
            aria-describedby="traces-filters-notice"
            onInput={(e) => {
              setEmail(e.currentTarget.value);
              setBadEmail(false);
            }}
          />
        </div>
        <div class="field">
          <label for="traces-app">Application</label>
          <select id="traces-app" value={clientId} onChange={(e) => setClientId(e.currentTarget.value)}>
            <option value="">Any application</option>
            {(apps.items ?? []).map((a) => (
              <option key={a.client_id} value={a.client_id}>
                {a.name}
              </option>
            ))}
            {/* A remembered application beyond the pages listed so far stays choosable. */}
            {clientId && !(apps.items ?? []).some((a) => a.client_id === clientId) && <option value={clientId}>{clientId}</option>}
          </select>
          {apps.more && (
            <button id="traces-app-more" type="button" class="link" disabled={apps.loading} onClick={apps.loadMore}>
              More applications
            </button>
          )}
        </div>
        <div class="field">
          <label for="traces-status">Status</label>
          <select id="traces-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as "" | TraceStatus)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="traces-hook">Hook</label>
          <select id="traces-hook" value={hook} onChange={(e) => setHook(e.currentTarget.value)}>
            <option value="">Any hook</option>
            {(hooks.items ?? []).map((h) => (
              <option key={h.id} value={h.name}>
                {h.name}
              </option>
            ))}
            {hook && !(hooks.items ?? []).some((h) => h.name === hook) && <option value={hook}>{hook}</option>}
          </select>
          {hooks.more && (
            <button id="traces-hook-more" type="button" class="link" disabled={hooks.loading} onClick={hooks.loadMore}>
              More hooks
            </button>
          )}
        </div>
      </div>
      <div class="actions">
        <button id="traces-apply" type="submit" class="primary" disabled={busy}>
          Apply filters
        </button>
        <button id="traces-clear" type="button" disabled={busy} onClick={clear}>
          Clear
        </button>
      </div>
      <NoticeLine id="traces-filters-notice" notice={notice} />
      {listFailure != null && <Failure error={new Error(`The filters' choices could not be listed: ${reason(listFailure)}`)} />}
    </form>
  );
}
