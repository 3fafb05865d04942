//! Running flows: the hook runtime (engine, linker, prepared cache, guest thread pool),
//! admission, and a flow's hooks run in order under one budget.
//!
//! Guests never run on the async executor: [`HookRuntime::run_flow`] hands the whole flow to
//! one of the pool's threads and awaits the result, so a spinning guest can only ever occupy a
//! pool thread (until its deadline), never a tokio worker. Admission is bounded twice: a
//! per-tenant cap on flows in flight (one tenant cannot take the whole pool) and a global cap
//! equal to the pool's size (the pooling allocator never sees more instances than it holds).
//! Waiting for either is bounded by the deadline and then fails with `hook_capacity`.
//!
//! Both permits move into the job and are released when the job ends, not when the caller
//! stops waiting: a client that hangs up does not hand its tenant's share of the pool to the
//! same tenant's next flow while the first one still runs. A flow has one wall-clock budget
//! ([`Limits::flow_deadline_ms`]), counted from admission; each hook's epoch deadline is cut
//! to what is left of it, and a flow whose caller is gone stops between hooks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::bindings::v0_1::PostLogin;
use crate::caches::{self, CacheBounds, Lru, TenantSlots};
use crate::engine::{self, EngineSettings};
use crate::event::PostLoginEvent;
use crate::host::{AddableScopes, CallRules, HostState};
use crate::invoke::Invocation;
use crate::outcome::{FailurePolicy, FlowOutcome, FlowStatus, HookTrace};
use crate::pool::Pool;
use crate::prepare::PreparedHook;
use crate::{HookError, Limits};

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
}

/// Sizing of the runtime.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeSettings {
    /// Engine settings.
    pub engine: EngineSettings,
    /// Threads that run guests.
    pub threads: usize,
    /// Flows one tenant may have in flight.
    pub per_tenant: usize,
    /// Bounds of the prepared-component cache and the per-tenant semaphore map.
    pub caches: CacheBounds,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = cores.max(2);
        RuntimeSettings {
            engine: EngineSettings::default(),
            threads,
            // Leave room for other tenants: one tenant's spinning hooks can hold at most half
            // the pool.
            per_tenant: (threads / 2).max(1),
            caches: CacheBounds::default(),
        }
    }
}

/// The hook runtime: engine, linker, prepared-component cache and the guest thread pool.
pub struct HookRuntime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    /// Prepared components by content hash, least recently used dropped beyond the bound.
    pub(crate) cache: Mutex<Lru<Arc<PreparedHook>>>,
    pool: Pool,
    slots: Arc<Semaphore>,
    /// Each tenant's admission semaphore (bounded; busy ones are never dropped).
    tenants: Mutex<TenantSlots>,
    settings: RuntimeSettings,
}

impl std::fmt::Debug for HookRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookRuntime")
            .field("settings", &self.settings)
            .finish()
    }
}

impl HookRuntime {
    /// Builds the engine, the linker (the world's imports plus the sealed WASI) and the pool.
    pub fn new(settings: RuntimeSettings) -> Result<Arc<Self>, HookError> {
        let engine = engine::build(&settings.engine).map_err(|e| HookError::Internal(e.0))?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| HookError::Internal(format!("linking WASI: {e:#}")))?;
        PostLogin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| HookError::Internal(format!("linking the hook API: {e:#}")))?;

        let threads = settings
            .threads
            .min(settings.engine.pool_instances as usize)
            .max(1);
        let pool = Pool::new(threads, "sigil-hook")
            .map_err(|e| HookError::Internal(format!("starting the hook pool: {e}")))?;
        Ok(Arc::new(HookRuntime {
            engine,
            linker,
            cache: Mutex::new(caches::lru(settings.caches.prepared)),
            pool,
            slots: Arc::new(Semaphore::new(threads)),
            tenants: Mutex::new(TenantSlots::new(
                settings.caches.tenants,
                settings.per_tenant,
            )),
            settings: RuntimeSettings {
                threads,
                ..settings
            },
        }))
    }

    /// The engine (for compilation and artifact loading).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The settings in force.
    pub fn settings(&self) -> RuntimeSettings {
        self.settings
    }

    /// Pool threads currently serving (always the pool's size: a panicking job does not end
    /// its thread).
    pub fn live_threads(&self) -> usize {
        self.pool.live()
    }

    /// How many tenant semaphores are kept (at most `caches.tenants`, plus busy ones).
    pub fn tenant_slots_len(&self) -> usize {
        self.tenants.lock().map_or(0, |t| t.len())
    }

    /// Runs `steps` in order for `event` on a pool thread and merges their effects. The
    /// per-tenant cap is keyed by `tenant_id`; `addable` is what `add-scope` may add.
    ///
    /// Semantics: a later hook's claim replaces an earlier one of the same name; a deny stops
    /// the flow; a fail-closed failure stops it, a fail-open failure discards that hook's
    /// effects; metadata writes are merged and returned for the caller to apply once, after
    /// the flow succeeded. The flow's budget starts now, so waiting for capacity counts.
    pub async fn run_flow(
        self: &Arc<Self>,
        tenant_id: &str,
        steps: Vec<FlowStep>,
        event: PostLoginEvent,
        addable: AddableScopes,
    ) -> Result<FlowOutcome, HookError> {
        if steps.is_empty() {
            return Ok(FlowOutcome::empty());
        }
        let admitted = Instant::now();
        let budget_ms = flow_budget_ms(&steps);
        let wait = Duration::from_millis(
            steps
                .iter()
                .map(|s| s.limits.deadline_ms)
                .max()
                .unwrap_or(50)
                .min(budget_ms),
        );
        let tenant_permit = acquire(self.tenant_slots(tenant_id), wait).await?;
        let slot = acquire(self.slots.clone(), wait).await?;
        let event_size = event.serialized_size();
        let rt = self.clone();
        let addable = Arc::new(addable);
        let done = self.pool.spawn(move |abandoned| {
            // The permits live as long as the work, whatever happens to the caller.
            let _permits = (tenant_permit, slot);
            rt.flow(
                &steps,
                &event,
                event_size,
                FlowStart {
                    at: admitted,
                    addable,
                },
                abandoned,
            )
        });
        match done.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(HookError::Internal(e.to_string())),
            Err(_) => Err(HookError::Internal("the hook pool dropped a flow".into())),
        }
    }

    fn tenant_slots(&self, tenant: &str) -> Arc<Semaphore> {
        let mut map = match self.tenants.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.get(tenant)
    }

    /// The flow on the current thread (the local test runner, benchmarks, tests), with its
    /// budget starting now.
    pub fn flow_blocking(
        &self,
        steps: &[FlowStep],
        event: &PostLoginEvent,
        event_size: usize,
        addable: AddableScopes,
    ) -> FlowOutcome {
        let start = FlowStart {
            at: Instant::now(),
            addable: Arc::new(addable),
        };
        self.flow(steps, event, event_size, start, &|| false)
    }

    /// Runs the flow; stops between hooks when `abandoned()` says nobody waits for it.
    fn flow(
        &self,
        steps: &[FlowStep],
        event: &PostLoginEvent,
        event_size: usize,
        start: FlowStart,
        abandoned: &dyn Fn() -> bool,
    ) -> FlowOutcome {
        let mut out = FlowOutcome::empty();
        let budget_ms = flow_budget_ms(steps);
        let mut rules = CallRules {
            // Checked: an operator's ceiling can be any u64, and `Instant + Duration` panics on
            // overflow (`Instant`'s range is platform-defined); past a year means no budget.
            flow_deadline: start
                .at
                .checked_add(Duration::from_millis(budget_ms))
                .unwrap_or_else(|| start.at + Duration::from_secs(365 * 24 * 3600)),
            flow_budget_ms: budget_ms,
            addable_scopes: start.addable,
            user_metadata: Arc::new(event.user.user_metadata.clone()),
            app_metadata: Arc::new(event.user.app_metadata.clone()),
        };
        // Convert once per flow (metadata is serialized to JSON text here); only the secrets
        // change from one hook to the next.
        let mut wit_event = event.to_wit();
        for step in steps {
            if abandoned() {
                // The caller is gone (the client hung up): nobody will read this outcome, and
                // running on would only keep the tenant's permit and a pool thread busy.
                out.status = FlowStatus::Failed {
                    hook: step.hook_name.clone(),
                    code: "abandoned".into(),
                    message: "the login was abandoned before this hook ran".into(),
                };
                return out;
            }
            let refused = if event_size > step.limits.event_bytes {
                Some(HookError::EventTooLarge(
                    event_size,
                    step.limits.event_bytes,
                ))
            } else if Instant::now() >= rules.flow_deadline {
                Some(HookError::FlowTimeout(budget_ms))
            } else {
                None
            };
            let run = match refused {
                Some(e) => Invocation {
                    result: Err(e),
                    logs: vec![],
                    fuel_used: 0,
                    duration: Duration::ZERO,
                },
                None => {
                    wit_event.secrets = crate::event::wit_secrets(&step.secrets);
                    self.invoke(&step.hook, &wit_event, step.limits, rules.clone())
                }
            };
            let mut trace = HookTrace {
                hook_id: step.hook_id.clone(),
                hook_name: step.hook_name.clone(),
                version: step.version,
                outcome: "ok".into(),
                duration_us: run.duration.as_micros() as u64,
                fuel_used: run.fuel_used,
                claims_set: Vec::new(),
                error_code: None,
                error: None,
                reason: None,
                logs: run.logs,
            };
            match run.result {
                Ok(effects) => {
                    trace.claims_set = effects
                        .id_claims
                        .keys()
                        .map(|k| format!("id_token.{k}"))
                        .chain(
                            effects
                                .access_claims
                                .keys()
                                .map(|k| format!("access_token.{k}")),
                        )
                        .collect();
                    // Later hooks' metadata writes are checked against these ones too.
                    for (writes, base) in [
                        (&effects.user_metadata, &mut rules.user_metadata),
                        (&effects.app_metadata, &mut rules.app_metadata),
                    ] {
                        if !writes.is_empty()
                            && let Ok(merged) = crate::metadata::merge_map(base.as_ref(), writes)
                        {
                            *base = Arc::new(merged);
                        }
                    }
                    let deny = effects.deny.clone();
                    out.merge(effects);
                    if let Some(reason) = deny {
                        trace.outcome = "denied".into();
                        trace.reason = Some(reason.clone());
                        out.trace.push(trace);
                        out.status = FlowStatus::Denied {
                            hook: step.hook_name.clone(),
                            reason,
                        };
                        return out;
                    }
                    out.trace.push(trace);
                }
                Err(e) => {
                    trace.error_code = Some(e.code().to_string());
                    trace.error = Some(e.to_string());
                    match step.policy {
                        FailurePolicy::FailOpen => {
                            trace.outcome = "failed_open".into();
                            out.trace.push(trace);
                        }
                        FailurePolicy::FailClosed => {
                            trace.outcome = "failed".into();
                            out.trace.push(trace);
                            out.status = FlowStatus::Failed {
                                hook: step.hook_name.clone(),
                                code: e.code().to_string(),
                                message: e.to_string(),
                            };
                            return out;
                        }
                    }
                }
            }
        }
        out
    }
}

/// Where a flow's budget starts and what its hooks may add.
struct FlowStart {
    at: Instant,
    addable: Arc<AddableScopes>,
}

/// A flow's budget: the lowest `flow_deadline_ms` of its steps (normally all the tenant's).
fn flow_budget_ms(steps: &[FlowStep]) -> u64 {
    steps
        .iter()
        .map(|s| s.limits.flow_deadline_ms)
        .min()
        .unwrap_or(crate::DEFAULT_FLOW_DEADLINE_MS)
}

async fn acquire(sem: Arc<Semaphore>, wait: Duration) -> Result<OwnedSemaphorePermit, HookError> {
    match tokio::time::timeout(wait, sem.acquire_owned()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(HookError::Capacity),
    }
}
