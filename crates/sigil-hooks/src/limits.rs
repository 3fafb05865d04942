//! [`Limits`]: what one invocation may use, and how tenants and hooks lower them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// The operator's ceilings of the time a flow binding and a flow may be given beyond the
/// limits (for hooks that call APIs: a pure hook's 50 ms is not a CRM's round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FetchCeilings {
    /// Most a binding's `deadline_ms` may be.
    pub deadline_ms: u64,
    /// Most a flow's `budget_ms` may be.
    pub flow_deadline_ms: u64,
}

impl Default for FetchCeilings {
    fn default() -> Self {
        FetchCeilings {
            deadline_ms: 2_000,
            flow_deadline_ms: 5_000,
        }
    }
}

/// A lowering of some limits (absent = keep).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Wall-clock deadline of one run, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Wall-clock deadline of the whole flow, in milliseconds.
    pub flow_deadline_ms: Option<u64>,
    /// Fuel (wasmtime's instruction budget) one run may burn.
    pub fuel: Option<u64>,
    /// Linear memory the guest may grow to, in bytes.
    pub memory_bytes: Option<usize>,
    /// Largest event the hook is given, in bytes (serialized).
    pub event_bytes: Option<usize>,
    /// Largest total of claims the hook may set, in bytes.
    pub claim_bytes: Option<usize>,
    /// Largest total of log lines the hook may write, in bytes.
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
