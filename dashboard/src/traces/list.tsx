// The stored runs the filters match, newest first, paged on the server: "More" asks for the
// next page, and a change of filters starts again from the first.

import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, enc, type Page } from "../api";
import { micros } from "../hooks/format";
import { Failure } from "../ui";
import { context, moment } from "./format";
import { OutcomeWord, StatusBadge } from "./status";
import type { Trace } from "./types";

const PAGE_SIZE = 50;

export function TraceList({
  api,
  query,
  generation,
  appName,
}: {
  api: Api;
  query: string;
  generation: number;
  appName: (clientId: string) => string;
}) {
  const [traces, setTraces] = useState<Trace[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  // Each first-page load gets a number: a "More" answer for an older one is dropped, not
  // appended under other filters.
  const listing = useRef(0);

  async function load(cursor: string | undefined) {
    const mine = cursor ? listing.current : ++listing.current;
    setLoading(true);
    setFailure(null);
    if (!cursor) {
      setTraces(null);
      setNext(undefined);
    }
    try {
      const params = [`limit=${PAGE_SIZE}`, query, cursor ? `cursor=${enc(cursor)}` : ""].filter(Boolean).join("&");
      const page = await api.get<Page<Trace>>(`/hook-traces?${params}`);
      if (mine !== listing.current) return;
      setTraces((old) => (cursor && old ? [...old, ...page.data] : page.data));
      setNext(page.next_cursor);
    } catch (e) {
      if (mine === listing.current) setFailure(e);
    } finally {
      if (mine === listing.current) setLoading(false);
    }
  }

  useEffect(() => {
    load(undefined);
    return () => {
      // Unmounted or refiltered: whatever is still on its way is for a list no longer shown.
      listing.current++;
    };
  }, [api, query, generation]);

  return (
    <section aria-labelledby="traces-list-title">
      <h2 id="traces-list-title">Runs</h2>
      <Rows traces={traces} loading={loading} filtered={query !== ""} appName={appName} />
      <Failure error={failure} />
      {next && (
        <div class="actions">
          <button id="traces-more" disabled={loading} onClick={() => load(next)}>
            {loading ? "Loading more runs…" : "More"}
          </button>
        </div>
      )}
    </section>
  );
}

function Rows({
  traces,
  loading,
  filtered,
  appName,
}: {
  traces: Trace[] | null;
  loading: boolean;
  filtered: boolean;
  appName: (clientId: string) => string;
}) {
  if (traces === null) {
    return (
      <p role="status" class="muted">
        {loading ? "Loading the runs…" : ""}
      </p>
    );
  }
  if (traces.length === 0) {
    return (
      <p id="traces-empty" class="muted">
        {filtered ? "No stored run matches these filters." : "No runs stored yet: they appear here as users log in."}
      </p>
    );
  }
  // A narrow window scrolls the table, not the page; the region takes focus so a keyboard
  // can scroll it too.
  return (
    <div class="table-scroll" role="region" aria-labelledby="traces-list-title" tabIndex={0}>
      <table id="traces-list" class="data traces-list">
        <caption class="sr-only">Runs of the post-login flow, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">What ran</th>
            <th scope="col">User</th>
            <th scope="col">Application</th>
            <th scope="col">Status</th>
            <th scope="col">Hooks</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {traces.map((t) => {
            const what = context(t.context);
            return (
              <tr key={t.id} data-trace-id={t.id} data-status={t.status}>
                <td class="trace-when">
                  <a class="trace-link" href={`#/traces/${enc(t.id)}`}>
                    <time dateTime={t.at}>{moment(t.at)}</time>
                  </a>
                </td>
                <td class="trace-context" data-context={t.context}>
                  {what.kind} {what.detail && <code>{what.detail}</code>}
                </td>
                <td class="trace-user">{t.user_id ? <code>{t.user_id}</code> : <span class="muted">none</span>}</td>
                <td class="trace-app" data-client-id={t.client_id}>
                  {t.client_id ? appName(t.client_id) : <span class="muted">none</span>}
                </td>
                <td class="trace-status">
                  <StatusBadge status={t.status} />
                </td>
                <td class="trace-hooks">
                  {t.hooks.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    <ul class="hook-outcomes">
                      {t.hooks.map((h, i) => (
                        <li key={i} data-hook={h.hook_name} data-outcome={h.outcome}>
                          {h.hook_name} <OutcomeWord outcome={h.outcome} />
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
                <td class="trace-total" data-value={t.duration_us}>
                  {micros(t.duration_us)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
