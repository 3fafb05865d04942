// The charts' numbers as tables: what a keyboard or screen reader user reads instead of the
// canvas. Values stay in microseconds whatever unit the chart's axis uses.

import { count } from "../hooks/format";
import { bucketStart, outcomeText, span } from "./format";
import { flowStatuses } from "./series";
import type { Latency } from "./types";

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

/** A bucket's start as a cell: readable, with the exact time for machines. */
function When({ at }: { at: number }) {
  return <time dateTime={iso(at)}>{bucketStart(at)}</time>;
}

function Micros({ name, us }: { name: string; us: number }) {
  return (
    <td class={name} data-value={us}>
      {count(us)}
    </td>
  );
}

export function LatencyTable({ latency }: { latency: Latency }) {
  return (
    <table id="latency-table" class="data chart-table">
      <caption>
        Each hook's runs per bucket of {span(latency.bucket_seconds)} (durations in microseconds)
      </caption>
      <thead>
        <tr>
          <th scope="col">Hook</th>
          <th scope="col">Bucket from</th>
          <th scope="col">Runs</th>
          <th scope="col">p50 (µs)</th>
          <th scope="col">p99 (µs)</th>
          <th scope="col">Max (µs)</th>
          <th scope="col">Outcomes</th>
        </tr>
      </thead>
      <tbody>
        {latency.hooks.flatMap((h) =>
          h.points.map((p) => (
            <tr key={`${h.hook_name} ${p.at}`} data-hook={h.hook_name} data-at={p.at}>
              <th scope="row">{h.hook_name}</th>
              <td>
                <When at={p.at} />
              </td>
              <td class="count" data-value={p.count}>
                {count(p.count)}
              </td>
              <Micros name="p50" us={p.p50_us} />
              <Micros name="p99" us={p.p99_us} />
              <Micros name="max" us={p.max_us} />
              <td class="outcomes">
                {Object.entries(p.outcomes)
                  .filter(([, n]) => (n ?? 0) > 0)
                  .map(([o, n]) => `${outcomeText(o)} ${count(n ?? 0)}`)
                  .join(", ")}
              </td>
            </tr>
          )),
        )}
      </tbody>
    </table>
  );
}

export function OutcomesTable({ latency }: { latency: Latency }) {
  const statuses = flowStatuses(latency);
  return (
    <table id="outcomes-table" class="data chart-table">
      <caption>Runs by status per bucket of {span(latency.bucket_seconds)}</caption>
      <thead>
        <tr>
          <th scope="col">Bucket from</th>
          {statuses.map(([k]) => (
            <th key={k} scope="col">
              {k[0].toUpperCase() + k.slice(1)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {latency.flows.map((p) => (
          <tr key={p.at} data-at={p.at}>
            <th scope="row">
              <When at={p.at} />
            </th>
            {statuses.map(([k]) => (
              <td key={k} class={k} data-value={p[k] ?? 0}>
                {count(p[k] ?? 0)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
