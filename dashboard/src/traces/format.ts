// How the traces pages write times, spans and what ran; numbers and durations come from the
// hooks pages' format.ts so both read the same. Fixed to en-US like the rest of the dashboard.

import { count } from "../hooks/format";

/** An RFC 3339 time to the second, in the browser's zone: runs come seconds apart, so the
 * minute `when` shows would not tell them apart. */
export function moment(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "medium" });
}

/** An epoch-seconds bucket start, as `moment` writes it. */
export function bucketStart(epochSeconds: number): string {
  return moment(new Date(epochSeconds * 1000).toISOString());
}

/** A bucket's width in the largest whole unit ("5 minutes", "1 hour"). */
export function span(seconds: number): string {
  const units: [number, string][] = [
    [604_800, "week"],
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${count(n)} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return `${count(seconds)} second${seconds === 1 ? "" : "s"}`;
}

/** What ran, from a trace's `context`: its kind in words and the rest as it was stored. */
export function context(ctx: string): { kind: string; detail: string } {
  const colon = ctx.indexOf(":");
  const [prefix, rest] = colon < 0 ? [ctx, ""] : [ctx.slice(0, colon), ctx.slice(colon + 1)];
  switch (prefix) {
    case "login":
      return { kind: "Login", detail: rest };
    case "test":
      return { kind: "Test of", detail: rest };
    case "legacy":
      return { kind: "Legacy store", detail: rest };
    default:
      return { kind: ctx, detail: "" };
  }
}

/** An outcome as read aloud: `failed_open` is two words. */
export const outcomeText = (outcome: string) => outcome.replace(/_/g, " ");

/** The unit a set of microsecond values reads best in: milliseconds once they reach 10 ms. */
export function latencyUnit(largestUs: number): { label: string; divisor: number } {
  return largestUs >= 10_000 ? { label: "ms", divisor: 1000 } : { label: "µs", divisor: 1 };
}
