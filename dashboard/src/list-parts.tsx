// What every server-paged list shows around its rows: the loading line, the empty line, the
// failure and the "More" button.

import type { ComponentChildren } from "preact";
import type { Paged } from "./paged";
import { Failure } from "./ui";

/** The list's first-page states; renders `children` (the table) once there are rows. */
export function ListBody<T>({
  paged,
  loadingText,
  emptyId,
  emptyText,
  children,
}: {
  paged: Paged<T>;
  loadingText: string;
  emptyId: string;
  emptyText: ComponentChildren;
  children: ComponentChildren;
}) {
  if (paged.items === null) {
    return (
      <p role="status" class="muted">
        {paged.loading ? loadingText : ""}
      </p>
    );
  }
  if (paged.items.length === 0) {
    return (
      <p id={emptyId} class="muted">
        {emptyText}
      </p>
    );
  }
  return <>{children}</>;
}

/** The failure of the last load, and "More" while the server has more; with `moreText`
 * ("more users") the button says what it is loading. */
export function ListFooter<T>({ paged, moreId, moreText }: { paged: Paged<T>; moreId: string; moreText?: string }) {
  return (
    <>
      <Failure error={paged.failure} />
      {paged.more && (
        <div class="actions">
          <button id={moreId} disabled={paged.loading} onClick={paged.loadMore}>
            {paged.loading && moreText ? `Loading ${moreText}…` : "More"}
          </button>
        </div>
      )}
    </>
  );
}
