// One uPlot chart over time buckets, with a legend of its own: uPlot's legend toggles series on
// a mouse click only, so the legend here is a set of checkboxes (keyboard and screen readers
// reach them), and it reads out the values under the pointer. The canvas itself is for eyes:
// the data table under each chart is its accessible form.

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { bucketStart } from "./format";

export interface ChartSeries {
  label: string;
  color: string;
  /** A hook's p99 is dashed, so it shares its p50's colour and still reads apart. */
  dashed?: boolean;
  /** One per bucket of the spec; null where the bucket has none. */
  values: (number | null)[];
}

export interface ChartSpec {
  kind: "lines" | "stacked-bars";
  /** Bucket starts, epoch seconds, ascending. */
  starts: number[];
  bucketSeconds: number;
  /** The x range, epoch seconds: the same for every chart of a page, so their times line up. */
  range: [number, number];
  series: ChartSeries[];
  yLabel: string;
  /** Counts: no fractional ticks. */
  integer?: boolean;
  /** A value as the readout writes it (in the y axis's unit). */
  format: (v: number) => string;
}

const HEIGHT = 260;
const INK = "#5b6170";
const GRID = "#e6e8ee";
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
// Hovering one chart shows the same time in the other.
const SYNC = "sigil-traces";
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

/** The y values uPlot draws: stacked bars are cumulative, hidden series adding nothing. */
function plotted(spec: ChartSpec, shown: boolean[]): uPlot.AlignedData {
  // Lines sit at the middle of their bucket, where the bars' middles are.
  const xs = spec.starts.map((s) => s + spec.bucketSeconds / 2);
  if (spec.kind === "lines") return [xs, ...spec.series.map((s) => s.values)];
  const sum = spec.starts.map(() => 0);
  const ys = spec.series.map((s, i) => {
    if (shown[i]) s.values.forEach((v, k) => (sum[k] += v ?? 0));
    return [...sum];
  });
  return [xs, ...ys];
}

/** The series below series `i` (1-based, as uPlot counts) that is shown: a bar starts there. */
function base(u: uPlot, i: number): number[] {
  for (let j = i - 1; j >= 1; j--) {
    if (u.series[j].show !== false) return u.data[j] as number[];
  }
  return (u.data[0] as number[]).map(() => 0);
}

function options(spec: ChartSpec, width: number, onCursor: (idx: number | null) => void): uPlot.Options {
  const bars =
    spec.kind === "stacked-bars"
      ? uPlot.paths.bars!({
          // Each bar covers its bucket (less a tenth, to keep them apart), from the top of
          // the one below it: the buckets are sparse, so uPlot cannot guess a width.
          disp: {
            x0: { unit: 1 as uPlot.Series.BarsPathBuilderFacetUnit, values: () => spec.starts.map((s) => s + spec.bucketSeconds * 0.05) },
            size: { unit: 1 as uPlot.Series.BarsPathBuilderFacetUnit, values: () => spec.starts.map(() => spec.bucketSeconds * 0.9) },
            y0: { unit: 1 as uPlot.Series.BarsPathBuilderFacetUnit, values: (u, i) => base(u, i) },
            y1: { unit: 1 as uPlot.Series.BarsPathBuilderFacetUnit, values: (u, i) => u.data[i] as number[] },
          },
        })
      : undefined;
  const axis = { stroke: INK, font: FONT, labelFont: FONT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: {
      // Zooming by dragging has no keyboard equivalent, and the table already holds every value.
      drag: { x: false, y: false, setScale: false },
      sync: { key: SYNC, setSeries: false },
    },
    scales: {
      x: { time: true, range: () => [spec.range[0], spec.range[1]] },
      y: { range: (_u, _min, max) => [0, Number.isFinite(max) && max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { ...axis, label: "Time" },
      { ...axis, label: spec.yLabel, size: 60, ...(spec.integer ? { incrs: COUNT_STEPS } : {}) },
    ],
    series: [
      {},
      ...spec.series.map((s): uPlot.Series =>
        bars
          ? { label: s.label, fill: s.color, stroke: s.color, width: 0, paths: bars, points: { show: false } }
          : {
              label: s.label,
              stroke: s.color,
              width: 2,
              dash: s.dashed ? [6, 4] : undefined,
              // A gap is a bucket the hook did not run in, not a zero: the line breaks there,
              // and each real bucket is marked so a lone one still shows.
              spanGaps: false,
              points: { show: true, size: 5, fill: s.color },
            },
      ),
    ],
    hooks: { setCursor: [(u) => onCursor(u.cursor.idx ?? null)] },
  };
}

/** The host's width; a host not laid out yet (in a closed panel) gets a usable default. */
const widthOf = (el: HTMLElement) => Math.floor(el.clientWidth) || 600;

export function Chart({ id, label, spec }: { id: string; label: string; spec: ChartSpec }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [shown, setShown] = useState<boolean[]>(() => spec.series.map(() => true));
  const [at, setAt] = useState<number | null>(null);

  // A new spec (other filters, a reload) is a new chart, with every series shown again.
  useEffect(() => {
    const el = host.current!;
    const all = spec.series.map(() => true);
    setShown(all);
    setAt(null);
    const u = new uPlot(options(spec, widthOf(el), setAt), plotted(spec, all), el);
    plot.current = u;
    const resized = new ResizeObserver(() => {
      const w = widthOf(el);
      if (w !== u.width) u.setSize({ width: w, height: HEIGHT });
    });
    resized.observe(el);
    return () => {
      resized.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [spec]);

  function toggle(i: number) {
    const next = shown.map((s, j) => (j === i ? !s : s));
    setShown(next);
    const u = plot.current;
    if (!u) return;
    u.batch(() => {
      u.setSeries(i + 1, { show: next[i] });
      // The bars above a hidden one come down to fill its place.
      if (spec.kind === "stacked-bars") u.setData(plotted(spec, next));
    });
  }

  const value = (s: ChartSeries) => {
    const v = at === null ? null : s.values[at];
    return v === null || v === undefined ? "–" : spec.format(v);
  };

  return (
    <figure class="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{label}</figcaption>
      <div id={id} class="chart-plot" ref={host} role="img" aria-label={`${label}: chart; the same values are in the data table below`} />
      <fieldset class="chart-legend">
        <legend class="sr-only">Series shown in the chart {label}</legend>
        {/* What the pointer is over; mouse users' readout (the table serves everyone else). */}
        <p class="chart-at muted" aria-hidden="true">
          {at !== null && spec.starts[at] !== undefined ? bucketStart(spec.starts[at]) : "Point at the chart to read its values."}
        </p>
        <ul>
          {spec.series.map((s, i) => (
            <li key={`${s.label}-${i}`} data-series={s.label}>
              <label>
                <input type="checkbox" checked={shown[i] ?? true} onChange={() => toggle(i)} />
                <span
                  class={`swatch ${spec.kind === "lines" ? "line" : "bar"}${s.dashed ? " dashed" : ""}`}
                  aria-hidden="true"
                  ref={(el) => {
                    // The colour is data (one per hook); CSS draws the swatch in currentColor.
                    if (el) el.style.color = s.color;
                  }}
                />
                {s.label}
                <span class="chart-value" aria-hidden="true">
                  {value(s)}
                </span>
              </label>
            </li>
          ))}
        </ul>
      </fieldset>
    </figure>
  );
}
