//! Running flows: the hook runtime (engine, linker, prepared cache, guest thread pool),
//! admission, and where each flow runs; [`crate::flow`] runs a flow's hooks in order under
//! its one budget.
//!
//! Guests run on the server's async workers only within a slice of fuel ([`crate::inline`]: a
//! flow whose hooks' last runs were cheap runs where it was admitted, and one that needs more
//! than the slice is stopped there and runs again on the pool). Every other flow is handed
//! whole to the hook pool by [`HookRuntime::run_flow`], so a spinning guest occupies a worker
//! that serves HTTP for at most the slice, and a pool thread until its deadline. Flows of
//! synchronous hooks run
//! on [`crate::pool`]'s plain threads; flows with a hook that fetches or uses WASI on
//! [`crate::io_pool`]'s runtime. Admission is counted twice, each per tenant and node-wide:
//! flows running guest code (the threads; one tenant holds at most its share, and a flow waiting
//! on a fetch gives its permits back, see [`crate::running`]) and flows in flight (the pooling
//! allocator's instances, which it never sees more of than it holds). Waiting for any permit is
//! bounded by the deadline and then fails with `hook_capacity`.
//!
//! Both permits move into the job and are released when the job ends, not when the caller
//! stops waiting: a client that hangs up does not hand its tenant's share of the pool to the
//! same tenant's next flow while the first one still runs. A flow has one wall-clock budget
//! ([`crate::Limits::flow_deadline_ms`]), counted from admission; each hook's epoch deadline
//! is cut to what is left of it, and a flow whose caller is gone stops between hooks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::HookError;
use crate::bindings::{v0_1, v0_2};
use crate::caches::{self, CacheBounds, Lru, TenantSlots};
use crate::engine::{self, EngineSettings};
use crate::event::PostLoginEvent;
use crate::fetch::{FetchSettings, Fetcher};
use crate::flow::{FlowStart, flow_budget_ms};
use crate::host::{AddableScopes, HostState};
use crate::inline::Overran;
use crate::io_pool::IoPool;
use crate::outcome::{FlowOutcome, FlowStatus};
use crate::pool::{Pool, PoolError, run_now};
use crate::prepare::PreparedHook;
use crate::running::{Running, acquire};

pub use crate::flow_step::FlowStep;

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
    /// Where flows with asynchronous hooks run (fetch, WASI), and user-store calls.
    pub(crate) io_pool: IoPool,
    /// Flows running guest code, node-wide (the pool's threads).
    slots: Arc<Semaphore>,
    /// Flows admitted, running or waiting on a fetch (the pooling allocator's instances).
    in_flight: Arc<Semaphore>,
    /// The admission inline flows run under: they take no pool thread, so they hold no
    /// running permit (and, being synchronous, never give one back for a fetch).
    inline_running: Arc<Running>,
    /// Each tenant's share (bounded; busy ones are never dropped).
    tenants: Mutex<TenantSlots>,
    /// The node's fetch client, breakers and hook cache (contract 0.2.0).
    pub(crate) fetcher: Arc<Fetcher>,
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
    /// Builds the engine, the linker (every contract version's imports plus the sealed WASI)
    /// and the pool, with the default fetch settings (HTTPS to public addresses only).
    pub fn new(settings: RuntimeSettings) -> Result<Arc<Self>, HookError> {
        Self::with_fetch(settings, FetchSettings::new())
    }

    /// [`HookRuntime::new`] with the operator's fetch settings.
    pub fn with_fetch(
        settings: RuntimeSettings,
        fetch: FetchSettings,
    ) -> Result<Arc<Self>, HookError> {
        let engine = engine::build(&settings.engine).map_err(|e| HookError::Internal(e.0))?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        // Asynchronous, so that a guest built with a WASI toolchain runs on a fiber of the pool's
        // runtime instead of blocking a pool thread on a runtime of WASI's own.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| HookError::Internal(format!("linking WASI: {e:#}")))?;
        v0_1::PostLogin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| HookError::Internal(format!("linking the hook API 0.1.0: {e:#}")))?;
        v0_2::PostLogin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| HookError::Internal(format!("linking the hook API 0.2.0: {e:#}")))?;
        let fetcher = Fetcher::new(fetch)
            .map_err(|e| HookError::Internal(format!("the hooks' fetch client: {e}")))?;

        let threads = settings
            .threads
            .min(settings.engine.pool_instances as usize)
            .max(1);
        let pool = Pool::new(threads, "sigil-hook")
            .map_err(|e| HookError::Internal(format!("starting the hook pool: {e}")))?;
        let io_pool = IoPool::new(threads, "sigil-hook-io")
            .map_err(|e| HookError::Internal(format!("starting the hook pool: {e}")))?;
        let instances = settings.engine.pool_instances.max(1) as usize;
        Ok(Arc::new(HookRuntime {
            engine,
            linker,
            cache: Mutex::new(caches::lru(settings.caches.prepared)),
            pool,
            io_pool,
            slots: Arc::new(Semaphore::new(threads)),
            in_flight: Arc::new(Semaphore::new(instances)),
            inline_running: Running::unbounded(),
            // A tenant may hold half the instances with flows waiting on its slow API; the
            // other half stays for everyone else.
            tenants: Mutex::new(TenantSlots::new(
                settings.caches.tenants,
                settings.per_tenant,
                instances / 2,
            )),
            fetcher: Arc::new(fetcher),
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
        let until = admitted + wait;
        let share = self.tenant_slots(tenant_id);
        let event_size = event.serialized_size();
        let rt = self.clone();
        let addable = Arc::new(addable);
        let tenant: Arc<str> = tenant_id.into();
        let start_inline = || FlowStart {
            at: admitted,
            addable: addable.clone(),
            tenant: tenant.clone(),
            running: self.inline_running.clone(),
        };
        let permits = match self.try_inline(&steps, &event, event_size, &share, start_inline) {
            Ok(out) => return out,
            Err(Some(held)) => held,
            Err(None) => self.in_flight(&share, until).await?,
        };
        let running = Running::admit(share.run, self.slots.clone(), until).await?;
        let start = FlowStart {
            at: admitted,
            addable,
            tenant,
            running,
        };
        let done = if any_async(&steps) {
            self.io_pool
                .run(move |abandoned| async move {
                    // The permits live as long as the work, whatever happens to the caller.
                    let _permits = permits;
                    rt.flow(
                        &steps,
                        &event,
                        event_size,
                        start,
                        &|| abandoned.is_set(),
                        None,
                    )
                    .await
                    .ok()
                })
                .await
        } else {
            let job = self.pool.spawn(move |abandoned| {
                let _permits = permits;
                let gone = || abandoned();
                let flow = rt.flow(&steps, &event, event_size, start, &gone, None);
                // Synchronous hooks never wait: the flow is done in one poll.
                run_now(flow).and_then(Result::ok)
            });
            match job.await {
                Ok(out) => out,
                Err(_) => Err(PoolError::Stopped),
            }
        };
        match done {
            Ok(Some(out)) => Ok(out),
            Ok(None) => Err(HookError::Internal(SYNC_FLOW_WAITED.into())),
            Err(e) => Err(HookError::Internal(e.to_string())),
        }
    }

    /// Admits one job of `tenant` (a flow, a user-store call), waiting at most until `until`:
    /// its in-flight permits (the tenant's and the node's), held until the job ends, and its
    /// running admission, which a fetch gives back while it waits.
    pub(crate) async fn admit(
        &self,
        tenant: &str,
        until: Instant,
    ) -> Result<(InFlight, Arc<Running>), HookError> {
        let share = self.tenant_slots(tenant);
        let in_flight = self.in_flight(&share, until).await?;
        let running = Running::admit(share.run, self.slots.clone(), until).await?;
        Ok((in_flight, running))
    }

    /// A job's in-flight permits (its instance), the tenant's then the node's, waiting at most
    /// until `until`.
    async fn in_flight(
        &self,
        share: &caches::Share,
        until: Instant,
    ) -> Result<InFlight, HookError> {
        let tenant_in_flight = acquire(share.in_flight.clone(), until).await?;
        let in_flight = acquire(self.in_flight.clone(), until).await?;
        Ok((tenant_in_flight, in_flight))
    }

    /// [`Self::in_flight`] if both permits are free now; `None` rather than waiting.
    pub(crate) fn try_in_flight(&self, share: &caches::Share) -> Option<InFlight> {
        let tenant_in_flight = share.in_flight.clone().try_acquire_owned().ok()?;
        let in_flight = self.in_flight.clone().try_acquire_owned().ok()?;
        Some((tenant_in_flight, in_flight))
    }

    pub(crate) fn tenant_slots(&self, tenant: &str) -> caches::Share {
        let mut map = match self.tenants.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.get(tenant)
    }

    /// The flow on the current thread (the local test runner, benchmarks, tests), with its
    /// budget starting now, inside the pool's runtime (so a hook's host calls find its timers
    /// and sockets). Call it from a plain thread, never from an async task.
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
            tenant: "local".into(),
            running: Running::unbounded(),
        };
        let flow = self.flow(steps, event, event_size, start, &|| false, None);
        if any_async(steps) {
            // Without a slice nothing overruns.
            self.io_pool
                .block_on(flow)
                .unwrap_or_else(|Overran| FlowOutcome::empty())
        } else {
            // Synchronous hooks never wait: one poll, without entering a runtime.
            run_now(flow).and_then(Result::ok).unwrap_or_else(|| {
                let mut out = FlowOutcome::empty();
                out.status = FlowStatus::Failed {
                    hook: String::new(),
                    code: "internal".into(),
                    message: SYNC_FLOW_WAITED.into(),
                };
                out
            })
        }
    }
}

/// A job's in-flight permits: the tenant's, then the node's.
pub(crate) type InFlight = (
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::OwnedSemaphorePermit,
);

/// Whether a flow has a hook with asynchronous imports, so that it runs on the runtime of
/// [`crate::io_pool`] rather than in one poll on a plain thread.
pub(crate) fn any_async(steps: &[FlowStep]) -> bool {
    steps.iter().any(|s| s.hook.needs_async)
}

/// Why a flow of synchronous hooks has no outcome: it waited, which nothing in it can do.
pub(crate) const SYNC_FLOW_WAITED: &str = "a flow of synchronous hooks waited";
