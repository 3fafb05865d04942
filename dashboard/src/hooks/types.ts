// The hooks API's shapes, as the server writes them (src/manage/hooks/ and the sigil-hooks
// crate's outcome.rs, limits.rs and fetch/allow.rs). Kept in one place so a change to the
// server has one file to follow it here.

/** `HookVersion`: one immutable upload. */
export interface HookVersion {
  version: number;
  hash: string;
  size: number;
  imports: string[];
  /** `post-login` (bindable in the flow) or `user-store` (a legacy store). */
  world: string;
  created_at: string;
}

/** `AllowRule`: empty `paths` or `methods` (absent in the JSON) allow any. */
export interface AllowRule {
  host: string;
  paths?: string[];
  methods?: string[];
}

/** `LimitOverrides`: each absent (or null) keeps the limit it would lower. */
export interface LimitOverrides {
  deadline_ms?: number | null;
  flow_deadline_ms?: number | null;
  fuel?: number | null;
  memory_bytes?: number | null;
  event_bytes?: number | null;
  claim_bytes?: number | null;
  log_bytes?: number | null;
}

export type LimitName = keyof LimitOverrides;

/** `Limits`: every limit, as it applies. */
export type Limits = Record<LimitName, number>;

/** `TenantLimits` (`GET /hook-limits`). */
export interface TenantLimits {
  overrides: LimitOverrides;
  ceilings: Limits;
  effective: Limits;
}

/** `Hook`. */
export interface Hook {
  id: string;
  name: string;
  deployed_version?: number | null;
  /** Newest first. */
  versions: HookVersion[];
  /** Names only: values are write-only. */
  secrets: string[];
  limits: LimitOverrides;
  allow: { rules: AllowRule[] };
  created_at: string;
}

/** `Uploaded` (the 201 of `POST /hooks/{name}/versions`). */
export interface Uploaded {
  hook_id: string;
  name: string;
  version: HookVersion;
}

export type FailurePolicy = "fail_closed" | "fail_open";

/** `Binding`: `hook` is what was given on PUT, the hook's id on GET. */
export interface Binding {
  hook: string;
  version?: number | null;
  failure_policy: FailurePolicy;
  deadline_ms?: number;
}

/** `Flow` (`GET`/`PUT /flows/post-login`). */
export interface Flow {
  bindings: Binding[];
  budget_ms?: number;
}

/** `FlowStatus`, tagged by `status`. */
export type FlowStatus =
  | { status: "success" }
  | { status: "denied"; hook: string; reason: string }
  | { status: "failed"; hook: string; code: string; message: string };

/** `FetchTrace`: one of a hook's requests (never a header, body or query value). */
export interface FetchTrace {
  method: string;
  target: string;
  status?: number;
  duration_us: number;
  bytes_out: number;
  bytes_in: number;
  error?: string;
  detail?: string;
}

/** `HookTrace`: one hook's part in a run. */
export interface HookTrace {
  hook_id: string;
  hook_name: string;
  version: number;
  /** `ok`, `denied`, `failed` or `failed_open`. */
  outcome: string;
  duration_us: number;
  fuel_used: number;
  claims_set: string[];
  error_code?: string;
  error?: string;
  reason?: string;
  logs: string[];
  fetches?: FetchTrace[];
  cache_hits?: number;
  cache_misses?: number;
}

/** `FlowOutcome` (the test endpoint's answer). */
export interface FlowOutcome {
  status: FlowStatus;
  id_token_claims: Record<string, unknown>;
  access_token_claims: Record<string, unknown>;
  scopes_added: string[];
  scopes_removed: string[];
  user_metadata: Record<string, unknown>;
  app_metadata: Record<string, unknown>;
  trace: HookTrace[];
}

/** The world a hook must implement to be bound in the post-login flow. */
export const POST_LOGIN = "post-login";
