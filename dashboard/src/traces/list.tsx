// The stored runs the filters match, newest first, paged on the server: "More" asks for the
// next page, and a change of filters starts again from the first.

import { type Api, enc } from "../api";
import { micros } from "../hooks/format";
import { ListBody, ListFooter } from "../list-parts";
import { usePaged } from "../paged";
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
  const traces = usePaged<Trace>(api, "/hook-traces", { query, generation, limit: PAGE_SIZE, limitFirst: true });
  const filtered = query !== "";

  return (
    <section aria-labelledby="traces-list-title">
      <h2 id="traces-list-title">Runs</h2>
      <ListBody
        paged={traces}
        loadingText="Loading the runs…"
        emptyId="traces-empty"
        emptyText={filtered ? "No stored run matches these filters." : "No runs stored yet: they appear here as users log in."}
      >
        <Rows traces={traces.items ?? []} appName={appName} />
      </ListBody>
      <ListFooter paged={traces} moreId="traces-more" moreText="more runs" />
    </section>
  );
}

function Rows({ traces, appName }: { traces: Trace[]; appName: (clientId: string) => string }) {
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
