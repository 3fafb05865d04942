// The one-line result of an action, next to the control that did it. The element is always in
// the page, empty until there is something to say: a live region added together with its text
// is often not announced.

import type { ComponentChildren } from "preact";
import { reason } from "./format";

export type Notice = { ok: true; text: string } | { ok: false; text: string } | null;

export const done = (text: string): Notice => ({ ok: true, text });

/** A failed action's notice: `what` ("Not saved") and the API's message with its field. */
export const failed = (what: string, e: unknown): Notice => ({ ok: false, text: `${what}: ${reason(e)}` });

export function NoticeLine({ id, notice, children }: { id: string; notice: Notice; children?: ComponentChildren }) {
  const bad = notice !== null && !notice.ok;
  return (
    <p id={id} class={bad ? "notice alert" : "notice"} role={bad ? "alert" : "status"}>
      {notice?.text}
      {notice && children}
    </p>
  );
}
