// Latency and outcomes over time, as the server computes them from the stored runs the filters
// match: two charts, each with its numbers as a table under it.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { Api } from "../api";
import { count } from "../hooks/format";
import { Failure } from "../ui";
import { Chart } from "./chart";
import { moment, span } from "./format";
import { latencySpec, outcomesSpec, timeRange } from "./series";
import { LatencyTable, OutcomesTable } from "./tables";
import type { Latency } from "./types";

/** `query`: the filters as the API takes them; `generation` changes to reload with the same. */
export function LatencyPanel({ api, query, generation }: { api: Api; query: string; generation: number }) {
  const [latency, setLatency] = useState<Latency | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  useEffect(() => {
    let gone = false;
    setLatency(null);
    setFailure(null);
    api.get<Latency>(`/hook-traces/latency${query ? `?${query}` : ""}`).then(
      (l) => !gone && setLatency(l),
      (e) => !gone && setFailure(e),
    );
    return () => {
      gone = true;
    };
  }, [api, query, generation]);

  // Built once per answer: a new spec object rebuilds its chart.
  const charts = useMemo(() => {
    if (!latency) return null;
    const range = timeRange(latency);
    return {
      latency: range && latencySpec(latency, range),
      outcomes: range && outcomesSpec(latency, range),
    };
  }, [latency]);

  return (
    <section id="latency" aria-labelledby="latency-title">
      <h2 id="latency-title">Latency and outcomes</h2>
      <Failure error={failure} />
      {!latency || !charts ? (
        !failure && (
          <p role="status" class="muted">
            Loading the latency and outcomes…
          </p>
        )
      ) : (
        <>
          <Span latency={latency} filtered={query !== ""} />
          <div class="charts">
            <div class="chart-block">
              {charts.latency ? (
                <Chart id="latency-chart" label={`Hook latency per bucket: p50 (solid) and p99 (dashed), in ${charts.latency.unit}`} spec={charts.latency.spec} />
              ) : (
                <p id="latency-empty" class="muted chart-empty">
                  No hook ran in {latency.traces === 0 ? "any matching run" : "these runs"}: there is no latency to chart.
                </p>
              )}
              {charts.latency && (
                <details id="latency-data" class="chart-data">
                  <summary>Data</summary>
                  <LatencyTable latency={latency} />
                </details>
              )}
            </div>
            <div class="chart-block">
              {charts.outcomes ? (
                <Chart id="outcomes-chart" label="Runs per bucket by status (stacked)" spec={charts.outcomes} />
              ) : (
                <p id="outcomes-empty" class="muted chart-empty">
                  No runs to chart.
                </p>
              )}
              {charts.outcomes && (
                <details id="outcomes-data" class="chart-data">
                  <summary>Data</summary>
                  <OutcomesTable latency={latency} />
                </details>
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}

/** Which runs the charts are computed from: the server uses the newest it keeps. */
function Span({ latency: l, filtered }: { latency: Latency; filtered: boolean }) {
  if (l.traces === 0 || !l.from || !l.to) {
    return (
      <p id="latency-span" class="muted" data-traces={l.traces} data-bucket-seconds={l.bucket_seconds}>
        No stored run matches these filters.
      </p>
    );
  }
  return (
    <p id="latency-span" class="muted" data-traces={l.traces} data-bucket-seconds={l.bucket_seconds}>
      From the last {count(l.traces)} {filtered ? "matching " : ""}stored trace{l.traces === 1 ? "" : "s"}, from{" "}
      <time dateTime={l.from}>{moment(l.from)}</time> to <time dateTime={l.to}>{moment(l.to)}</time>, in buckets of{" "}
      <span id="latency-bucket">{span(l.bucket_seconds)}</span>. Computed from the newest 2,000 stored traces at most; a tenant keeps about its newest 1,000.
      Above the server's trace rate a trace stands for the successful logins not stored before it, and counts as all of them.
    </p>
  );
}
