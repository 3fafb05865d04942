// From the latency answer to what the charts draw. The server sends only the buckets that have
// runs, each hook its own; a chart wants one row of buckets with a value (or a gap) per series.

import { count } from "../hooks/format";
import type { ChartSeries, ChartSpec } from "./chart";
import { latencyUnit } from "./format";
import type { FlowPoint, Latency } from "./types";

// Okabe–Ito: told apart with the common colour blindnesses (yellow left out: unreadable on white).
const HOOK_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#1d1f23"];

/** What a flow bucket counts. */
export type Counted = Exclude<keyof FlowPoint, "at">;

/** The flows' statuses in stacking order, bottom first, with their colours. */
const STATUS_COLOURS: [Counted, string][] = [
  ["success", "#1c6b3a"],
  ["denied", "#b7791f"],
  ["failed", "#8a1c12"],
  ["aborted", "#5b6170"],
];

/** Every bucket start either chart has, and the span they cover together, so both charts put a
 * time at the same place. */
export function timeRange(l: Latency): [number, number] | null {
  const starts = [...l.flows.map((p) => p.at), ...l.hooks.flatMap((h) => h.points.map((p) => p.at))];
  if (starts.length === 0) return null;
  return [Math.min(...starts), Math.max(...starts) + l.bucket_seconds];
}

export function latencySpec(l: Latency, range: [number, number]): { spec: ChartSpec; unit: string } | null {
  const ran = [...new Set(l.hooks.flatMap((h) => h.points.map((p) => p.at)))].sort((a, b) => a - b);
  if (ran.length === 0) return null;
  // A bucket after a run of them with no hook run at all: its gap breaks the lines there, so
  // an idle hour reads as idle rather than as a straight line.
  const starts = ran.flatMap((s, i) => (i + 1 < ran.length && ran[i + 1] - s > l.bucket_seconds ? [s, s + l.bucket_seconds] : [s]));
  const column = new Map(starts.map((s, i) => [s, i]));
  const largest = Math.max(...l.hooks.flatMap((h) => h.points.map((p) => p.p99_us)));
  const unit = latencyUnit(largest);
  const series: ChartSeries[] = l.hooks.flatMap((h, k) => {
    const colour = HOOK_COLOURS[k % HOOK_COLOURS.length];
    const p50: (number | null)[] = starts.map(() => null);
    const p99: (number | null)[] = starts.map(() => null);
    for (const p of h.points) {
      const i = column.get(p.at)!;
      p50[i] = p.p50_us / unit.divisor;
      p99[i] = p.p99_us / unit.divisor;
    }
    return [
      { label: `${h.hook_name} p50`, color: colour, values: p50 },
      { label: `${h.hook_name} p99`, color: colour, dashed: true, values: p99 },
    ];
  });
  const digits = unit.divisor === 1 ? 0 : 2;
  const numbers = new Intl.NumberFormat("en-US", { maximumFractionDigits: digits });
  return {
    unit: unit.label,
    spec: {
      kind: "lines",
      starts,
      bucketSeconds: l.bucket_seconds,
      range,
      series,
      yLabel: `Latency (${unit.label})`,
      format: (v) => `${numbers.format(v)} ${unit.label}`,
    },
  };
}

/** The statuses the flows have: `aborted` only when the server counts some (it is not in the
 * contract this page was written to). */
export function flowStatuses(l: Latency): [Counted, string][] {
  return STATUS_COLOURS.filter(([k]) => k !== "aborted" || l.flows.some((p) => (p.aborted ?? 0) > 0));
}

export function outcomesSpec(l: Latency, range: [number, number]): ChartSpec | null {
  if (l.flows.length === 0) return null;
  return {
    kind: "stacked-bars",
    starts: l.flows.map((p) => p.at),
    bucketSeconds: l.bucket_seconds,
    range,
    series: flowStatuses(l).map(([k, colour]) => ({ label: k, color: colour, values: l.flows.map((p) => p[k] ?? 0) })),
    yLabel: "Runs",
    integer: true,
    format: (v) => `${count(v)} run${v === 1 ? "" : "s"}`,
  };
}
