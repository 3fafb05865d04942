// How the hooks pages write numbers, sizes and times. Fixed to en-US so the page reads the same
// whatever the browser's locale (the rest of the dashboard is English).

import { ApiFailure } from "../api";

const numbers = new Intl.NumberFormat("en-US");

export function count(n: number): string {
  return numbers.format(n);
}

/** Bytes in the largest binary unit that keeps a whole or one-decimal number. */
export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** Microseconds (how traces count time) as milliseconds. */
export function micros(us: number): string {
  return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
}

/** An RFC 3339 time, shortened to the minute in the browser's zone, for lists. */
export function when(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

/** JSON as the result panels show it. */
export function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

/** A failure as one line: what the API said, with the field it named (as `Failure` shows it). */
export function reason(e: unknown): string {
  if (e instanceof ApiFailure) return e.status === 403 ? `Not allowed: ${e.message}` : e.describe();
  return e instanceof Error ? e.message : String(e);
}
