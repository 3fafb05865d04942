//! Running hooks: prepared components, one fresh `Store` per invocation, a dedicated thread
//! pool, and flows.
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

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::ToSchema;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker, TypedFunc};
use wasmtime::{Engine, Store, Trap};

use super::bindings::v0_1::{PostLogin, PostLoginPre, sigil::hooks::types as wit};
use super::caches::{self, CacheBounds, Lru, TenantSlots};
use super::engine::{self, EngineSettings, TICK};
use super::event::PostLoginEvent;
use super::host::{AddableScopes, CallRules, Effects, HostState};
use super::pool::Pool;
use super::{HookError, Limits};

/// A component ready to instantiate (type-checked against the world once).
pub struct PreparedHook {
    pre: InstancePre<HostState>,
    /// The `on-post-login` export, resolved once.
    entry: ComponentExportIndex,
    /// SHA-256 of the component bytes.
    pub hash: String,
}

impl PreparedHook {
    /// The compiled artifact of this component, as the compile worker produced it: stored for
    /// an upload of a component this node has prepared but whose artifact is not stored.
    pub fn artifact(&self) -> Result<Vec<u8>, HookError> {
        self.pre
            .component()
            .serialize()
            .map_err(|e| HookError::Internal(format!("serializing a component: {e:#}")))
    }
}

impl std::fmt::Debug for PreparedHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedHook")
            .field("hash", &self.hash)
            .finish()
    }
}

/// The result of one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The effects, or why the hook failed.
    pub result: Result<Effects, HookError>,
    /// Log lines (the hook's `log` calls and captured stdout/stderr).
    pub logs: Vec<String>,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall time of the whole cycle (store, instantiate, call, drop).
    pub duration: Duration,
}

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
    /// Microseconds.
    pub duration_us: u64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Names of claims set (ID and access token).
    pub claims_set: Vec<String>,
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
}

impl HookRuntime {
    /// An outcome with nothing in it (a flow without hooks).
    pub fn empty_outcome() -> FlowOutcome {
        FlowOutcome::empty()
    }
}

impl FlowOutcome {
    fn empty() -> Self {
        FlowOutcome {
            status: FlowStatus::Success,
            id_token_claims: Map::new(),
            access_token_claims: Map::new(),
            scopes_added: Vec::new(),
            scopes_removed: Vec::new(),
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            trace: Vec::new(),
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

    fn merge(&mut self, e: Effects) {
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
    engine: Engine,
    linker: Linker<HostState>,
    /// Prepared components by content hash, least recently used dropped beyond the bound.
    cache: Mutex<Lru<Arc<PreparedHook>>>,
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

    /// Type-checks a compiled component against the world and caches it by content hash.
    pub fn prepare(
        &self,
        hash: &str,
        component: &Component,
    ) -> Result<Arc<PreparedHook>, HookError> {
        if let Some(h) = self.cached(hash) {
            return Ok(h);
        }
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
        // The world's type check, done once here so `invoke` can skip it on every login.
        PostLoginPre::new(pre.clone()).map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
        let entry = component
            .get_export_index(None, ENTRY)
            .ok_or_else(|| HookError::Instantiate(format!("the hook exports no `{ENTRY}`")))?;
        let hook = Arc::new(PreparedHook {
            pre,
            entry,
            hash: hash.to_string(),
        });
        if let Ok(mut c) = self.cache.lock() {
            c.insert(hash.to_string(), hook.clone());
        }
        Ok(hook)
    }

    /// A prepared hook from the cache.
    pub fn cached(&self, hash: &str) -> Option<Arc<PreparedHook>> {
        self.cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(hash).cloned())
    }

    /// Drops a prepared component from the cache (its stored artifact was deleted).
    pub fn forget(&self, hash: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(hash);
        }
    }

    /// How many prepared components the cache holds (at most `caches.prepared`).
    pub fn cached_len(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }

    /// How many tenant semaphores are kept (at most `caches.tenants`, plus busy ones).
    pub fn tenant_slots_len(&self) -> usize {
        self.tenants.lock().map_or(0, |t| t.len())
    }

    /// Runs one hook on the calling thread: fresh store, instantiate, call, collect, drop. Its
    /// epoch deadline is its own or what is left of the flow's budget, whichever ends first.
    pub fn invoke(
        &self,
        hook: &PreparedHook,
        event: &wit::Event,
        limits: Limits,
        rules: CallRules,
    ) -> Invocation {
        let start = Instant::now();
        let left_ms = rules
            .flow_deadline
            .saturating_duration_since(start)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX);
        // Which limit the epoch deadline stands for, to name the error if it fires.
        let budget_bound = left_ms < limits.deadline_ms;
        let (budget_ms, deadline_ms) = (rules.flow_budget_ms, limits.deadline_ms.min(left_ms));
        let mut store = Store::new(&self.engine, HostState::new(limits, rules, event.now_ms));
        store.limiter(|s| s);
        let mut result = store
            .set_fuel(limits.fuel)
            .map_err(|e| HookError::Internal(e.to_string()));
        let ticks = deadline_ms.div_ceil(TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
        if result.is_ok() {
            result = call(hook, &mut store, event)
                .map_err(|e| {
                    let timeout = if budget_bound {
                        HookError::FlowTimeout(budget_ms)
                    } else {
                        HookError::Timeout(limits.deadline_ms)
                    };
                    classify(e, store.data(), limits, timeout)
                })
                .and_then(|r| r.map_err(HookError::Returned));
        }
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.data_mut();
        let captured = state.captured_output();
        for line in String::from_utf8_lossy(&captured).lines() {
            if state.push_log(line.to_string()).is_err() {
                break;
            }
        }
        let result = match (result, state.failure.take()) {
            (Ok(()), Some(e)) | (Err(_), Some(e)) => Err(e),
            (Ok(()), None) => Ok(std::mem::take(&mut state.effects)),
            (Err(e), None) => Err(e),
        };
        let logs = std::mem::take(&mut state.logs);
        drop(store);
        Invocation {
            result,
            logs,
            fuel_used,
            duration: start.elapsed(),
        }
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
        let event_json =
            serde_json::to_string(event).map_err(|e| HookError::Internal(e.to_string()))?;
        let rt = self.clone();
        let event = event.clone();
        let addable = Arc::new(addable);
        let done = self.pool.spawn(move |abandoned| {
            // The permits live as long as the work, whatever happens to the caller.
            let _permits = (tenant_permit, slot);
            rt.flow(
                &steps,
                &event,
                event_json.len(),
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
                    wit_event.secrets = super::event::wit_secrets(&step.secrets);
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
        .unwrap_or(super::DEFAULT_FLOW_DEADLINE_MS)
}

/// The export every post-login hook provides.
const ENTRY: &str = "on-post-login";

/// The export's signature in `sigil:hooks@0.1.0`.
type Entry<'a> = TypedFunc<(&'a wit::Event,), (Result<(), String>,)>;

/// Instantiates and calls the hook's entry point.
fn call(
    hook: &PreparedHook,
    store: &mut Store<HostState>,
    event: &wit::Event,
) -> wasmtime::Result<Result<(), String>> {
    let instance = hook.pre.instantiate(&mut *store)?;
    let func = instance
        .get_func(&mut *store, hook.entry)
        .ok_or_else(|| wasmtime::Error::msg(format!("the hook exports no `{ENTRY}`")))?;
    // SAFETY: `prepare` type-checked this component's `on-post-login` against the world's
    // signature (`PostLoginPre::new`), which is exactly `Entry`; checking it again on every
    // login would only cost time.
    let entry: Entry<'_> = unsafe { TypedFunc::new_unchecked(func) };
    let (r,) = entry.call(&mut *store, (event,))?;
    Ok(r)
}

async fn acquire(sem: Arc<Semaphore>, wait: Duration) -> Result<OwnedSemaphorePermit, HookError> {
    match tokio::time::timeout(wait, sem.acquire_owned()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(HookError::Capacity),
    }
}

/// Names a trap; `timeout` is what an epoch interrupt means for this invocation (its own
/// deadline, or the flow's budget).
fn classify(
    e: wasmtime::Error,
    state: &HostState,
    limits: Limits,
    timeout: HookError,
) -> HookError {
    if let Some(f) = &state.failure {
        return f.clone();
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => timeout,
        Some(Trap::OutOfFuel) => HookError::OutOfFuel(limits.fuel),
        Some(Trap::StackOverflow) => HookError::StackOverflow,
        Some(trap) => {
            if state.memory_refused {
                HookError::OutOfMemory(limits.memory_bytes)
            } else if let Some(msg) = state
                .logs
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix("panic: "))
            {
                HookError::Panic(msg.to_string())
            } else {
                HookError::Trap(trap.to_string())
            }
        }
        None if state.memory_refused => HookError::OutOfMemory(limits.memory_bytes),
        None => HookError::Trap(format!("{e:#}")),
    }
}
