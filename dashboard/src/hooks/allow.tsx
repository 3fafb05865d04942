// A hook's fetch allow-list, edited as text: one rule a line in the form `sigil hooks allow`
// takes (`HOST[/PATH][:METHOD,METHOD]`), so a bare host is a line and what the CLI prints can
// be pasted here.

import { useEffect, useState } from "preact/hooks";
import { type Api, ApiFailure, enc } from "../api";
import { reason } from "./format";
import { done, failed, type Notice, NoticeLine } from "./notice";
import type { AllowRule, Hook } from "./types";

/** The rules as lines. A rule with several paths becomes a line per path: the same
 * destinations, since a request is allowed when any rule allows it. */
export function rulesText(rules: AllowRule[]): string {
  const lines: string[] = [];
  for (const r of rules) {
    const methods = r.methods?.length ? `:${r.methods.join(",")}` : "";
    const paths = r.paths?.length ? r.paths : [""];
    for (const p of paths) lines.push(`${r.host}${p}${methods}`);
  }
  return lines.join("\n");
}

type Parsed = { rules: AllowRule[]; lines: number[] } | { line: number; message: string };

/** Parses the text as `AllowRule::from_str` does, remembering each rule's line so the API's
 * `allow[i]` errors can point at it. */
export function parseRules(text: string): Parsed {
  const rules: AllowRule[] = [];
  const lines: number[] = [];
  const all = text.split("\n");
  for (let i = 0; i < all.length; i++) {
    // A pasted URL names its host after the scheme; the scheme is the server's to enforce.
    const s = all[i].trim().replace(/^https?:\/\//i, "");
    if (!s) continue;
    let target = s;
    let methods: string[] = [];
    const colon = s.lastIndexOf(":");
    const tail = colon >= 0 ? s.slice(colon + 1) : "";
    if (tail && /^[A-Za-z,]+$/.test(tail)) {
      target = s.slice(0, colon);
      methods = tail.split(",").filter(Boolean);
    }
    const slash = target.indexOf("/");
    const host = slash >= 0 ? target.slice(0, slash) : target;
    if (!host) return { line: i + 1, message: `\`${s}\` is not HOST[/PATH][:METHODS]` };
    const rule: AllowRule = { host };
    if (slash >= 0) rule.paths = [target.slice(slash)];
    if (methods.length) rule.methods = methods;
    rules.push(rule);
    lines.push(i + 1);
  }
  return { rules, lines };
}

export function AllowList({ api, hook, onHook }: { api: Api; hook: Hook; onHook: (h: Hook) => void }) {
  const live = rulesText(hook.allow.rules);
  const [draft, setDraft] = useState(live);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  useEffect(() => setDraft(live), [live]);

  async function save(e: Event) {
    e.preventDefault();
    const parsed = parseRules(draft);
    if ("message" in parsed) {
      setNotice({ ok: false, text: `Not saved: line ${parsed.line}: ${parsed.message}.` });
      return;
    }
    setBusy(true);
    setNotice(null);
    try {
      const h = await api.put<Hook>(`/hooks/${enc(hook.id)}/allow`, { rules: parsed.rules });
      onHook(h);
      setNotice(done(h.allow.rules.length ? "Saved. Anything else the hook requests is denied." : "Saved: the hook may fetch nothing."));
    } catch (err) {
      const at = err instanceof ApiFailure ? /^allow\[(\d+)\]/.exec(err.field ?? "") : null;
      const line = at ? parsed.lines[Number(at[1])] : undefined;
      setNotice(line ? { ok: false, text: `Not saved: ${reason(err)} (line ${line})` } : failed("Not saved", err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="allow-title">
      <h2 id="allow-title">Allowed destinations</h2>
      <p class="muted">
        Where the hook's <code>fetch</code> may go (contract 0.2.0). One rule a line: a host (<code>api.example.com</code>, or{" "}
        <code>*.example.com</code> for the names below it), optionally a path prefix and methods, as in{" "}
        <code>crm.example.com/v1/accounts:GET,POST</code>. Empty: the hook may fetch nothing.
      </p>
      <form onSubmit={save}>
        <label for="allow-hosts">Allowed destinations, one a line</label>
        <textarea
          id="allow-hosts"
          rows={Math.max(4, draft.split("\n").length + 1)}
          spellcheck={false}
          autocomplete="off"
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <div class="actions">
          <button id="allow-save" type="submit" class="primary" disabled={busy || draft.trim() === live.trim()}>
            Save destinations
          </button>
        </div>
      </form>
      <NoticeLine id="allow-notice" notice={notice} />
    </section>
  );
}
