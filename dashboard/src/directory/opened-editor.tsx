// A list page whose rows open, one at a time, in an editor below the list (the APIs and the
// roles): which row is open, where focus goes around it, and its Edit (or, built in, View)
// button.

import { useRef, useState } from "preact/hooks";
import type { Paged } from "../paged";

export function useOpenedEditor<T extends { id: string }>(paged: Paged<T>, titleId: string) {
  const [open, setOpen] = useState<T | null>(null);
  const opener = useRef<HTMLElement | null>(null);

  return {
    open,
    /** The row's button opens its editor, or closes it when it is the one open. */
    toggle(e: { currentTarget: HTMLElement }, item: T) {
      opener.current = e.currentTarget;
      setOpen(open?.id === item.id ? null : item);
    },
    /** A closed editor gives focus back to the button that opened it. */
    close() {
      setOpen(null);
      opener.current?.focus();
    },
    /** Opens `item` without a button to go back to (just created). */
    show(item: T) {
      opener.current = null;
      setOpen(item);
    },
    saved(item: T) {
      setOpen(item);
      paged.edit((all) => all.map((x) => (x.id === item.id ? item : x)));
    },
    /** The deleted row's button is gone with it, so focus goes to the page's title. */
    deleted() {
      const gone = open?.id;
      paged.edit((all) => all.filter((x) => x.id !== gone));
      setOpen(null);
      document.getElementById(titleId)?.focus();
    },
  };
}

export type OpenedEditor<T extends { id: string }> = ReturnType<typeof useOpenedEditor<T>>;

/** Class `{prefix}-edit`, `data-{prefix}-id`, `aria-controls="{prefix}-editor"`. */
export function EditButton<T extends { id: string }>({
  prefix,
  row,
  what,
  builtIn,
  editor,
}: {
  prefix: string;
  row: T;
  /** The row in the button's name: "the API Reports". */
  what: string;
  builtIn: boolean;
  editor: OpenedEditor<T>;
}) {
  const verb = builtIn ? "View" : "Edit";
  return (
    <button
      class={`${prefix}-edit`}
      {...{ [`data-${prefix}-id`]: row.id }}
      aria-expanded={editor.open?.id === row.id ? "true" : "false"}
      aria-controls={`${prefix}-editor`}
      aria-label={`${verb} ${what}`}
      onClick={(e) => editor.toggle(e, row)}
    >
      {verb}
    </button>
  );
}
