// The flow's bindings as an ordered list, reordered with the buttons (keyboard) or by dragging
// an item (pointer). Both end in the same move, and the list says where the item went, since a
// reorder is otherwise silent to a screen reader.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Binding, FailurePolicy, Hook } from "./types";

/** A binding with a local identity: the same hook may be bound twice, and focus and drag must
 * follow the item, not its position. */
export interface Item {
  key: number;
  binding: Binding;
}

const POLICIES: [FailurePolicy, string][] = [
  ["fail_closed", "Fail closed: stop the login"],
  ["fail_open", "Fail open: skip its effects and go on"],
];

/** `list` with the item at `from` moved to stand before what is now at `to` (0..length). */
function moved<T>(list: T[], from: number, to: number): T[] {
  const out = list.slice();
  const [x] = out.splice(from, 1);
  out.splice(to > from ? to - 1 : to, 0, x);
  return out;
}

/** Where a drop on an item puts the dragged one: before it in its upper half, else after it. */
function slot(e: DragEvent, index: number): number {
  const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
  return e.clientY < box.top + box.height / 2 ? index : index + 1;
}

export interface FlowListProps {
  items: Item[];
  /** Known hooks by id, for names and deployed versions. */
  hooks: Map<string, Hook>;
  /** The position the API's last error named (`bindings[i]`), if any. */
  errorAt: number | null;
  onChange: (items: Item[]) => void;
}

export function FlowList({ items, hooks, errorAt, onChange }: FlowListProps) {
  const [drag, setDrag] = useState<{ from: number; to: number | null } | null>(null);
  const [said, setSaid] = useState("");
  const list = useRef<HTMLOListElement>(null);
  // After a keyboard move or removal, the control to focus once the list has re-rendered:
  // moving the focused node in the DOM drops its focus in some browsers.
  const focusAfter = useRef<{ key: number; control: string } | null>(null);

  useEffect(() => {
    const want = focusAfter.current;
    focusAfter.current = null;
    if (!want || !list.current) return;
    const li = list.current.querySelector<HTMLElement>(`li[data-key="${want.key}"]`);
    const pick = (cls: string) => li?.querySelector<HTMLButtonElement>(`button.${cls}`);
    let target = pick(want.control);
    if (target?.disabled) target = pick(want.control === "move-up" ? "move-down" : "move-up");
    if (target && !target.disabled) target.focus();
    else document.getElementById("flow-add-hook")?.focus();
  }, [items]);

  const nameOf = (b: Binding) => hooks.get(b.hook)?.name ?? b.hook;

  function move(from: number, to: number, control?: string) {
    const next = moved(items, from, to);
    const at = next.indexOf(items[from]);
    if (at === from) return;
    if (control) focusAfter.current = { key: items[from].key, control };
    setSaid(`${nameOf(items[from].binding)} moved to position ${at + 1} of ${items.length}.`);
    onChange(next);
  }

  function remove(index: number) {
    const next = items.filter((_, i) => i !== index);
    const neighbour = next[index] ?? next[index - 1];
    if (neighbour) focusAfter.current = { key: neighbour.key, control: "flow-remove" };
    else focusAfter.current = { key: -1, control: "" };
    setSaid(`${nameOf(items[index].binding)} removed from the flow.`);
    onChange(next);
  }

  function setPolicy(index: number, failure_policy: FailurePolicy) {
    onChange(items.map((it, i) => (i === index ? { ...it, binding: { ...it.binding, failure_policy } } : it)));
  }

  function dragOver(e: DragEvent, index: number) {
    // Only our own items: a file or text dragged in from elsewhere is not a binding.
    if (!drag) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "move";
    const to = slot(e, index);
    if (to !== drag.to) setDrag({ ...drag, to });
  }

  function drop(e: DragEvent, index: number) {
    if (!drag) return;
    e.preventDefault();
    move(drag.from, slot(e, index));
    setDrag(null);
  }

  /** The drop indicator's place, when dropping there would change the order. */
  const indicator = drag && drag.to !== null && drag.to !== drag.from && drag.to !== drag.from + 1 ? drag.to : null;

  return (
    <>
      <ol
        id="flow-list"
        ref={list}
        class={drag ? "flow-list dragging" : "flow-list"}
        aria-describedby="flow-list-help"
        onDragLeave={(e) => {
          if (drag && !list.current?.contains(e.relatedTarget as Node | null)) setDrag({ ...drag, to: null });
        }}
      >
        {items.map((it, i) => {
          const b = it.binding;
          const name = nameOf(b);
          const hook = hooks.get(b.hook);
          const classes = ["flow-item"];
          if (drag?.from === i) classes.push("being-dragged");
          if (indicator === i) classes.push("drop-before");
          if (indicator === items.length && i === items.length - 1) classes.push("drop-after");
          if (errorAt === i) classes.push("flow-error");
          return (
            <li
              key={it.key}
              data-key={it.key}
              data-hook={b.hook}
              class={classes.join(" ")}
              draggable
              onDragStart={(e) => {
                setDrag({ from: i, to: null });
                if (e.dataTransfer) {
                  e.dataTransfer.effectAllowed = "move";
                  // Firefox starts a drag only with data set.
                  e.dataTransfer.setData("text/plain", name);
                }
              }}
              onDragOver={(e) => dragOver(e, i)}
              onDrop={(e) => drop(e, i)}
              onDragEnd={() => setDrag(null)}
            >
              <span class="drag-handle" aria-hidden="true">
                ⠿
              </span>
              <span class="flow-hook">
                <a class="flow-hook-name" href={`#/hooks/${hook?.id ?? b.hook}`}>
                  {name}
                </a>
                <span class="muted flow-version">
                  {b.version != null
                    ? ` pinned to version ${b.version}`
                    : hook?.deployed_version != null
                      ? ` deployed version (${hook.deployed_version})`
                      : " deployed version"}
                  {b.deadline_ms !== undefined && `, deadline ${b.deadline_ms} ms`}
                </span>
              </span>
              <label class="flow-policy-label">
                On failure{" "}
                <select
                  class="flow-policy"
                  aria-label={`On failure: ${name}`}
                  value={b.failure_policy}
                  onChange={(e) => setPolicy(i, e.currentTarget.value as FailurePolicy)}
                >
                  {POLICIES.map(([value, label]) => (
                    <option value={value}>{label}</option>
                  ))}
                </select>
              </label>
              <span class="flow-buttons">
                <button type="button" class="move-up" aria-label={`Move up: ${name}`} disabled={i === 0} onClick={() => move(i, i - 1, "move-up")}>
                  Move up
                </button>
                <button
                  type="button"
                  class="move-down"
                  aria-label={`Move down: ${name}`}
                  disabled={i === items.length - 1}
                  onClick={() => move(i, i + 2, "move-down")}
                >
                  Move down
                </button>
                <button type="button" class="flow-remove" aria-label={`Remove: ${name}`} onClick={() => remove(i)}>
                  Remove
                </button>
              </span>
            </li>
          );
        })}
      </ol>
      <p id="flow-list-help" class="sr-only">
        Reorder with the Move up and Move down buttons, or drag an item.
      </p>
      <p id="flow-live" class="sr-only" role="status">
        {said}
      </p>
    </>
  );
}
