// How a run's status and a hook's outcome show, the same in the list and on a trace's page. The
// word is always written out: the colour only repeats it.

import { outcomeText } from "./format";

export function StatusBadge({ status, id }: { status: string; id?: string }) {
  return (
    <span id={id} class={`status-badge ${status}`} data-status={status}>
      {status}
    </span>
  );
}

export function OutcomeWord({ outcome }: { outcome: string }) {
  return <span class={`outcome-word ${outcome}`}>{outcomeText(outcome)}</span>;
}
