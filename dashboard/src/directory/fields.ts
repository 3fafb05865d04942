// Form helpers shared by the directory pages: the field a refusal names (to mark and focus the
// input it concerns), lists typed one item a line, and optional text the API clears with null.

import { ApiFailure } from "../api";
import { reason } from "../hooks/format";
import type { Notice } from "../hooks/notice";

/** The field the API named (`email`, `redirect_uris[2]`, `scopes[0].value`), if any. */
export function fieldOf(e: unknown): string | undefined {
  return e instanceof ApiFailure ? e.field : undefined;
}

/** The list and index of an item field: `redirect_uris[2]` is `["redirect_uris", 2]`. */
export function itemOf(field: string | undefined): [string, number] | undefined {
  const m = field ? /^([a-z_]+)\[(\d+)\]/.exec(field) : null;
  return m ? [m[1], Number(m[2])] : undefined;
}

/** Whether `field` is `name` or something inside it (`user_metadata.plan`, `roles[0]`). */
export function within(field: string | undefined, name: string): boolean {
  return field !== undefined && (field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`));
}

/** A textarea's items, one a line, blank lines skipped; `lines[i]` is item i's line (from 1),
 * so an error on `list[i]` can say which line to fix. */
export function splitLines(text: string): { items: string[]; lines: number[] } {
  const items: string[] = [];
  const lines: number[] = [];
  text.split("\n").forEach((raw, i) => {
    const s = raw.trim();
    if (!s) return;
    items.push(s);
    lines.push(i + 1);
  });
  return { items, lines };
}

/** A refusal of `list[i]` as the line the user typed it on, or undefined for any other. */
export function lineOf(e: unknown, list: string, lines: number[]): number | undefined {
  const item = itemOf(fieldOf(e));
  return item && item[0] === list ? lines[item[1]] : undefined;
}

/** Optional text as the API takes it in a PATCH: empty clears the field (null). */
export const orNull = (s: string): string | null => (s.trim() === "" ? null : s.trim());

/** Optional text as the API takes it at creation: empty is left out. */
export const orAbsent = (s: string): string | undefined => (s.trim() === "" ? undefined : s.trim());

export const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A refusal the page makes itself, worded and shaped like the API's (a field, a message). */
export const refuse = (field: string, message: string) => new ApiFailure(400, "invalid_field", message, field);

/** A failed action's notice, as `failed` writes it, with the line of the item the API named. */
export function failedOnLine(what: string, e: unknown, line: number | undefined): Notice {
  return { ok: false, text: `${what}: ${reason(e)}${line ? ` (line ${line})` : ""}` };
}
