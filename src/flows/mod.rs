//! The tenant's deployed hooks, as the server runs them: the bridge between the store and the
//! hook host (`sigil_hooks`, which knows no SQL).
//!
//! - [`prepare`]: a stored component's artifact loaded (its MAC checked) from this node's disk
//!   cache ([`artifact_disk`]) or the database, or compiled in the bounded worker, then
//!   type-checked and cached.
//! - [`event`]: the post-login event built from the store.
//! - [`load`]: a tenant's flow read from the store (bindings, versions, secrets, limits) and
//!   turned into runnable steps, cached per tenant.
//! - [`run`]: a flow run for a login or a test, with its metrics and its trace.
//! - [`legacy`]: the tenant's legacy store (a user-store hook) loaded and asked.
//! - [`traces`]: the batched trace writer, and [`trace_rate`]: which successful logins'
//!   traces it stores.
//!
//! Management (`manage::hooks`) and the login pipeline (`oauth::pipeline`) both stand on this
//! module; it stands on `store` and `sigil_hooks` only.

pub mod artifact_disk;
pub mod event;
pub mod legacy;
pub mod load;
pub mod prepare;
pub mod run;
pub mod trace_rate;
pub mod traces;

use std::sync::Arc;

use sigil_hooks::FetchCeilings;
use sigil_hooks::admission::{AdmissionError, CompileGate, UploadLimiter};
use sigil_hooks::compile::{ArtifactSeal, CompilerSettings};
use sigil_hooks::flow_cache::FlowCache;
use sigil_hooks::runtime::HookRuntime;
use sigil_hooks::{HookError, Limits};

use crate::crypto::Sealer;
use crate::metrics::Metrics;
use crate::store::StoreError;

/// Traces kept per tenant.
pub const TRACES_KEPT: i64 = 1000;

/// The hook side of a running server: the host, what compiling and admitting uploads needs,
/// the keys that protect artifacts and secrets, the operator's ceilings, counters, and the
/// per-tenant flow cache and trace writer.
#[derive(Debug)]
pub struct Hooks {
    /// The runtime.
    pub runtime: Arc<HookRuntime>,
    /// The compile worker.
    pub compiler: CompilerSettings,
    /// The cap on compile workers running at once.
    pub compile_gate: CompileGate,
    /// Per-tenant upload rate.
    pub uploads: UploadLimiter,
    /// MACs on stored artifacts (in the database and on disk).
    pub seal: ArtifactSeal,
    /// This node's disk cache of compiled artifacts (`None`: off).
    pub artifact_disk: Option<artifact_disk::ArtifactDisk>,
    /// Encryption of hook secrets.
    pub secrets: Sealer,
    /// Operator ceilings; tenants and hooks can only lower them.
    pub ceilings: Limits,
    /// The operator's ceilings of a binding's deadline and a flow's budget (hooks that fetch).
    pub fetch_ceilings: FetchCeilings,
    /// The server's metrics (hook and flow runs, their durations, dropped traces).
    pub metrics: Arc<Metrics>,
    /// Loaded flows per tenant.
    pub flows: FlowCache,
    /// Stores flow traces in batches.
    pub traces: traces::TraceWriter,
}

/// Why a stored hook could not be loaded or prepared.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A row the flow names is gone (deleted between reads).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The component does not compile, or not into this engine.
    #[error("{0}")]
    Compile(String),
    /// The component compiled but does not implement the world.
    #[error("the component does not implement the world sigil:hooks/post-login@0.1.0: {0}")]
    World(HookError),
    /// No compile worker freed up in time.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// A stored secret does not decrypt (wrong master key, or tampered with).
    #[error("secret {name} of {hook_id} does not decrypt")]
    Secret {
        /// The secret's name.
        name: String,
        /// Its hook.
        hook_id: String,
    },
    /// The hook implements another world than its use needs (a post-login hook set as the
    /// legacy store, say).
    #[error("the hook {hook} is not a {} hook", expected.name())]
    WrongWorld {
        /// The hook's name.
        hook: String,
        /// The world its use needs.
        expected: sigil_hooks::prepare::World,
    },
    /// The host failed (not the component's fault).
    #[error("the hook host failed: {0}")]
    Host(HookError),
}

/// The associated data a hook secret is sealed with: a sealed value moved to another hook or
/// name does not open.
pub fn secret_aad(hook_id: &str, name: &str) -> String {
    format!("{hook_id}/{name}")
}

/// Deletes every stored artifact that no version references (left by versions deleted on an
/// older release, or a version deleted while a login stored its artifact). Runs at start-up;
/// returns how many went.
pub async fn sweep_orphan_artifacts(store: &crate::store::Store) -> Result<u64, StoreError> {
    let mut tx = store.begin_write().await?;
    let n = crate::store::hooks::delete_orphan_artifacts(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// Deletes the files of this node's disk artifact cache that no stored version of this
/// engine uses (see [`artifact_disk::ArtifactDisk::sweep`]); `now` is epoch ms. Runs at
/// start-up, in the background; returns how many went.
pub async fn sweep_disk_artifacts(
    store: &crate::store::Store,
    hooks: &Hooks,
    now: i64,
) -> Result<usize, StoreError> {
    let Some(disk) = &hooks.artifact_disk else {
        return Ok(0);
    };
    let keep = crate::store::hooks::version_hashes(store)
        .await?
        .into_iter()
        .collect();
    let compat = sigil_hooks::engine::compatibility_hash(hooks.runtime.engine());
    Ok(disk.sweep(&compat, keep, now).await)
}
