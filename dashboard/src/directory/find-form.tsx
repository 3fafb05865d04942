// Finding records by a value the API filters on: exactly (a user's email, an external id, an
// organization's name) or, where the API has one, by prefix (a user's email). Each page says
// which, so that "ada" never looks like a search that found nobody.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { enc } from "../api";
import { type Notice, NoticeLine } from "../hooks/notice";

export interface Found {
  /** The API's filter parameter (`email`, `external_id`, `name`); "" when nothing is applied. */
  by: string;
  value: string;
}

export const NOTHING_FOUND: Found = { by: "", value: "" };

export interface FindOption {
  by: string;
  label: string;
  type?: "email" | "text";
}

/** The search of a list of named things (applications, APIs, roles, organizations): by the start
 * of the name, the API's `name_prefix`. */
export const BY_NAME_PREFIX: FindOption = { by: "name_prefix", label: "Name starting with" };

/** The `describe` of a list found only by the start of the name: "Showing the APIs whose name
 * starts with …", or "Showing every API." */
export function describeByName(plural: string, one: string): (f: Found) => string {
  return (f) => (f.by ? `Showing the ${plural} whose name starts with ${f.value}.` : `Showing every ${one}.`);
}

export function FindForm({
  prefix,
  label,
  options,
  applied,
  onApply,
  describe,
  children,
}: {
  /** Ids `{prefix}-find`, `-find-by`, `-find-value`, `-find-submit`, `-find-clear`, `-find-notice`. */
  prefix: string;
  /** The form's name: "Find a user". */
  label: string;
  options: FindOption[];
  applied: Found;
  onApply: (f: Found) => void;
  /** The applied filter in words: "Showing the user whose email is …". */
  describe: (f: Found) => string;
  /** What the search matches, in words (shown under the fields). */
  children: ComponentChildren;
}) {
  const [by, setBy] = useState(applied.by || options[0].by);
  const [value, setValue] = useState(applied.value);
  const [notice, setNotice] = useState<Notice>(null);
  const option = options.find((o) => o.by === by) ?? options[0];
  // One field whose keyboard suits the value (an email's), the same element otherwise.
  const field = {
    id: `${prefix}-find-value`,
    autocomplete: "off",
    spellcheck: false,
    value,
    "aria-describedby": `${prefix}-find-help`,
    onInput: (e: Event) => setValue((e.currentTarget as HTMLInputElement).value),
  };

  useEffect(() => {
    setBy(applied.by || options[0].by);
    setValue(applied.value);
  }, [applied]);

  function submit(e: Event) {
    e.preventDefault();
    const v = value.trim();
    const f = v ? { by, value: v } : NOTHING_FOUND;
    setNotice({ ok: true, text: describe(f) });
    onApply(f);
  }

  function clear() {
    setValue("");
    setNotice({ ok: true, text: describe(NOTHING_FOUND) });
    onApply(NOTHING_FOUND);
  }

  return (
    <form id={`${prefix}-find`} class="find-form" role="search" aria-label={label} noValidate onSubmit={submit}>
      <div class="inline-form">
        <label>
          Find by{" "}
          <select id={`${prefix}-find-by`} value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            {options.map((o) => (
              <option key={o.by} value={o.by}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span class="sr-only">{option.label}</span>
          {option.type === "email" ? <input type="email" {...field} /> : <input type="text" {...field} />}
        </label>
        <button id={`${prefix}-find-submit`} type="submit" class="primary">
          Find
        </button>
        <button id={`${prefix}-find-clear`} type="button" disabled={!applied.by && !value} onClick={clear}>
          Show all
        </button>
      </div>
      <p id={`${prefix}-find-help`} class="muted">
        {children}
      </p>
      <NoticeLine id={`${prefix}-find-notice`} notice={notice} />
    </form>
  );
}

/** Where a list page keeps its applied filter while the dashboard stays open, so that coming
 * back from a record finds the list filtered as it was (the route has no room for a query). */
export interface FoundMemory {
  found: Found;
}

/** A list page's applied filter: its query string, the generation that lists again from the
 * first page (on a new filter, or after a creation), and the setters. */
export function useFound(memory: FoundMemory) {
  const [found, setFound] = useState<Found>(memory.found);
  const [generation, setGeneration] = useState(0);
  const query = found.by ? `${found.by}=${enc(found.value)}` : "";
  const restart = () => setGeneration((g) => g + 1);
  function apply(f: Found) {
    memory.found = f;
    setFound(f);
    restart();
  }
  return { found, query, generation, apply, restart };
}
