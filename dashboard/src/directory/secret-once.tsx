// A client secret the API shows once (at creation, after a rotation): Sigil keeps only a keyed
// hash, so once this panel is gone nobody can show it again. It stays until dismissed, with a
// copy button, and never leaves the page's memory.

import { useRef, useState } from "preact/hooks";
import { done, type Notice, NoticeLine } from "../hooks/notice";

export function SecretOnce({ id, secret, clientId, onDismiss }: { id: string; secret: string; clientId: string; onDismiss: () => void }) {
  const [notice, setNotice] = useState<Notice>(null);
  const field = useRef<HTMLInputElement>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setNotice(done("Copied to the clipboard."));
    } catch {
      // No clipboard (an insecure origin, a refused permission): the text is selected instead.
      field.current?.focus();
      field.current?.select();
      setNotice({ ok: false, text: "Not copied: the browser refused the clipboard. The secret is selected: copy it with Ctrl+C (⌘C)." });
    }
  }

  return (
    <div id={id} class="secret-once" role="region" aria-labelledby={`${id}-title`}>
      <p id={`${id}-title`}>
        <strong>The client secret of {clientId}, shown only this once.</strong> Store it now, in your application's secret
        store: Sigil keeps only a hash of it and cannot show it again. Lost, it can only be replaced by rotating.
      </p>
      <div class="inline-form">
        <label>
          Client secret{" "}
          <input
            id={`${id}-value`}
            ref={field}
            class="secret-value"
            readOnly
            spellcheck={false}
            autocomplete="off"
            value={secret}
            onFocus={(e) => e.currentTarget.select()}
          />
        </label>
        <button id={`${id}-copy`} type="button" class="primary" onClick={copy}>
          Copy
        </button>
        <button id={`${id}-dismiss`} type="button" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
      <NoticeLine id={`${id}-notice`} notice={notice} />
    </div>
  );
}
