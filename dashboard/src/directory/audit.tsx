// The audit log: every change made through the API or the CLI, newest first, paged on the
// server, optionally only the changes to one resource (the one filter the API has). Actors
// that are dashboard administrators are users, so they link to the user's page.

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

// Kept while the dashboard stays open: coming back to the log, or arriving from a record's
// "Changes in the audit log" link, finds the filter set (the route has no room for a query).
let remembered = "";

/** A link to the audit log filtered to one resource. */
export function AuditLink({ resourceId, children }: { resourceId: string; children: ComponentChildren }) {
  return (
    <a
      class="audit-history-link"
      href="#/audit"
      onClick={() => {
        remembered = resourceId;
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
  const [resource, setResource] = useState(remembered);
  const [typed, setTyped] = useState(remembered);
  const [notice, setNotice] = useState<Notice>(null);
  // Applying the same filter again reloads: the log goes on growing.
  const [generation, setGeneration] = useState(0);
  const entries = usePaged<AuditEntry>(api, "/audit-log", {
    query: resource ? `resource_id=${enc(resource)}` : "",
    generation,
    limit: PAGE_SIZE,
  });

  useEffect(() => {
    if (remembered) setNotice({ ok: true, text: `Showing the changes to ${remembered}.` });
  }, []);

  function apply(id: string) {
    remembered = id;
    setTyped(id);
    setResource(id);
    setGeneration((g) => g + 1);
    setNotice({ ok: true, text: id ? `Showing the changes to ${id}.` : "Showing every change." });
  }

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
          apply(typed.trim());
        }}
      >
        <label>
          Resource ID{" "}
          <input
            id="audit-resource"
            autocomplete="off"
            spellcheck={false}
            placeholder="any resource"
            value={typed}
            aria-describedby="audit-resource-help"
            onInput={(e) => setTyped(e.currentTarget.value)}
          />
        </label>
        <button id="audit-apply" type="submit" class="primary">
          Filter
        </button>
        <button id="audit-clear" type="button" disabled={!resource && !typed} onClick={() => apply("")}>
          Show all
        </button>
        <p id="audit-resource-help" class="muted hint">
          The exact id of a user, organization, application (its client ID), role, API, hook or key.
        </p>
      </form>
      <NoticeLine id="audit-notice" notice={notice} />
      <ListBody
        paged={entries}
        loadingText="Loading the audit log…"
        emptyId="audit-empty"
        emptyText={resource ? `No change recorded for ${resource}.` : "No change recorded yet."}
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
              <tr key={e.id} data-audit-id={e.id} data-actor={e.actor} data-action={e.action} data-resource-id={e.resource_id}>
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
