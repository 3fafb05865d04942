// The stored traces API's shapes (`/hook-traces`, `/hook-traces/{id}`, `/hook-traces/latency`),
// kept in one place so a change to the server has one file to follow it here.

import type { HookTrace } from "../hooks/types";

/** A flow run's status, as the list's `status` filter takes it (`aborted`: the hooks succeeded
 * and the login failed after them, docs/hooks.md). */
export type TraceStatus = "success" | "denied" | "failed" | "aborted";

export const STATUSES: TraceStatus[] = ["success", "denied", "failed", "aborted"];

/** A hook's part in a stored run: the test runner's `HookTrace` and what it changed. */
export interface StoredHookTrace extends HookTrace {
  scopes_added?: string[];
  scopes_removed?: string[];
  /** `user_metadata.plan`, `app_metadata.crm_id`: a deletion is a write too. */
  metadata_written?: string[];
}

/** `Trace`: one stored run of the post-login flow (or of a test, or a legacy-store call). */
export interface Trace {
  /** `trc_...` */
  id: string;
  /** RFC 3339. */
  at: string;
  /** `login:<token id>`, `test:<hook name>` or `legacy:<outcome>`. */
  context: string;
  /** A `TraceStatus`; typed wider so a status this page does not know yet still shows. */
  status: TraceStatus | (string & {});
  user_id?: string;
  client_id?: string;
  /** The hooks' durations summed. */
  duration_us: number;
  /** The runs this trace stands for: more than 1 when the tenant's successful logins were above
   * the node's trace rate and those since the trace before were not stored (docs/hooks.md). */
  runs: number;
  hooks: StoredHookTrace[];
}

/** One bucket of one hook (`hooks[].points[]`). */
export interface LatencyPoint {
  /** The bucket's start, epoch seconds. */
  at: number;
  count: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  /** Runs by outcome: `ok`, `denied`, `failed`, `failed_open` (absent: none). */
  outcomes: Partial<Record<string, number>>;
}

export interface HookLatency {
  hook_name: string;
  /** Only buckets with runs, in time order. */
  points: LatencyPoint[];
}

/** One bucket of flow runs by status. */
export interface FlowPoint {
  at: number;
  success: number;
  denied: number;
  failed: number;
  /** Shown as a series only when some bucket has one. */
  aborted: number;
}

/** `Latency` (`GET /hook-traces/latency`). */
export interface Latency {
  bucket_seconds: number;
  /** The span of the traces used (RFC 3339), null when none was. */
  from: string | null;
  to: string | null;
  /** How many traces were used. */
  traces: number;
  hooks: HookLatency[];
  flows: FlowPoint[];
}

/** An application as the filters and the list name it. */
export interface App {
  client_id: string;
  name: string;
}

/** A hook as the hook filter lists it. */
export interface HookName {
  id: string;
  name: string;
}
