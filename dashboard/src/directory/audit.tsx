// The audit log: every change made through the API or the CLI, newest first, paged on the
// server, filtered by the API's exact filters (a resource's id, its kind, the actor, the
// action) combined. Actors that are dashboard administrators are users, so they link to the
// user's page.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { pretty } from "../hooks/format";
import { type Notice, NoticeLine } from "../hooks/notice";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
import { moment } from "../traces/format";
import type { AuditEntry } from "./types";

const PAGE_SIZE = 50;

/** The API's filters (`GET /audit-log`), each exact; "" matches any. */
export interface AuditFilter {
  resource_id: string;
  resource_type: string;
  actor: string;
  action: string;
}

const ANY: AuditFilter = { resource_id: "", resource_type: "", actor: "", action: "" };

/** The kinds of resource the log records, for the filter's choice. */
const RESOURCE_TYPES = [
  "user",
  "organization",
  "application",
  "api",
  "role",
  "client_grant",
  "hook",
  "flow",
  "jwt_template",
  "signing_key",
  "api_key",
  "legacy_store",
  "tenant",
];

// Kept while the dashboard stays open: coming back to the log, or arriving from a record's
// "Changes in the audit log" link, finds the filter set (the route has no room for a query).
let remembered: AuditFilter = ANY;

function query(f: AuditFilter): string {
  return (Object.keys(f) as (keyof AuditFilter)[])
    .filter((k) => f[k])
    .map((k) => `${k}=${enc(f[k])}`)
    .join("&");
}

/** The filter in words, for the notice and the empty list. */
function described(f: AuditFilter): string {
  const parts = [
    f.resource_type && `to ${f.resource_type.replace(/_/g, " ")}s`,
    f.resource_id && `to ${f.resource_id}`,
    f.actor && `by ${f.actor}`,
    f.action && `of the action ${f.action}`,
  ].filter(Boolean);
  return parts.length ? `the changes ${parts.join(", ")}` : "every change";
}

/** A link to the audit log filtered to one resource, or to one kind of resource. */
export function AuditLink({
  resourceId = "",
  resourceType = "",
  children,
}: {
  resourceId?: string;
  resourceType?: string;
  children: ComponentChildren;
}) {
  return (
    <a
      class="audit-history-link"
      href="#/audit"
      onClick={() => {
        remembered = { ...ANY, resource_id: resourceId, resource_type: resourceType };
      }}
    >
      {children}
    </a>
  );
}

/** Where a resource of the log has a page in this dashboard. */
function resourceHref(type: string, id: string): string | undefined {
  switch (type) {
    case "user":
      return `#/users/${enc(id)}`;
    case "organization":
      return `#/organizations/${enc(id)}`;
    case "application":
      return `#/applications/${enc(id)}`;
    case "hook":
      return `#/hooks/${enc(id)}`;
    case "role":
      return "#/roles";
    case "api":
      return "#/apis";
    case "signing_key":
      return "#/keys";
    default:
      return undefined;
  }
}

export function AuditPage({ api }: { api: Api }) {
  const [applied, setApplied] = useState<AuditFilter>(remembered);
  const [typed, setTyped] = useState<AuditFilter>(remembered);
  const [notice, setNotice] = useState<Notice>(null);
  // Applying the same filter again reloads: the log goes on growing.
  const [generation, setGeneration] = useState(0);
  const entries = usePaged<AuditEntry>(api, "/audit-log", {
    query: query(applied),
    generation,
    limit: PAGE_SIZE,
  });
  const filtered = query(applied) !== "";

  useEffect(() => {
    if (query(remembered)) setNotice({ ok: true, text: `Showing ${described(remembered)}.` });
  }, []);

  function apply(f: AuditFilter) {
    const trimmed = { resource_id: f.resource_id.trim(), resource_type: f.resource_type, actor: f.actor.trim(), action: f.action.trim() };
    remembered = trimmed;
    setTyped(trimmed);
    setApplied(trimmed);
    setGeneration((g) => g + 1);
    setNotice({ ok: true, text: `Showing ${described(trimmed)}.` });
  }

  const field = (key: "resource_id" | "actor" | "action", id: string, placeholder: string) => (
    <input
      id={id}
      autocomplete="off"
      spellcheck={false}
      placeholder={placeholder}
      value={typed[key]}
      aria-describedby="audit-filter-help"
      onInput={(e) => setTyped({ ...typed, [key]: e.currentTarget.value })}
    />
  );

  return (
    <section aria-labelledby="audit-title" class="directory-page">
      <h1 id="audit-title">Audit log</h1>
      <p class="muted">
        Every change made through the management API, this dashboard or the <code>sigil</code> command line, newest first, with
        who made it: an API key (<code>key_…</code>), an administrator (a user), <code>cli</code> or <code>system</code>.
      </p>
      <form
        id="audit-filter"
        class="inline-form"
        role="search"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          apply(typed);
        }}
      >
        <label>
          Kind{" "}
          <select
            id="audit-type"
            value={typed.resource_type}
            onChange={(e) => setTyped({ ...typed, resource_type: e.currentTarget.value })}
          >
            <option value="">any kind</option>
            {RESOURCE_TYPES.map((t) => (
              <option key={t} value={t}>
                {t.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          Resource ID {field("resource_id", "audit-resource", "any resource")}
        </label>
        <label>
          Actor {field("actor", "audit-actor", "anyone")}
        </label>
        <label>
          Action {field("action", "audit-action", "any action")}
        </label>
        <button id="audit-apply" type="submit" class="primary">
          Filter
        </button>
        <button id="audit-clear" type="button" disabled={!filtered && !query(typed)} onClick={() => apply(ANY)}>
          Show all
        </button>
        <p id="audit-filter-help" class="muted hint">
          Each exact: the id of a user, organization, application (its client ID), role, API, hook or key; an actor's API key
          id, user id, <code>cli</code> or <code>system</code>; an action such as <code>create</code>, <code>update</code> or{" "}
          <code>rotate</code>. Filters combine.
        </p>
      </form>
      <NoticeLine id="audit-notice" notice={notice} />
      <ListBody
        paged={entries}
        loadingText="Loading the audit log…"
        emptyId="audit-empty"
        emptyText={filtered ? `No change recorded: ${described(applied)}.` : "No change recorded yet."}
      >
        <AuditTable entries={entries.items ?? []} />
      </ListBody>
      <ListFooter paged={entries} moreId="audit-more" moreText="older changes" />
    </section>
  );
}

function Actor({ actor }: { actor: string }) {
  if (actor.startsWith("usr_")) {
    return (
      <a class="audit-actor-link" href={`#/users/${enc(actor)}`}>
        <code>{actor}</code>
      </a>
    );
  }
  if (actor.startsWith("key_")) {
    return (
      <>
        <span class="muted">API key</span> <code>{actor}</code>
      </>
    );
  }
  return <code>{actor}</code>;
}

function AuditTable({ entries }: { entries: AuditEntry[] }) {
  return (
    <div class="table-scroll" role="region" aria-labelledby="audit-title" tabIndex={0}>
      <table id="audit-list" class="data audit-list">
        <caption class="sr-only">Changes, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Resource</th>
            <th scope="col">Summary</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => {
            const href = resourceHref(e.resource_type, e.resource_id);
            return (
              <tr
                key={e.id}
                data-audit-id={e.id}
                data-actor={e.actor}
                data-action={e.action}
                data-resource-type={e.resource_type}
                data-resource-id={e.resource_id}
              >
                <td class="audit-when">
                  <time dateTime={e.at}>{moment(e.at)}</time>
                </td>
                <td class="audit-actor">
                  <Actor actor={e.actor} />
                </td>
                <td class="audit-action">
                  <code>{e.action}</code>
                </td>
                <td class="audit-resource">
                  <span class="audit-resource-type">{e.resource_type.replace(/_/g, " ")}</span>{" "}
                  {href ? (
                    <a class="audit-resource-link" href={href}>
                      <code>{e.resource_id}</code>
                    </a>
                  ) : (
                    <code>{e.resource_id}</code>
                  )}
                </td>
                <td class="audit-summary">
                  <details>
                    <summary>
                      Summary<span class="sr-only"> of {e.action} on {e.resource_id}</span>
                    </summary>
                    <pre>{pretty(e.summary)}</pre>
                  </details>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
