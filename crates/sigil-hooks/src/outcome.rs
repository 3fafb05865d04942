//! What a flow produces: its status, the merged effects of its hooks, and a trace per hook.
//!
//! Precedence inside a flow: a later hook's claim replaces an earlier one of the same name; a
//! scope added then removed (or the reverse) ends as the last call left it; metadata writes
//! merge key by key in hook order.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::host::Effects;

/// What a flow binding does when its hook fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// The login fails with `server_error` (the default: fail closed).
    #[default]
    FailClosed,
    /// The hook's effects are discarded and the flow continues.
    FailOpen,
}

/// One hook's part in a flow run, as recorded in the trace.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct HookTrace {
    /// `hook_...`
    pub hook_id: String,
    /// Hook name.
    pub hook_name: String,
    /// Version number.
    pub version: i64,
    /// `ok`, `denied`, `failed` or `failed_open` (failed, effects discarded, flow continued).
    pub outcome: String,
    /// Wall time the hook took, in microseconds.
    pub duration_us: u64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Names of claims set (ID and access token).
    pub claims_set: Vec<String>,
    /// Scopes the hook added, in call order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_added: Vec<String>,
    /// Scopes the hook removed, in call order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_removed: Vec<String>,
    /// The metadata keys the hook wrote (`user_metadata.plan`, `app_metadata.crm_id`); a
    /// deletion is a write of `null`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_written: Vec<String>,
    /// Error code, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error message, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The deny reason exactly as the hook gave it (up to 500 characters), when it denied; the
    /// client gets a sanitized, shorter copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Log lines (capped).
    pub logs: Vec<String>,
    /// The hook's fetches (contract 0.2.0), in order, at most [`MAX_FETCH_TRACES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetches: Vec<FetchTrace>,
    /// Cache lookups that found a value (contract 0.2.0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_hits: u32,
    /// Cache lookups that found nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_misses: u32,
    /// Every fetch's outcome (the status class, `2xx`..., or the error code) and duration in
    /// microseconds, traced or not: what the metrics count. Not stored.
    #[serde(skip)]
    pub fetch_outcomes: Vec<(String, u64)>,
}

impl HookTrace {
    /// Records what the hook's `effects` changed: the claims it set, the scopes it added and
    /// removed, the metadata keys it wrote (names only; the values are in the outcome).
    pub(crate) fn note_effects(&mut self, effects: &Effects) {
        let named = |prefix: &str, m: &Map<String, Value>| -> Vec<String> {
            m.keys().map(|k| format!("{prefix}.{k}")).collect()
        };
        self.claims_set = named("id_token", &effects.id_claims);
        self.claims_set
            .extend(named("access_token", &effects.access_claims));
        for (added, scope) in &effects.scope_changes {
            let to = if *added {
                &mut self.scopes_added
            } else {
                &mut self.scopes_removed
            };
            to.push(scope.clone());
        }
        self.metadata_written = named("user_metadata", &effects.user_metadata);
        self.metadata_written
            .extend(named("app_metadata", &effects.app_metadata));
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Most fetches one hook's trace records (the metrics count them all, see
/// [`HookTrace::fetch_outcomes`]).
pub const MAX_FETCH_TRACES: usize = 20;

/// One fetch, as the trace shows it: never a header, a body or a query value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FetchTrace {
    /// `GET`, `POST`...
    pub method: String,
    /// Scheme, host, port and path, and the query's names without their values.
    pub target: String,
    /// The response's status, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Wall time, microseconds.
    pub duration_us: u64,
    /// Request body bytes.
    pub bytes_out: u64,
    /// Response body bytes.
    pub bytes_in: u64,
    /// Why there was no response (`denied`, `timeout`, `too_large`, `connect`, `tls`,
    /// `circuit_open`, `budget_exhausted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the error says (the rule that denied it, the connection's failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FlowStatus {
    /// Every hook ran (fail-open failures included); effects apply.
    Success,
    /// A hook denied: the login stops with `access_denied`.
    Denied {
        /// Hook name.
        hook: String,
        /// The reason, shown to the user.
        reason: String,
    },
    /// A fail-closed hook failed: the login fails with `server_error`.
    Failed {
        /// Hook name.
        hook: String,
        /// Error code.
        code: String,
        /// Error message (for the trace, never the client).
        message: String,
    },
}

/// The merged result of a flow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowOutcome {
    /// How it ended.
    pub status: FlowStatus,
    /// Custom ID-token claims (later hooks replace earlier ones of the same name).
    #[schema(value_type = Object)]
    pub id_token_claims: Map<String, Value>,
    /// Custom access-token claims.
    #[schema(value_type = Object)]
    pub access_token_claims: Map<String, Value>,
    /// Scopes added, in order.
    pub scopes_added: Vec<String>,
    /// Scopes removed, in order.
    pub scopes_removed: Vec<String>,
    /// `user_metadata` writes from all hooks, merged (null deletes); apply after success.
    #[schema(value_type = Object)]
    pub user_metadata: Map<String, Value>,
    /// `app_metadata` writes, merged.
    #[schema(value_type = Object)]
    pub app_metadata: Map<String, Value>,
    /// Per-hook trace.
    pub trace: Vec<HookTrace>,
    /// Whether the flow ran on the async worker that admitted it ([`crate::inline`]) rather
    /// than on the hook pool. Not part of the API's answer: where a flow ran is the node's
    /// business (it is counted in the server's metrics).
    #[serde(skip)]
    #[schema(ignore)]
    pub ran_inline: bool,
}

impl FlowOutcome {
    /// An outcome with nothing in it (a flow without hooks, or one that failed before any
    /// hook ran).
    pub fn empty() -> Self {
        FlowOutcome {
            status: FlowStatus::Success,
            id_token_claims: Map::new(),
            access_token_claims: Map::new(),
            scopes_added: Vec::new(),
            scopes_removed: Vec::new(),
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            trace: Vec::new(),
            ran_inline: false,
        }
    }

    /// Applies the scope changes to `scopes` (in call order).
    pub fn apply_scopes(&self, scopes: &mut Vec<String>) {
        // Changes were flattened per kind; replay removes after adds of the same run is not
        // needed because merge() keeps them disjoint.
        for s in &self.scopes_added {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        scopes.retain(|s| !self.scopes_removed.contains(s));
    }

    pub(crate) fn merge(&mut self, e: Effects) {
        self.id_token_claims.extend(e.id_claims);
        self.access_token_claims.extend(e.access_claims);
        for (add, scope) in e.scope_changes {
            if add {
                self.scopes_removed.retain(|s| s != &scope);
                if !self.scopes_added.contains(&scope) {
                    self.scopes_added.push(scope);
                }
            } else {
                self.scopes_added.retain(|s| s != &scope);
                if !self.scopes_removed.contains(&scope) {
                    self.scopes_removed.push(scope);
                }
            }
        }
        self.user_metadata.extend(e.user_metadata);
        self.app_metadata.extend(e.app_metadata);
    }
}
