// One stored run: who, what and how it ended, then every hook it ran in order, with what each
// changed and what it logged and fetched.

import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, ApiFailure, enc } from "../api";
import { bytes, count, micros } from "../hooks/format";
import { Failure } from "../ui";
import { context, moment } from "./format";
import { OutcomeWord, StatusBadge } from "./status";
import type { FetchTrace } from "../hooks/types";
import type { App, StoredHookTrace, Trace } from "./types";

type Loaded = { state: "loading" } | { state: "found"; trace: Trace } | { state: "missing" } | { state: "failed"; error: unknown };

export function TracePage({ api, id }: { api: Api; id: string }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  const [app, setApp] = useState<App | null>(null);

  useEffect(() => {
    let gone = false;
    setLoaded({ state: "loading" });
    setApp(null);
    api.get<Trace>(`/hook-traces/${enc(id)}`).then(
      (trace) => {
        if (gone) return;
        setLoaded({ state: "found", trace });
        // The name is a courtesy: the client id shows when the application is gone.
        if (trace.client_id) {
          api.get<App>(`/applications/${enc(trace.client_id)}`).then(
            (a) => !gone && setApp(a),
            () => undefined,
          );
        }
      },
      (error) => {
        if (gone) return;
        const missing = error instanceof ApiFailure && error.status === 404;
        setLoaded(missing ? { state: "missing" } : { state: "failed", error });
      },
    );
    return () => {
      gone = true;
    };
  }, [api, id]);

  return (
    <section aria-labelledby="trace-title" class="trace-page">
      <p class="crumbs">
        <a id="trace-back" href="#/traces">
          All traces
        </a>
      </p>
      <h1 id="trace-title">
        Trace <code>{id}</code>
      </h1>
      {loaded.state === "loading" && (
        <p role="status" class="muted">
          Loading the trace…
        </p>
      )}
      {loaded.state === "missing" && (
        <p id="trace-missing" class="alert" role="alert">
          No such trace in this tenant. A tenant keeps only its newest runs: older ones are gone.
        </p>
      )}
      {loaded.state === "failed" && <Failure error={loaded.error} />}
      {loaded.state === "found" && <Detail trace={loaded.trace} app={app} />}
    </section>
  );
}

function Detail({ trace: t, app }: { trace: Trace; app: App | null }) {
  const what = context(t.context);
  return (
    <div id="trace-detail" data-trace-id={t.id} data-status={t.status}>
      <dl class="facts">
        <dt>When</dt>
        <dd>
          <time id="trace-at" dateTime={t.at}>
            {moment(t.at)}
          </time>
        </dd>
        <dt>What ran</dt>
        <dd id="trace-context" data-context={t.context}>
          {what.kind} {what.detail && <code>{what.detail}</code>}
        </dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge id="trace-status" status={t.status} />
        </dd>
        <dt>User</dt>
        <dd id="trace-user">{t.user_id ? <code>{t.user_id}</code> : <span class="muted">none</span>}</dd>
        <dt>Application</dt>
        <dd id="trace-app" data-client-id={t.client_id}>
          {!t.client_id ? (
            <span class="muted">none</span>
          ) : app && app.client_id === t.client_id ? (
            <>
              {app.name} <code class="muted">{t.client_id}</code>
            </>
          ) : (
            <code>{t.client_id}</code>
          )}
        </dd>
        <dt>Total duration</dt>
        <dd id="trace-total" data-value={t.duration_us}>
          {micros(t.duration_us)} <span class="muted">(the hooks' own time, summed)</span>
        </dd>
        {t.runs > 1 && (
          <>
            <dt>Stands for</dt>
            <dd id="trace-runs" data-value={t.runs}>
              {t.runs} successful logins{" "}
              <span class="muted">
                (this one and the {t.runs - 1} before it whose traces were not stored: the tenant's logins were above the
                server's trace rate)
              </span>
            </dd>
          </>
        )}
      </dl>
      <h2 id="trace-hooks-title">Hooks, in the order they ran</h2>
      <ol id="trace-hooks" class="trace" aria-labelledby="trace-hooks-title">
        {t.hooks.length === 0 && <li class="muted">No hook ran.</li>}
        {t.hooks.map((h, i) => (
          <HookRun key={i} h={h} />
        ))}
      </ol>
    </div>
  );
}

function HookRun({ h }: { h: StoredHookTrace }) {
  const cached = (h.cache_hits ?? 0) + (h.cache_misses ?? 0) > 0;
  return (
    <li class="trace-entry" data-hook={h.hook_name} data-outcome={h.outcome}>
      <p>
        <strong>
          <a href={`#/hooks/${enc(h.hook_id)}`}>{h.hook_name}</a>
        </strong>{" "}
        <span class="trace-version">version {h.version}</span>: <OutcomeWord outcome={h.outcome} />
      </p>
      <dl class="facts">
        <dt>Duration</dt>
        <dd class="trace-duration" data-value={h.duration_us}>
          {micros(h.duration_us)}
        </dd>
        <dt>Fuel</dt>
        <dd class="trace-fuel" data-value={h.fuel_used}>
          {count(h.fuel_used)}
        </dd>
        <dt>Claims set</dt>
        <dd class="trace-claims">
          <Names items={h.claims_set} />
        </dd>
        <dt>Scopes added</dt>
        <dd class="trace-scopes-added">
          <Names items={h.scopes_added} />
        </dd>
        <dt>Scopes removed</dt>
        <dd class="trace-scopes-removed">
          <Names items={h.scopes_removed} />
        </dd>
        <dt>Metadata written</dt>
        <dd class="trace-metadata">
          <Names items={h.metadata_written} />
        </dd>
        {(h.error_code || h.error) && (
          <>
            <dt>Error</dt>
            <dd class="trace-error">
              {h.error_code && <code>{h.error_code}</code>}
              {h.error_code && h.error && ": "}
              {h.error}
            </dd>
          </>
        )}
        {h.reason !== undefined && (
          <>
            <dt>Deny reason</dt>
            <dd class="trace-reason">{h.reason}</dd>
          </>
        )}
        {cached && (
          <>
            <dt>Fetch cache</dt>
            <dd class="trace-cache" data-hits={h.cache_hits ?? 0} data-misses={h.cache_misses ?? 0}>
              {count(h.cache_hits ?? 0)} hit{h.cache_hits === 1 ? "" : "s"}, {count(h.cache_misses ?? 0)} miss
              {h.cache_misses === 1 ? "" : "es"}
            </dd>
          </>
        )}
      </dl>
      <p class="muted">Logs</p>
      <pre class="trace-logs">{h.logs.length ? h.logs.join("\n") : "(no log lines)"}</pre>
      {h.fetches && h.fetches.length > 0 && <Fetches fetches={h.fetches} />}
    </li>
  );
}

/** A hook's requests, one column per fact so a slow or failing one stands out down a column. */
function Fetches({ fetches }: { fetches: FetchTrace[] }) {
  return (
    <table class="data trace-fetches">
      <caption>Fetches</caption>
      <thead>
        <tr>
          <th scope="col">Method</th>
          <th scope="col">Target</th>
          <th scope="col">Status</th>
          <th scope="col">Error</th>
          <th scope="col">Time</th>
          <th scope="col">Sent</th>
          <th scope="col">Received</th>
        </tr>
      </thead>
      <tbody>
        {fetches.map((f, i) => (
          <tr key={i} class="trace-fetch" data-status={f.status}>
            <td>
              <code>{f.method}</code>
            </td>
            <th scope="row" class="fetch-target">
              <code>{f.target}</code>
            </th>
            <td>{f.status ?? <span class="muted">none</span>}</td>
            <td class="fetch-error">
              {f.error ? (
                <>
                  <code>{f.error}</code>
                  {f.detail && `: ${f.detail}`}
                </>
              ) : (
                <span class="muted">none</span>
              )}
            </td>
            <td>{micros(f.duration_us)}</td>
            <td>{bytes(f.bytes_out)}</td>
            <td>{bytes(f.bytes_in)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Names in code, comma-separated, or "none". */
function Names({ items }: { items: string[] | undefined }) {
  if (!items || items.length === 0) return <span class="muted">none</span>;
  return (
    <>
      {items.map((s, i) => (
        <Fragment key={i}>
          {i > 0 && ", "}
          <code>{s}</code>
        </Fragment>
      ))}
    </>
  );
}
