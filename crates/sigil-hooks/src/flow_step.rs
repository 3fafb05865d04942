//! One hook of a flow (or a tenant's legacy store), ready to run: what the server loads from
//! the store and the runtime runs.

use std::sync::Arc;

use crate::Limits;
use crate::fetch::allow::AllowList;
use crate::inline::FuelSeen;
use crate::outcome::{FailurePolicy, HookTrace};
use crate::prepare::PreparedHook;

/// One hook of a flow, ready to run.
#[derive(Debug, Clone)]
pub struct FlowStep {
    /// `hook_...`
    pub hook_id: String,
    /// Hook name.
    pub hook_name: String,
    /// Version number.
    pub version: i64,
    /// The prepared component.
    pub hook: Arc<PreparedHook>,
    /// On failure.
    pub policy: FailurePolicy,
    /// This hook's secrets (decrypted).
    pub secrets: Vec<(String, String)>,
    /// This hook's limits (already lowered below the tenant's and the operator's).
    pub limits: Limits,
    /// Where this hook's fetches may go (contract 0.2.0; empty: nowhere).
    pub allow: Arc<AllowList>,
    /// What this binding's hook used in its last run (whether the flow runs inline; see
    /// [`crate::inline`]). A new step starts unknown: its first run is on the pool.
    pub fuel_seen: FuelSeen,
}

impl FlowStep {
    /// A trace of this step with nothing run yet: outcome `failed`, no time, fuel or effects
    /// (the caller fills in what happened).
    pub(crate) fn trace(&self) -> HookTrace {
        HookTrace {
            hook_id: self.hook_id.clone(),
            hook_name: self.hook_name.clone(),
            version: self.version,
            outcome: "failed".into(),
            duration_us: 0,
            fuel_used: 0,
            claims_set: Vec::new(),
            scopes_added: Vec::new(),
            scopes_removed: Vec::new(),
            metadata_written: Vec::new(),
            error_code: None,
            error: None,
            reason: None,
            logs: Vec::new(),
            fetches: Vec::new(),
            cache_hits: 0,
            cache_misses: 0,
            fetch_outcomes: Vec::new(),
        }
    }
}
