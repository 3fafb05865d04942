//! [`HookError`]: every way an invocation can fail, each contained and given a stable code.

use crate::claims;

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
        /// Which rule the name broke.
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
        /// Which rule the value broke.
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
    /// A user-store hook made a call only a post-login hook may make (a claim, a scope, a
    /// denial, a metadata write): it acts only through what it returns.
    #[error("`{0}` is for post-login hooks: a user-store hook acts only through what it returns")]
    PostLoginOnly(&'static str),
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
            HookError::PostLoginOnly(_) => "post_login_only",
            HookError::EventTooLarge(..) => "event_too_large",
            HookError::Capacity => "hook_capacity",
            HookError::Instantiate(_) => "instantiation_failed",
            HookError::Internal(_) => "internal",
        }
    }
}
