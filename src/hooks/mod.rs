//! The hook runtime: customer WebAssembly components run on every login, sandboxed by
//! wasmtime.
//!
//! # Layout
//! - `wit/` (repository root) is the contract; [`bindings`] binds each released version.
//! - [`engine`]: the one process-wide `Engine` (pooling allocator, fuel, epoch interruption)
//!   and its epoch ticker thread.
//! - [`upload`]: validation of uploaded bytes (size, component or core module, allowed
//!   imports, world version) before anything is stored; [`compile`] compiles in a child process
//!   bounded in memory and time, and authenticates stored artifacts; [`admission`] caps compile
//!   workers server-wide and uploads per tenant.
//! - [`host`]: what a hook's imports do, with the limits they enforce at call time;
//!   [`claims`]: the closed list of claims a hook may not set and the claim precedence.
//! - [`runtime`]: `InstancePre` cache (a bounded LRU, [`caches`]), one fresh `Store` per
//!   invocation, the dedicated thread pool ([`pool`]) with per-tenant caps, the flow's one
//!   wall-clock budget, and flow execution ([`runtime::HookRuntime::run_flow`]: an
//!   event in, an outcome out, no HTTP types).
//! - [`registry`]: hooks, versions, secrets and limits (management side); [`flows`]: the
//!   per-tenant flow, loading and running it for a login, test runs and traces.

pub mod admission;
pub mod bindings;
pub mod caches;
pub mod claims;
pub mod compile;
pub mod engine;
pub mod event;
pub mod flow_cache;
pub mod flows;
pub mod host;
pub mod metrics;
pub mod pool;
pub mod registry;
pub mod runtime;
pub mod traces;
pub mod upload;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a hook invocation failed. Every failure is contained and named.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HookError {
    /// The wall-clock deadline passed (epoch interruption).
    #[error("the hook ran past its {0} ms deadline")]
    Timeout(u64),
    /// The flow's wall-clock budget ran out during this hook, or before it could start.
    #[error("the flow ran past its {0} ms budget")]
    FlowTimeout(u64),
    /// The instruction budget ran out.
    #[error("the hook used its whole budget of {0} fuel units")]
    OutOfFuel(u64),
    /// Linear memory would have grown past the limit.
    #[error("the hook tried to use more than {0} bytes of memory")]
    OutOfMemory(usize),
    /// The wasm stack limit was hit.
    #[error("the hook overflowed its stack")]
    StackOverflow,
    /// The guest panicked (the message comes from its log).
    #[error("the hook panicked: {0}")]
    Panic(String),
    /// Any other trap.
    #[error("the hook trapped: {0}")]
    Trap(String),
    /// The hook returned an error.
    #[error("the hook returned an error: {0}")]
    Returned(String),
    /// The hook tried to set a claim it may not set (the message says why: a protocol claim,
    /// or one that comes from the user profile).
    #[error("the hook may not set the claim `{name}`: {reason}")]
    RestrictedClaim {
        /// The name as the hook sent it.
        name: String,
        /// Why.
        reason: claims::ClaimNameError,
    },
    /// The claim name is malformed (empty, too long, control characters or NUL).
    #[error("invalid claim name {name:?}: {reason}")]
    InvalidClaimName {
        /// The name as the hook sent it.
        name: String,
        /// What is wrong with it.
        reason: claims::ClaimNameError,
    },
    /// `add-scope` named a scope this login does not allow hooks to add.
    #[error("the hook may not add the scope `{scope}`: {reason}")]
    ScopeNotAllowed {
        /// The scope.
        scope: String,
        /// Why.
        reason: &'static str,
    },
    /// A metadata write the commit would refuse (the rules of `crate::metadata`).
    #[error("the {field} write is refused: {reason}")]
    MetadataRefused {
        /// `user_metadata` or `app_metadata`.
        field: &'static str,
        /// The rule it breaks.
        reason: crate::metadata::MetadataError,
    },
    /// The hook passed a value that is not valid (not JSON, bad key or scope).
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    /// The hook's output went over a limit (claims, log, metadata).
    #[error("output over a limit: {0}")]
    OutputLimit(String),
    /// The event is larger than the tenant allows.
    #[error("the event is {0} bytes, over the limit of {1}")]
    EventTooLarge(usize, usize),
    /// The tenant already has as many invocations in flight as it may, or the pool is full,
    /// and no slot freed up within the deadline.
    #[error("no hook capacity: too many hook invocations in flight")]
    Capacity,
    /// The component could not be instantiated.
    #[error("instantiation failed: {0}")]
    Instantiate(String),
    /// A host-side failure (not the hook's fault).
    #[error("internal error: {0}")]
    Internal(String),
}

impl HookError {
    /// The stable machine code shown in traces and test results.
    pub fn code(&self) -> &'static str {
        match self {
            HookError::Timeout(_) => "timeout",
            HookError::FlowTimeout(_) => "flow_timeout",
            HookError::OutOfFuel(_) => "out_of_fuel",
            HookError::OutOfMemory(_) => "out_of_memory",
            HookError::StackOverflow => "stack_overflow",
            HookError::Panic(_) => "panic",
            HookError::Trap(_) => "trap",
            HookError::Returned(_) => "hook_error",
            HookError::RestrictedClaim { .. } => "restricted_claim",
            HookError::InvalidClaimName { .. } => "invalid_claim_name",
            HookError::ScopeNotAllowed { .. } => "scope_not_allowed",
            HookError::MetadataRefused { .. } => "metadata_refused",
            HookError::InvalidOutput(_) => "invalid_output",
            HookError::OutputLimit(_) => "output_limit",
            HookError::EventTooLarge(..) => "event_too_large",
            HookError::Capacity => "hook_capacity",
            HookError::Instantiate(_) => "instantiation_failed",
            HookError::Internal(_) => "internal",
        }
    }
}

/// Limits of one invocation. Operators set ceilings; a tenant (or a hook) can only lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    /// Wall-clock deadline, milliseconds (epoch-based).
    pub deadline_ms: u64,
    /// Wall-clock budget of a whole flow, milliseconds: every hook's deadline is cut to what
    /// is left of it, and hooks after it ran out fail with `flow_timeout`. A flow takes the
    /// lowest of its hooks' values (normally all the tenant's).
    #[serde(default = "default_flow_deadline_ms")]
    pub flow_deadline_ms: u64,
    /// Instruction budget (wasmtime fuel; roughly one unit per wasm instruction).
    pub fuel: u64,
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// Serialized event, bytes.
    pub event_bytes: usize,
    /// Custom-claim bytes per token.
    pub claim_bytes: usize,
    /// Log bytes (including captured stdout/stderr).
    pub log_bytes: usize,
}

/// The default flow budget: four times the default hook deadline. A flow of up to 20 hooks
/// that each take their whole deadline would otherwise hold a pool thread (and the login) for
/// a second.
pub const DEFAULT_FLOW_DEADLINE_MS: u64 = 200;

fn default_flow_deadline_ms() -> u64 {
    DEFAULT_FLOW_DEADLINE_MS
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline_ms: 50,
            flow_deadline_ms: DEFAULT_FLOW_DEADLINE_MS,
            fuel: 10_000_000,
            memory_bytes: 16 << 20,
            event_bytes: 128 * 1024,
            claim_bytes: 16 * 1024,
            log_bytes: 4 * 1024,
        }
    }
}

/// A lowering of some limits (absent = keep).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Milliseconds.
    pub deadline_ms: Option<u64>,
    /// Milliseconds (the whole flow).
    pub flow_deadline_ms: Option<u64>,
    /// Fuel units.
    pub fuel: Option<u64>,
    /// Bytes.
    pub memory_bytes: Option<usize>,
    /// Bytes.
    pub event_bytes: Option<usize>,
    /// Bytes.
    pub claim_bytes: Option<usize>,
    /// Bytes.
    pub log_bytes: Option<usize>,
}

impl Limits {
    /// These limits lowered by `o`; a value above the current one is ignored (only lowering is
    /// allowed), so ceilings can never be raised from below.
    pub fn lowered(self, o: &LimitOverrides) -> Limits {
        Limits {
            deadline_ms: o
                .deadline_ms
                .map_or(self.deadline_ms, |v| v.min(self.deadline_ms).max(1)),
            flow_deadline_ms: o.flow_deadline_ms.map_or(self.flow_deadline_ms, |v| {
                v.min(self.flow_deadline_ms).max(1)
            }),
            fuel: o.fuel.map_or(self.fuel, |v| v.min(self.fuel).max(1)),
            memory_bytes: o
                .memory_bytes
                .map_or(self.memory_bytes, |v| v.min(self.memory_bytes)),
            event_bytes: o
                .event_bytes
                .map_or(self.event_bytes, |v| v.min(self.event_bytes)),
            claim_bytes: o
                .claim_bytes
                .map_or(self.claim_bytes, |v| v.min(self.claim_bytes)),
            log_bytes: o
                .log_bytes
                .map_or(self.log_bytes, |v| v.min(self.log_bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_only_lower() {
        let base = Limits::default();
        let l = base.lowered(&LimitOverrides {
            deadline_ms: Some(10),
            fuel: Some(u64::MAX),
            ..Default::default()
        });
        assert_eq!(l.deadline_ms, 10);
        assert_eq!(l.fuel, base.fuel, "raising is ignored");
    }
}
