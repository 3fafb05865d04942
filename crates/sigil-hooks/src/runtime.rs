//! Running flows: the hook runtime (engine, linker, prepared cache, guest thread pool),
//! admission, and a flow's hooks run in order under one budget.
//!
//! A flow starts on the async worker that awaits it, for one short slice ([`INLINE_SLICE`]):
//! the usual flow, a few hooks of tens of microseconds, ends within it and costs no thread
//! hand-off (two thread switches, which cost a grant several times the hooks' own CPU:
//! docs/performance.md). A hook still running when the slice ends is interrupted by the epoch
//! deadline, its run dropped, and the rest of the flow from that hook handed to one of the
//! pool's threads, where the hook runs again on a fresh instance with its whole deadline. So a
//! spinning guest holds a tokio worker for one slice (and one epoch tick) at most, once per
//! flow, and otherwise only a pool thread, until its deadline. Admission is bounded twice: a
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
use crate::pool::{self, Pool, PoolError};
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
        event: &PostLoginEvent,
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
        let event_size = json_size(event)?;
        let mut run = FlowRun::new(
            event,
            &steps,
            FlowStart {
                at: admitted,
                addable: Arc::new(addable),
            },
        );
        // First here, on the async worker, for at most one slice: a flow of cheap hooks (the
        // usual kind, tens of microseconds) ends within it and costs no thread hand-off.
        let slice_end = Instant::now() + INLINE_SLICE;
        let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run_steps(&mut run, &steps, event_size, &|| false, Some(slice_end))
        }));
        match inline {
            Ok(Progress::Done) => return Ok(run.out),
            Ok(Progress::Yielded) => {}
            Err(p) => {
                return Err(HookError::Internal(
                    PoolError::Panicked(pool::panic_message(p.as_ref())).to_string(),
                ));
            }
        }
        // The slice ran out: the rest of the flow, from the hook that was interrupted (run
        // again from the start, on a fresh instance), goes to a pool thread.
        let rt = self.clone();
        let done = self.pool.spawn(move |abandoned| {
            // The permits live as long as the work, whatever happens to the caller.
            let _permits = (tenant_permit, slot);
            rt.run_steps(&mut run, &steps, event_size, abandoned, None);
            run.out
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
        let mut run = FlowRun::new(event, steps, start);
        self.run_steps(&mut run, steps, event_size, abandoned, None);
        run.out
    }

    /// Runs `run`'s remaining steps in order. With a `slice`, a hook still running when it
    /// ends is interrupted and its effects dropped, and the flow yields before that hook, to
    /// be resumed without a slice; no hook starts after it.
    fn run_steps(
        &self,
        run: &mut FlowRun,
        steps: &[FlowStep],
        event_size: usize,
        abandoned: &dyn Fn() -> bool,
        slice: Option<Instant>,
    ) -> Progress {
        let FlowRun {
            out,
            rules,
            wit_event,
            next,
            budget_ms,
        } = run;
        let budget_ms = *budget_ms;
        while let Some(step) = steps.get(*next) {
            if abandoned() {
                // The caller is gone (the client hung up): nobody will read this outcome, and
                // running on would only keep the tenant's permit and a pool thread busy.
                out.status = FlowStatus::Failed {
                    hook: step.hook_name.clone(),
                    code: "abandoned".into(),
                    message: "the login was abandoned before this hook ran".into(),
                };
                return Progress::Done;
            }
            if slice.is_some_and(|end| Instant::now() >= end) {
                return Progress::Yielded;
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
                    match self.invoke_within(
                        &step.hook,
                        wit_event,
                        step.limits,
                        rules.clone(),
                        slice,
                    ) {
                        Some(run) => run,
                        None => return Progress::Yielded,
                    }
                }
            };
            *next += 1;
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
                        return Progress::Done;
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
                            return Progress::Done;
                        }
                    }
                }
            }
        }
        Progress::Done
    }
}

/// How long a flow may run on the async worker that awaits it before the rest of it moves to
/// a pool thread. A guest that spins holds the worker no longer than this and one epoch tick.
pub const INLINE_SLICE: Duration = Duration::from_millis(2);

/// Whether a flow ran to its end or stopped at its slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Done,
    Yielded,
}

/// A flow under way: its outcome so far, the rules later hooks are checked against, the event
/// as the contract carries it, and the next step.
struct FlowRun {
    out: FlowOutcome,
    rules: CallRules,
    wit_event: crate::bindings::v0_1::sigil::hooks::types::Event,
    next: usize,
    budget_ms: u64,
}

impl FlowRun {
    fn new(event: &PostLoginEvent, steps: &[FlowStep], start: FlowStart) -> Self {
        let budget_ms = flow_budget_ms(steps);
        FlowRun {
            out: FlowOutcome::empty(),
            rules: CallRules {
                // Checked: an operator's ceiling can be any u64, and `Instant + Duration`
                // panics on overflow (`Instant`'s range is platform-defined); past a year means
                // no budget.
                flow_deadline: start
                    .at
                    .checked_add(Duration::from_millis(budget_ms))
                    .unwrap_or_else(|| start.at + Duration::from_secs(365 * 24 * 3600)),
                flow_budget_ms: budget_ms,
                addable_scopes: start.addable,
                user_metadata: Arc::new(event.user.user_metadata.clone()),
                app_metadata: Arc::new(event.user.app_metadata.clone()),
            },
            // Converted once per flow (metadata is serialized to JSON text here); only the
            // secrets change from one hook to the next.
            wit_event: event.to_wit(),
            next: 0,
            budget_ms,
        }
    }
}

/// The size of the event as JSON, which each hook's `event_bytes` limit bounds, counted
/// without keeping the text.
fn json_size(event: &PostLoginEvent) -> Result<usize, HookError> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, event).map_err(|e| HookError::Internal(e.to_string()))?;
    Ok(count.0)
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
