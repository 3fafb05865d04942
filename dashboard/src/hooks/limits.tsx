// The limits form, for a hook's overrides and for the tenant's. An override can only lower what
// it applies to (the server ignores a higher value), so each row shows what it lowers and what
// then applies.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure } from "../api";
import { bytes, count } from "./format";
import { done, failed, type Notice, NoticeLine } from "./notice";
import type { LimitName, LimitOverrides, Limits } from "./types";

type Unit = "ms" | "fuel" | "bytes";

/** Every field of `LimitOverrides`, in the order of docs/hooks.md's table. */
export const LIMITS: { name: LimitName; label: string; unit: Unit }[] = [
  { name: "deadline_ms", label: "Deadline of one run", unit: "ms" },
  { name: "flow_deadline_ms", label: "Deadline of the whole flow", unit: "ms" },
  { name: "fuel", label: "Fuel (instructions)", unit: "fuel" },
  { name: "memory_bytes", label: "Linear memory", unit: "bytes" },
  { name: "event_bytes", label: "Largest event", unit: "bytes" },
  { name: "claim_bytes", label: "Custom claims per token", unit: "bytes" },
  { name: "log_bytes", label: "Log output", unit: "bytes" },
];

function show(v: number, unit: Unit): string {
  if (unit === "ms") return `${count(v)} ms`;
  if (unit === "bytes") return bytes(v);
  return count(v);
}

/** `Limits::lowered`: what applies once `o` lowers `base`. */
export function lowered(base: Limits, o: LimitOverrides): Limits {
  const out = { ...base };
  for (const { name } of LIMITS) {
    const v = o[name];
    if (v !== null && v !== undefined) out[name] = Math.min(v, base[name]);
  }
  return out;
}

type Draft = Record<LimitName, string>;

function draftOf(o: LimitOverrides): Draft {
  const d = {} as Draft;
  for (const { name } of LIMITS) d[name] = o[name] === null || o[name] === undefined ? "" : String(o[name]);
  return d;
}

/** Separators people type in large numbers (`10_000_000`, `10,000,000`) taken out. */
const digits = (text: string) => text.replace(/[\s_,]/g, "");

/** The draft as overrides, or the first field that is not a positive whole number. */
function parse(d: Draft): { ok: LimitOverrides } | { bad: LimitName } {
  const o: LimitOverrides = {};
  for (const { name } of LIMITS) {
    const text = digits(d[name]);
    if (!text) continue;
    if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) return { bad: name };
    o[name] = Number(text);
  }
  return { ok: o };
}

export interface LimitsFormProps {
  /** Input ids are `{prefix}-{limit}`, the effective values' `{prefix}-{limit}-effective`. */
  prefix: string;
  saveId: string;
  noticeId: string;
  overrides: LimitOverrides;
  /** What the overrides lower (null until known). */
  base: Limits | null;
  /** Whose `base` is, for the column heading: "Tenant's", "Operator's ceiling". */
  baseLabel: string;
  save: (o: LimitOverrides) => Promise<void>;
}

export function LimitsForm({ prefix, saveId, noticeId, overrides, base, baseLabel, save }: LimitsFormProps) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(overrides));
  const [invalid, setInvalid] = useState<LimitName | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  // By content: the page reloads its hook after other changes (a secret), which must not wipe
  // an unsaved draft here.
  const saved = JSON.stringify(overrides);
  useEffect(() => setDraft(draftOf(overrides)), [saved]);

  function focus(name: LimitName) {
    form.current?.querySelector<HTMLInputElement>(`#${prefix}-${name}`)?.focus();
  }

  async function submit(e: Event) {
    e.preventDefault();
    const parsed = parse(draft);
    if ("bad" in parsed) {
      setInvalid(parsed.bad);
      setNotice({ ok: false, text: `Not saved: limits.${parsed.bad}: must be a whole number above 0, or empty to keep the limit it lowers.` });
      focus(parsed.bad);
      return;
    }
    setBusy(true);
    setInvalid(null);
    setNotice(null);
    try {
      await save(parsed.ok);
      setNotice(done("Saved. Logins use these limits within 5 seconds on every node."));
    } catch (err) {
      setNotice(failed("Not saved", err));
      // The server names `limits.fuel` (a refused value) or `fuel` (a body it could not read).
      const field = err instanceof ApiFailure ? err.field?.replace(/^limits\./, "") : undefined;
      const hit = LIMITS.find((l) => l.name === field);
      if (hit) {
        setInvalid(hit.name);
        focus(hit.name);
      }
    } finally {
      setBusy(false);
    }
  }

  const current = parse(draft);
  const applied = base && "ok" in current ? lowered(base, current.ok) : null;
  return (
    <form ref={form} class="limits" onSubmit={submit}>
      <table class="data">
        <thead>
          <tr>
            <th scope="col">Limit</th>
            <th scope="col">Override (empty keeps it)</th>
            <th scope="col">{baseLabel}</th>
            <th scope="col">Effective</th>
          </tr>
        </thead>
        <tbody>
          {LIMITS.map(({ name, label, unit }) => {
            const id = `${prefix}-${name}`;
            const ignored = base !== null && digits(draft[name]) !== "" && Number(digits(draft[name])) > base[name];
            return (
              <tr>
                <th scope="row">
                  <label for={id}>
                    {label} <span class="muted">({unit === "fuel" ? "units" : unit})</span>
                  </label>
                </th>
                <td>
                  <input
                    id={id}
                    name={name}
                    inputMode="numeric"
                    autocomplete="off"
                    value={draft[name]}
                    aria-invalid={invalid === name ? "true" : undefined}
                    aria-describedby={`${id}-effective`}
                    placeholder={base ? String(base[name]) : ""}
                    onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
                  />
                </td>
                <td>{base ? show(base[name], unit) : "…"}</td>
                <td id={`${id}-effective`}>
                  {applied ? show(applied[name], unit) : "…"}
                  {ignored && <span class="muted"> (higher than it lowers: ignored)</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div class="actions">
        <button id={saveId} type="submit" class="primary" disabled={busy}>
          Save limits
        </button>
      </div>
      <NoticeLine id={noticeId} notice={notice} />
    </form>
  );
}
