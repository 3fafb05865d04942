// The login event's standard fields, as docs/jwt-templates.md ("Event roots and fields") lists
// them: what the editor offers besides the tenant's own metadata keys.

/** Each root and its fields. */
export const ROOTS: Record<string, string[]> = {
  user: [
    "id", "email", "email_verified", "name", "given_name", "family_name", "nickname", "picture",
    "created_at", "last_login", "logins_count", "external_id", "user_metadata", "app_metadata",
    "roles", "permissions",
  ],
  organization: ["id", "name", "display_name", "external_id", "metadata", "roles"],
  client: ["client_id", "name", "client_metadata"],
  request: ["ip", "user_agent", "hostname", "language"],
  transaction: ["protocol", "requested_scopes", "audience", "redirect_uri"],
  tenant: ["id", "name"],
  now: [],
};

/** Every standard path: each root and each `root.field`. */
export function standardPaths(): string[] {
  const out: string[] = [];
  for (const [root, fields] of Object.entries(ROOTS)) {
    out.push(root);
    for (const f of fields) out.push(`${root}.${f}`);
  }
  return out;
}

export function isRoot(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(ROOTS, name);
}
