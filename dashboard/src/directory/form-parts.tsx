// Pieces of the directory's forms that look and behave the same on every page.

import { type ComponentChildren, Fragment } from "preact";
import { type Notice, NoticeLine } from "../hooks/notice";

/** A `field-grid` form's submit button, in the grid's last row. */
export function GridSubmit({ id, busy, busyText, text }: { id: string; busy: boolean; busyText: string; text: string }) {
  return (
    <div class="actions field-grid-actions">
      <button id={id} type="submit" class="primary" disabled={busy}>
        {busy ? busyText : text}
      </button>
    </div>
  );
}

export interface TextField<K extends string> {
  key: K;
  id: string;
  label: string;
  /** Said under the input (and named by its `aria-describedby`) when not empty. */
  hint: string;
  type?: "text";
  inputMode?: "url";
}

/** One labelled text input a field, each with its hint, in a `field-grid` form. */
export function TextFields<K extends string>({
  fields,
  draft,
  invalid,
  onInput,
}: {
  fields: readonly TextField<K>[];
  draft: Record<K, string>;
  invalid: (key: K) => "true" | undefined;
  onInput: (key: K, value: string) => void;
}) {
  return (
    <>
      {fields.map((f) => (
        <Fragment key={f.key}>
          <label for={f.id}>{f.label}</label>
          <div>
            <input
              id={f.id}
              type={f.type}
              inputMode={f.inputMode}
              autocomplete="off"
              spellcheck={false}
              value={draft[f.key]}
              aria-invalid={invalid(f.key)}
              aria-describedby={f.hint ? `${f.id}-help` : undefined}
              onInput={(e) => onInput(f.key, e.currentTarget.value)}
            />
            {f.hint && (
              <p id={`${f.id}-help`} class="muted hint">
                {f.hint}
              </p>
            )}
          </div>
        </Fragment>
      ))}
    </>
  );
}

/** A creation's notice, with a link to what it created once it succeeded. */
export function CreatedNotice({
  id,
  notice,
  linkId,
  href,
  children,
}: {
  id: string;
  notice: Notice;
  linkId: string;
  /** Undefined until something is created. */
  href: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <NoticeLine id={id} notice={notice}>
      {href !== undefined && notice?.ok && (
        <a id={linkId} href={href}>
          {children}
        </a>
      )}
    </NoticeLine>
  );
}

/** An editor's buttons under its form: `children` (extra controls) and save, both left out
 * for a built-in row, then Close. */
export function EditorActions({
  prefix,
  builtIn,
  busy,
  saveText,
  onClose,
  children,
}: {
  /** Ids `{prefix}-save`, `{prefix}-editor-close`. */
  prefix: string;
  builtIn: boolean;
  busy: boolean;
  saveText: string;
  onClose: () => void;
  children?: ComponentChildren;
}) {
  return (
    <div class="actions">
      {!builtIn && (
        <>
          {children}
          <button id={`${prefix}-save`} type="submit" class="primary" disabled={busy}>
            {busy ? "Saving…" : saveText}
          </button>
        </>
      )}
      <button id={`${prefix}-editor-close`} type="button" onClick={onClose}>
        Close
      </button>
    </div>
  );
}
