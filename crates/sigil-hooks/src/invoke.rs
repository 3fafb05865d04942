//! One invocation: a fresh `Store`, instantiate, call the entry point, collect the effects and
//! logs, drop everything. Nothing survives from one login to the next.

use std::time::{Duration, Instant};

use wasmtime::component::TypedFunc;
use wasmtime::{Store, Trap};

use crate::bindings::v0_1::sigil::hooks::types as wit;
use crate::engine::TICK;
use crate::host::{CallRules, Effects, HostState};
use crate::prepare::PreparedHook;
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
}

impl HookRuntime {
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
}

/// The export every post-login hook provides.
pub(crate) const ENTRY: &str = "on-post-login";

/// The export's parameter in `sigil:hooks@0.1.0`.
type EntryArg<'a> = &'a wit::Event;
/// The export's result in `sigil:hooks@0.1.0`.
type EntryRet = Result<(), String>;
/// The export's signature, used unchecked in [`call`]; the test
/// `entry_is_the_generated_binding_signature` ties it to the bindings.
type Entry<'a> = TypedFunc<(EntryArg<'a>,), (EntryRet,)>;

/// Instantiates and calls the hook's entry point.
#[allow(unsafe_code)] // See the SAFETY note on `new_unchecked`.
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

    use super::{EntryArg, EntryRet};
    use crate::bindings::v0_1::PostLogin;
    use crate::host::HostState;

    /// `call` skips wasmtime's per-call type check (`TypedFunc::new_unchecked`) because
    /// `prepare` checked the component against the world. That is sound only while `Entry` is
    /// the world's signature: this stops compiling if the WIT of `on-post-login` changes (the
    /// generated binding's parameter or result type changes with it) and `Entry` is not
    /// updated to match.
    #[test]
    fn entry_is_the_generated_binding_signature() {
        fn binding(
            hook: &PostLogin,
            store: &mut Store<HostState>,
            event: EntryArg<'_>,
        ) -> wasmtime::Result<EntryRet> {
            hook.call_on_post_login(store, event)
        }
        let _ = binding;
    }
}
