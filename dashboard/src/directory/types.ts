// The directory API's shapes, as the server writes them (src/manage/users/, orgs.rs, roles.rs,
// apps/, apis.rs, signing_keys.rs, audit.rs). Kept in one place so a change to the server has
// one file to follow it here.

/** `User`. The password hash is never shown; `has_password` says whether there is one. */
export interface User {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  nickname: string | null;
  picture: string | null;
  blocked: boolean;
  has_password: boolean;
  user_metadata: Record<string, unknown>;
  app_metadata: Record<string, unknown>;
  external_id: string | null;
  /** Names of tenant-wide roles. */
  roles: string[];
  created_at: string;
  updated_at: string;
  last_login: string | null;
  logins_count: number;
}

/** `Membership`, for both `/organizations/{id}/members` and `/users/{id}/organizations`: each side
 * named, so that a list reads without a request per row. */
export interface Membership {
  organization_id: string;
  user_id: string;
  /** The organization's name, as it is now. */
  organization_name: string;
  /** The user's email, as it is now. */
  user_email: string;
  /** Role names in this organization. */
  roles: string[];
  created_at: string;
}

/** `Organization`. */
export interface Organization {
  id: string;
  name: string;
  display_name: string | null;
  metadata: Record<string, unknown>;
  external_id: string | null;
  created_at: string;
  updated_at: string;
}

/** `Role`: the name is fixed once created; assignments refer to it. */
export interface Role {
  id: string;
  name: string;
  description: string | null;
  permissions: string[];
  created_at: string;
  updated_at: string;
}

export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials", "password"] as const;
export const SIGNING_ALGS = ["RS256", "ES256", "EdDSA"] as const;

/** `Application` (an OAuth client), keyed by `client_id`. */
export interface Application {
  client_id: string;
  name: string;
  type: "confidential" | "public";
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_web_origins: string[];
  grant_types: string[];
  client_metadata: Record<string, unknown>;
  id_token_lifetime: number;
  access_token_lifetime: number;
  refresh_token_lifetime: number;
  signing_alg: string;
  first_party: boolean;
  created_at: string;
  updated_at: string;
}

/** `ApplicationCreated`: a confidential application's secret is in this answer only. */
export interface ApplicationCreated extends Application {
  client_secret?: string;
}

/** `RotatedSecret`: the new secret, shown once; the old one stopped working. */
export interface RotatedSecret {
  client_id: string;
  client_secret: string;
}

/** `Scope` of an API. */
export interface Scope {
  value: string;
  description?: string | null;
}

/** `Api` (a resource server: the audience of access tokens); the identifier is fixed. */
export interface ResourceApi {
  id: string;
  identifier: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  updated_at: string;
}

/** `SigningKeyView`: a published key, never its private part. */
export interface SigningKey {
  kid: string;
  alg: string;
  status: "next" | "current" | "previous" | string;
  /** RFC 3339. */
  created_at: string;
}

/** `AuditEntry`. `actor` is an API key id (`key_...`), a user id (`usr_...`, a dashboard
 * administrator), `cli` or `system`. */
export interface AuditEntry {
  id: string;
  actor: string;
  at: string;
  action: string;
  resource_type: string;
  resource_id: string;
  summary: unknown;
}
