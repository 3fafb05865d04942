// The state every directory form keeps around one request: the field the API refused, whether
// the request is on its way, and the notice under the form.

import { useRef, useState } from "preact/hooks";
import type { Notice } from "../hooks/notice";
import { fieldOf, within } from "./fields";

export function useFormState() {
  const [bad, setBad] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const form = useRef<HTMLFormElement>(null);

  /** Runs `action` (which says its own success) with the form busy. A refusal marks the field
   * it names, says `refused(err)`, and focuses the form's element whose id `target` gives. */
  async function attempt(
    action: () => Promise<void>,
    refused: (err: unknown) => Notice,
    target: (field: string | undefined) => string | undefined = () => undefined,
  ) {
    setBusy(true);
    setBad(undefined);
    setNotice(null);
    try {
      await action();
    } catch (err) {
      const field = fieldOf(err);
      setBad(field);
      setNotice(refused(err));
      const id = target(field);
      if (id) form.current?.querySelector<HTMLElement>(`#${id}`)?.focus();
    } finally {
      setBusy(false);
    }
  }

  /** `aria-invalid` for the input of `key`. */
  const invalid = (key: string) => (within(bad, key) ? "true" : undefined);

  return { bad, setBad, busy, notice, setNotice, form, attempt, invalid };
}
