// A test run's `FlowOutcome`: how it ended, what it would change, and the hook's trace.

import { bytes, count, micros, pretty } from "./format";
import type { FlowOutcome, FlowStatus, HookTrace } from "./types";

function statusText(s: FlowStatus): string {
  switch (s.status) {
    case "success":
      return "Success: the hook ran to the end; a login would get what is below.";
    case "denied":
      return `Denied by ${s.hook}: ${s.reason}. A login would end with access_denied.`;
    case "failed":
      return `Failed in ${s.hook}: ${s.code}: ${s.message}. A fail-closed binding would end the login with server_error.`;
  }
}

function Json({ id, value }: { id: string; value: Record<string, unknown> }) {
  const empty = Object.keys(value).length === 0;
  return <pre id={id}>{empty ? "(none)" : pretty(value)}</pre>;
}

function List({ items }: { items: string[] }) {
  return items.length === 0 ? <span class="muted">none</span> : <>{items.map((s, i) => [i > 0 && ", ", <code>{s}</code>])}</>;
}

export function Outcome({ outcome }: { outcome: FlowOutcome }) {
  const o = outcome;
  return (
    <div class="outcome">
      <p id="test-status" class={`outcome-status ${o.status.status}`} data-status={o.status.status}>
        {statusText(o.status)}
      </p>
      <div class="claims">
        <figure>
          <figcaption>ID token claims set</figcaption>
          <Json id="test-id-claims" value={o.id_token_claims} />
        </figure>
        <figure>
          <figcaption>Access token claims set</figcaption>
          <Json id="test-access-claims" value={o.access_token_claims} />
        </figure>
      </div>
      <dl class="facts">
        <dt>Scopes added</dt>
        <dd id="test-scopes-added">
          <List items={o.scopes_added} />
        </dd>
        <dt>Scopes removed</dt>
        <dd id="test-scopes-removed">
          <List items={o.scopes_removed} />
        </dd>
      </dl>
      <p class="muted">Metadata writes (reported, not applied: null deletes a key).</p>
      <div class="claims">
        <figure>
          <figcaption>user_metadata writes</figcaption>
          <Json id="test-user-metadata" value={o.user_metadata} />
        </figure>
        <figure>
          <figcaption>app_metadata writes</figcaption>
          <Json id="test-app-metadata" value={o.app_metadata} />
        </figure>
      </div>
      <h4>Trace</h4>
      <ol id="test-trace" class="trace">
        {o.trace.length === 0 && <li class="muted">No hook ran.</li>}
        {o.trace.map((t) => (
          <TraceEntry t={t} />
        ))}
      </ol>
    </div>
  );
}

function TraceEntry({ t }: { t: HookTrace }) {
  return (
    <li class="trace-entry" data-hook={t.hook_name} data-outcome={t.outcome}>
      <p>
        <strong>{t.hook_name}</strong> version {t.version}: <span class={`outcome-word ${t.outcome}`}>{t.outcome}</span>
      </p>
      <dl class="facts">
        <dt>Duration</dt>
        <dd class="trace-duration">{micros(t.duration_us)}</dd>
        <dt>Fuel</dt>
        <dd class="trace-fuel">{count(t.fuel_used)}</dd>
        <dt>Claims set</dt>
        <dd>
          <List items={t.claims_set} />
        </dd>
        {(t.error_code || t.error) && (
          <>
            <dt>Error</dt>
            <dd class="trace-error">
              {t.error_code && <code>{t.error_code}</code>}
              {t.error_code && t.error && ": "}
              {t.error}
            </dd>
          </>
        )}
        {t.reason !== undefined && (
          <>
            <dt>Deny reason</dt>
            <dd class="trace-reason">{t.reason}</dd>
          </>
        )}
        {(t.cache_hits ?? 0) + (t.cache_misses ?? 0) > 0 && (
          <>
            <dt>Cache</dt>
            <dd>
              {count(t.cache_hits ?? 0)} hits, {count(t.cache_misses ?? 0)} misses
            </dd>
          </>
        )}
      </dl>
      <p class="muted">Logs</p>
      <pre class="trace-logs">{t.logs.length ? t.logs.join("\n") : "(no log lines)"}</pre>
      {t.fetches && t.fetches.length > 0 && (
        <table class="data trace-fetches">
          <caption>Fetches</caption>
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Answer</th>
              <th scope="col">Time</th>
              <th scope="col">Sent / received</th>
            </tr>
          </thead>
          <tbody>
            {t.fetches.map((f) => (
              <tr>
                <td>
                  <code>
                    {f.method} {f.target}
                  </code>
                </td>
                <td>
                  {f.status ?? ""}
                  {f.error && (
                    <>
                      {f.status !== undefined && " "}
                      <code>{f.error}</code>
                      {f.detail && `: ${f.detail}`}
                    </>
                  )}
                </td>
                <td>{micros(f.duration_us)}</td>
                <td>
                  {bytes(f.bytes_out)} / {bytes(f.bytes_in)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}
