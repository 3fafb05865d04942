// An action that cannot be taken back asks first, in the page (never `window.confirm`, which
// a browser may suppress and a page cannot style or label). Focus follows the step, so a
// keyboard user lands on the safe choice and comes back to the button that asked.

import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { done, failed, type Notice, NoticeLine } from "../hooks/notice";

export interface ConfirmProps {
  /** Ids `{id}`, `{id}-confirmation`, `{id}-question`, `{id}-confirm`, `{id}-cancel`,
   * `{id}-notice`; in a table row, where ids would repeat, the same words are classes. */
  id: string;
  /** Name the parts by class rather than id (several on one page). */
  byClass?: boolean;
  /** The button that asks: "Delete user…". */
  start: string;
  /** Its accessible name when `start` alone is ambiguous (one of several in a list). */
  startLabel?: string;
  /** The question, naming what goes and what follows. */
  question: ComponentChildren;
  /** The button that does it: "Yes, delete ada@example.com". */
  yes: string;
  /** What a failure's notice starts with: "Not deleted". */
  failure: string;
  /** Runs the action and says what it did (or navigates away); throwing keeps the page as it
   * was, with the API's reason. */
  run: () => Promise<string | void>;
  disabled?: boolean;
  /** A plain (not red) button, for actions that end access rather than delete data. */
  mild?: boolean;
}

export function Confirm({ id, byClass, start, startLabel, question, yes, failure, run, disabled, mild }: ConfirmProps) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const moved = useRef(false);
  // Elements that need an id whatever the naming (aria-labelledby, the notice): unique in a row.
  const unique = useId();
  const name = (part: string) => (part ? `${id}-${part}` : id);
  /** The id and classes of one part: named by id, or by class in a row. */
  const part = (p: string, ...classes: (string | undefined)[]) => {
    const all = [byClass ? name(p) : undefined, ...classes].filter(Boolean).join(" ");
    return { id: byClass ? undefined : name(p), class: all || undefined };
  };
  const questionId = byClass ? `${name("question")}-${unique}` : name("question");
  const tone = mild ? undefined : "danger";

  useEffect(() => {
    if (!moved.current) return;
    (asking ? cancel : opener).current?.focus();
  }, [asking]);

  function step(ask: boolean) {
    moved.current = true;
    setAsking(ask);
  }

  async function confirm() {
    setBusy(true);
    setNotice(null);
    try {
      const said = await run();
      if (said) setNotice(done(said));
      // The action may have replaced this part of the page; if not, it asks afresh next time.
      step(false);
    } catch (err) {
      setNotice(failed(failure, err));
      step(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="confirm">
      {asking ? (
        <div {...part("confirmation")} role="group" aria-labelledby={questionId}>
          <p id={questionId} class={byClass ? name("question") : undefined}>
            {question}
          </p>
          <div class="actions">
            <button {...part("confirm", tone, "confirm-yes")} disabled={busy} onClick={confirm}>
              {busy ? "Working…" : yes}
            </button>
            <button {...part("cancel")} ref={cancel} disabled={busy} onClick={() => step(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <button {...part("", tone)} ref={opener} aria-label={startLabel} disabled={disabled} onClick={() => step(true)}>
          {start}
        </button>
      )}
      {byClass ? (
        <div class={name("notice")}>
          <NoticeLine id={`${name("notice")}-${unique}`} notice={notice} />
        </div>
      ) : (
        <NoticeLine id={name("notice")} notice={notice} />
      )}
    </div>
  );
}
