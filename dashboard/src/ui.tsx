// Small pieces every page uses.

import { ApiFailure } from "./api";

/** An error as the page shows it: what the API said, with the field it named. */
export function Failure({ error }: { error: unknown }) {
  if (!error) return null;
  let text: string;
  if (error instanceof ApiFailure) {
    text = error.status === 403 ? `Not allowed: ${error.message}` : error.describe();
  } else if (error instanceof Error) {
    text = error.message;
  } else {
    text = String(error);
  }
  return (
    <p class="alert" role="alert">
      {text}
    </p>
  );
}
