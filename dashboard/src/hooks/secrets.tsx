// A hook's secrets. Values are write-only: the API never returns one, so the page lists names
// and keeps a typed value only until it is sent.

import { useState } from "preact/hooks";
import { type Api, enc } from "../api";
import { done, failed, type Notice, NoticeLine } from "./notice";
import type { Hook } from "./types";

export function Secrets({ api, hook, onChanged }: { api: Api; hook: Hook; onChanged: () => Promise<void> }) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const base = `/hooks/${enc(hook.id)}/secrets`;

  async function save(e: Event) {
    e.preventDefault();
    const n = name.trim();
    if (!n) return setNotice({ ok: false, text: "Not saved: name: give the secret a name." });
    setBusy(true);
    setNotice(null);
    try {
      await api.put(`${base}/${enc(n)}`, { value });
      const replaced = hook.secrets.includes(n);
      setValue("");
      setNotice(done(`${replaced ? "Replaced" : "Saved"} the secret ${n}. Logins get it within 5 seconds on every node.`));
      await onChanged();
    } catch (err) {
      setNotice(failed("Not saved", err));
    } finally {
      setBusy(false);
    }
  }

  async function remove(secret: string) {
    setBusy(true);
    setNotice(null);
    try {
      await api.delete(`${base}/${enc(secret)}`);
      setNotice(done(`Deleted the secret ${secret}.`));
      await onChanged();
    } catch (err) {
      setNotice(failed("Not deleted", err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="secrets-title">
      <h2 id="secrets-title">Secrets</h2>
      <p class="muted">
        Encrypted at rest and never shown again. A hook reads one with <code>api.secret(name)</code> or puts it in a request
        header as <code>{"{{secrets.NAME}}"}</code> (contract 0.2.0); 0.1.0 hooks get them in the event.
      </p>
      {hook.secrets.length === 0 ? (
        <p id="secret-list" class="muted">
          No secrets.
        </p>
      ) : (
        <ul id="secret-list" class="names">
          {hook.secrets.map((s) => (
            <li data-secret={s}>
              <code>{s}</code>{" "}
              <button class="secret-delete" data-secret={s} aria-label={`Delete the secret ${s}`} disabled={busy} onClick={() => remove(s)}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={save}>
        <label>
          Name{" "}
          <input
            id="secret-name"
            autocomplete="off"
            spellcheck={false}
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Value <input type="password" id="secret-value" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <button id="secret-save" type="submit" disabled={busy}>
          {hook.secrets.includes(name.trim()) ? "Replace secret" : "Save secret"}
        </button>
      </form>
      <NoticeLine id="secret-notice" notice={notice} />
    </section>
  );
}
