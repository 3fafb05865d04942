// The three rows a tenant's first administrator brings (docs/dashboard.md): the API refuses to
// change or delete them (409 `in_use`), so the pages show them read-only instead of offering
// controls that can only fail.

import type { ComponentChildren } from "preact";

/** Every dashboard client's id starts with this; the rest is the tenant's id. */
export const DASHBOARD_CLIENT_PREFIX = "sigil-dashboard-";
export const MANAGEMENT_AUDIENCE = "urn:sigil:management";
export const ADMIN_ROLE = "sigil-admin";

export const isDashboardClient = (clientId: string) => clientId.startsWith(DASHBOARD_CLIENT_PREFIX);

export function BuiltInBadge() {
  return (
    <span class="badge built-in" title="Built in: read-only">
      Built in
    </span>
  );
}

/** Why a built-in row is read-only here, next to what it would have let you change. */
export function BuiltInNote({ id, children }: { id: string; children: ComponentChildren }) {
  return (
    <p id={id} class="built-in-note">
      <BuiltInBadge /> {children}
    </p>
  );
}
