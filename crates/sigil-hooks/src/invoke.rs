//! One invocation: a fresh `Store`, instantiate, call the entry point, collect the effects and
//! logs, drop everything. Nothing survives from one login to the next.

use std::time::{Duration, Instant};

use wasmtime::component::{ComponentType, Lower, TypedFunc};
use wasmtime::{Store, Trap};

use crate::bindings::{v0_1, v0_2};
use crate::contract_0_2::{Reach, Reached};
use crate::engine::TICK;
use crate::host::{CallRules, Effects, HostState};
use crate::prepare::{Exports, PreparedHook};
use crate::runtime::HookRuntime;
use crate::{HookError, Limits};

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
    /// What a 0.2.0 hook reached (its fetches and cache lookups, for the trace).
    pub reached: Option<Reached>,
}

impl HookRuntime {
    /// Runs one hook: fresh store, instantiate, call, collect, drop. Its epoch deadline is its
    /// own or what is left of the flow's budget, whichever ends first. A hook that imports
    /// nothing asynchronous runs straight through on the polling thread; one that does (WASI)
    /// runs on a fiber, so its waits give the thread back.
    pub(crate) async fn invoke(
        &self,
        hook: &PreparedHook,
        call: Call<'_>,
        limits: Limits,
        rules: CallRules,
    ) -> Invocation {
        let now_ms = match &call {
            Call::V0_1(e) => e.now_ms,
            Call::V0_2(e, _) => e.now_ms,
        };
        let mut cycle = self.cycle(limits, rules, now_ms);
        let called = match call {
            Call::V0_1(event) => match cycle.store() {
                Ok(store) => Ok(run(hook, store, event).await),
                Err(e) => Err(e),
            },
            Call::V0_2(event, reach) => {
                cycle.reach(reach);
                match cycle.store() {
                    Ok(store) => Ok(run(hook, store, event).await),
                    Err(e) => Err(e),
                }
            }
        };
        let result = called.and_then(|c| cycle.named(c));
        let (result, end) = cycle.end(result);
        Invocation {
            result: result.map(|()| end.effects),
            logs: end.logs,
            fuel_used: end.fuel_used,
            duration: end.duration,
            reached: end.reached,
        }
    }

    /// A fresh store for one invocation under `limits`, within the flow's `rules`.
    pub(crate) fn cycle(&self, limits: Limits, rules: CallRules, now_ms: i64) -> Cycle {
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
        let mut store = Store::new(&self.engine, HostState::new(limits, rules, now_ms));
        store.limiter(|s| s);
        let ready = store
            .set_fuel(limits.fuel)
            .map_err(|e| HookError::Internal(e.to_string()));
        let ticks = deadline_ms.div_ceil(TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
        Cycle {
            store,
            ready,
            start,
            limits,
            budget_bound,
            budget_ms,
            deadline_ms,
        }
    }
}

/// One invocation's store and the limits it runs under, from its creation to its drop.
pub(crate) struct Cycle {
    pub(crate) store: Store<HostState>,
    ready: Result<(), HookError>,
    start: Instant,
    limits: Limits,
    /// Whether the epoch deadline is the flow's budget rather than the hook's own.
    budget_bound: bool,
    budget_ms: u64,
    deadline_ms: u64,
}

/// What an invocation left besides its result.
pub(crate) struct CycleEnd {
    pub(crate) effects: crate::host::Effects,
    pub(crate) logs: Vec<String>,
    pub(crate) fuel_used: u64,
    pub(crate) duration: Duration,
    pub(crate) reached: Option<Reached>,
}

impl Cycle {
    /// Gives a 0.2.0 hook what it may reach. A fetch may use what is left of this hook's own
    /// deadline, less a tenth (1 to 50 ms) kept for the hook to act on a `timeout` (log it,
    /// fall back) instead of being stopped the moment its request gives up.
    pub(crate) fn reach(&mut self, mut reach: Reach) {
        let own = self.start + Duration::from_millis(self.deadline_ms);
        let reserve = Duration::from_millis((self.deadline_ms / 10).clamp(1, 50));
        let end = reach.deadline.min(own);
        reach.deadline = end.checked_sub(reserve).unwrap_or(end);
        self.store.data_mut().reach = Some(reach);
    }

    /// The store to call the guest in, unless it could not be readied (its fuel).
    pub(crate) fn store(&mut self) -> Result<&mut Store<HostState>, HookError> {
        self.ready.clone()?;
        Ok(&mut self.store)
    }

    /// What the guest's call came to: a trap named (the deadline it stands for, fuel,
    /// memory, a panic), or the hook's own error.
    pub(crate) fn named<T>(
        &self,
        called: wasmtime::Result<Result<T, String>>,
    ) -> Result<T, HookError> {
        let limits = self.limits;
        called
            .map_err(|e| {
                let timeout = if self.budget_bound {
                    HookError::FlowTimeout(self.budget_ms)
                } else {
                    HookError::Timeout(limits.deadline_ms)
                };
                classify(e, self.store.data(), limits, timeout)
            })
            .and_then(|r| r.map_err(HookError::Returned))
    }

    /// Collects what the invocation left and drops the store. A failure the host recorded (a
    /// refused call) is the result whatever the guest returned afterwards.
    pub(crate) fn end<T>(self, result: Result<T, HookError>) -> (Result<T, HookError>, CycleEnd) {
        let mut store = self.store;
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.data_mut();
        let captured = state.captured_output();
        for line in String::from_utf8_lossy(&captured).lines() {
            if state.push_log(line.to_string()).is_err() {
                break;
            }
        }
        let result = match (result, state.failure.take()) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        };
        let effects = std::mem::take(&mut state.effects);
        let logs = std::mem::take(&mut state.logs);
        let reached = state.reach.take().map(|r| r.reached);
        // The store's drop (the instance's reset) is part of the cycle's duration.
        drop(store);
        let end = CycleEnd {
            effects,
            logs,
            fuel_used,
            duration: self.start.elapsed(),
            reached,
        };
        (result, end)
    }
}

/// The event in the form of each contract version the flow's hooks target, made on first use.
#[derive(Default)]
pub(crate) struct WitEvents {
    pub(crate) v0_1: Option<v0_1::sigil::hooks::types::Event>,
    pub(crate) v0_2: Option<v0_2::sigil::hooks::types::Event>,
}

/// One invocation's event, in its hook's contract version, and (0.2.0) what it may reach.
pub(crate) enum Call<'a> {
    /// `sigil:hooks@0.1.0`.
    V0_1(&'a v0_1::sigil::hooks::types::Event),
    /// `sigil:hooks@0.2.0`.
    V0_2(&'a v0_2::sigil::hooks::types::Event, Reach),
}

/// The export every post-login hook provides.
pub(crate) const ENTRY: &str = "on-post-login";

/// The export's result in every contract version so far.
type EntryRet = Result<(), String>;
/// The export's signature for an event type `E` (each contract version's own), used unchecked
/// in [`call`]; the test `entry_is_the_generated_binding_signature` ties it to the bindings.
type Entry<'a, E> = TypedFunc<(&'a E,), (EntryRet,)>;

/// What every contract version's event is to wasmtime.
pub(crate) trait WitEvent: ComponentType + Lower + Sync + 'static {}
impl WitEvent for crate::bindings::v0_1::sigil::hooks::types::Event {}
impl WitEvent for crate::bindings::v0_2::sigil::hooks::types::Event {}

/// Instantiates and calls the hook's entry point, on a fiber when the hook has asynchronous
/// imports.
async fn run<E: WitEvent>(
    hook: &PreparedHook,
    store: &mut Store<HostState>,
    event: &E,
) -> wasmtime::Result<Result<(), String>> {
    if hook.needs_async {
        call_async(hook, store, event).await
    } else {
        call(hook, store, event)
    }
}

/// Instantiates and calls the hook's entry point.
#[allow(unsafe_code)] // See the SAFETY note on `new_unchecked`.
fn call<E: WitEvent>(
    hook: &PreparedHook,
    store: &mut Store<HostState>,
    event: &E,
) -> wasmtime::Result<Result<(), String>> {
    let entry = post_login_entry(hook)?;
    let instance = hook.pre.instantiate(&mut *store)?;
    let func = instance
        .get_func(&mut *store, entry)
        .ok_or_else(|| wasmtime::Error::msg(format!("the hook exports no `{ENTRY}`")))?;
    // SAFETY: `prepare` type-checked this component's `on-post-login` against its contract
    // version's world (`PostLoginPre::new`), and `Call` pairs a hook with the event type of
    // that version, so `Entry<E>` is exactly the export's signature; checking it again on
    // every login would only cost time.
    let entry: Entry<'_, E> = unsafe { TypedFunc::new_unchecked(func) };
    let (r,) = entry.call(&mut *store, (event,))?;
    Ok(r)
}

/// [`call`] for a hook with asynchronous imports: instantiated and called on a fiber.
#[allow(unsafe_code)] // See the SAFETY note on `new_unchecked`.
async fn call_async<E: WitEvent>(
    hook: &PreparedHook,
    store: &mut Store<HostState>,
    event: &E,
) -> wasmtime::Result<Result<(), String>> {
    let entry = post_login_entry(hook)?;
    let instance = hook.pre.instantiate_async(&mut *store).await?;
    let func = instance
        .get_func(&mut *store, entry)
        .ok_or_else(|| wasmtime::Error::msg(format!("the hook exports no `{ENTRY}`")))?;
    // SAFETY: as in `call`: `prepare` checked the export against the world's signature.
    let entry: Entry<'_, E> = unsafe { TypedFunc::new_unchecked(func) };
    let (r,) = entry.call_async(&mut *store, (event,)).await?;
    Ok(r)
}

/// The `on-post-login` export of a post-login hook; a user-store hook has none (the flow
/// refuses to bind one, so this is a last line of defence).
fn post_login_entry(
    hook: &PreparedHook,
) -> wasmtime::Result<wasmtime::component::ComponentExportIndex> {
    match &hook.exports {
        Exports::PostLogin(entry) => Ok(*entry),
        Exports::UserStore(_) => Err(wasmtime::Error::msg(
            "a user-store hook is not a post-login hook: it exports no `on-post-login`",
        )),
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

#[cfg(test)]
mod tests {
    use wasmtime::Store;

    use super::EntryRet;
    use crate::bindings::{v0_1, v0_2};
    use crate::host::HostState;

    /// `call` skips wasmtime's per-call type check (`TypedFunc::new_unchecked`) because
    /// `prepare` checked the component against the world. That is sound only while `Entry` is
    /// the world's signature: this stops compiling if the WIT of `on-post-login` changes (the
    /// generated binding's parameter or result type changes with it) and `Entry` is not
    /// updated to match.
    #[test]
    fn entry_is_the_generated_binding_signature() {
        fn binding_0_1(
            hook: &v0_1::PostLogin,
            store: &mut Store<HostState>,
            event: &v0_1::sigil::hooks::types::Event,
        ) -> wasmtime::Result<EntryRet> {
            hook.call_on_post_login(store, event)
        }
        fn binding_0_2(
            hook: &v0_2::PostLogin,
            store: &mut Store<HostState>,
            event: &v0_2::sigil::hooks::types::Event,
        ) -> wasmtime::Result<EntryRet> {
            hook.call_on_post_login(store, event)
        }
        let _ = (binding_0_1, binding_0_2);
    }
}
