//! Cheap flows run on the async worker that admitted them, within a slice of fuel.
//!
//! Handing a flow to a hook thread and waking the worker when it is done costs about two
//! context switches a login, and on a small machine they cost more than three cheap hooks
//! (docs/performance.md, change 19). So a flow of synchronous hooks whose last runs used at
//! most [`SLICE_FUEL`] together runs where it was admitted, given at most what is left of that
//! slice as each hook's fuel (or the hook's own limit, if lower). A flow that needs more is
//! stopped at the slice's end and runs again from its first hook on the pool, with its hooks'
//! whole limits: hooks are pure (every effect is returned and applied once the flow is over,
//! and each run has fresh instances), so running one again costs time only, never a second
//! effect. The hook is then judged by that full run, and goes back inline once a run of it is
//! cheap again.
//!
//! What this keeps: a worker is held by guest code for at most the slice (about the time of
//! one RS256 signature, which workers make anyway), and a flow that does not fit never runs
//! inline again until a run of it does, so a hook that spins or waits is on the pool. An inline
//! flow holds an instance of the pooling allocator like any flow (the in-flight admission,
//! taken only if free at once: waiting for one, it would be woken on whichever worker gave one
//! back and gather flows there), but no running permit, because it takes no pool thread: the
//! cap on a tenant's pool threads is untouched. Each hook keeps its own deadline, fuel and
//! memory limits, and the errors name them, never the slice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::HookError;
use crate::Limits;
use crate::caches::Share;
use crate::event::PostLoginEvent;
use crate::flow::FlowStart;
use crate::flow_step::FlowStep;
use crate::outcome::FlowOutcome;
use crate::pool::{catch, run_now};
use crate::runtime::{HookRuntime, InFlight, SYNC_FLOW_WAITED, any_async};

/// The fuel a flow may use on an async worker: five times what the three example hooks of the
/// benchmark use together (about 60,000), and 50 to 300 us of guest code on the development
/// machine (a guest's tight loop burns it in 50 us; hooks that call the host, slower).
pub const SLICE_FUEL: u64 = 300_000;

/// The fuel one binding's hook used in its last run, shared by the copies of a tenant's loaded
/// flow (`u64::MAX` until it has run, so a hook's first run is on the pool). It is kept per
/// tenant and binding, not per component, so that one tenant's logins cannot decide where the
/// same hook of another tenant runs.
#[derive(Debug, Clone)]
pub struct FuelSeen(Arc<AtomicU64>);

impl Default for FuelSeen {
    fn default() -> Self {
        FuelSeen(Arc::new(AtomicU64::new(u64::MAX)))
    }
}

impl FuelSeen {
    /// The fuel of the last run (`u64::MAX`: not run, or stopped at the slice's end).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, fuel: u64) {
        self.0.store(fuel, Ordering::Relaxed);
    }
}

/// Whether `steps` may run inline: every hook synchronous, and their last runs within the
/// slice together.
pub(crate) fn fits(steps: &[FlowStep]) -> bool {
    !any_async(steps)
        && steps
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(s.fuel_seen.get()))
            <= SLICE_FUEL
}

impl HookRuntime {
    /// Runs `steps` on this thread within the slice if they [`fits`] and an instance is free
    /// at once (`start` makes the flow's start only then): `Ok` with the flow's outcome, or
    /// `Err` to run it on the pool, holding the instance if it overran the slice (`None`: it
    /// was not run, admit it as usual). Only free permits: a task woken on a worker by a
    /// permit an inline flow gave back runs next on that worker, and such hand-offs gathered
    /// flows and the signatures after them on one worker.
    pub(crate) fn try_inline(
        &self,
        steps: &[FlowStep],
        event: &PostLoginEvent,
        event_size: usize,
        share: &Share,
        start: impl FnOnce() -> FlowStart,
    ) -> Result<Result<FlowOutcome, HookError>, Option<InFlight>> {
        if !fits(steps) {
            return Err(None);
        }
        let permits = self.try_in_flight(share).ok_or(None)?;
        let flow = self.flow(
            steps,
            event,
            event_size,
            start(),
            &|| false,
            Some(Slice::new()),
        );
        match catch(|| run_now(flow)) {
            Ok(Some(Ok(mut out))) => {
                out.ran_inline = true;
                Ok(Ok(out))
            }
            Ok(Some(Err(Overran))) => Err(Some(permits)),
            Ok(None) => Ok(Err(HookError::Internal(SYNC_FLOW_WAITED.into()))),
            Err(e) => Ok(Err(HookError::Internal(e.to_string()))),
        }
    }
}

/// What is left of an inline flow's slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice {
    left: u64,
}

/// Why an inline flow stopped: it needs more than the slice, and runs again on the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overran;

impl Slice {
    pub(crate) fn new() -> Slice {
        Slice { left: SLICE_FUEL }
    }

    /// `own` with the fuel cut to what is left of the slice.
    pub(crate) fn limits(&self, own: Limits) -> Limits {
        Limits {
            fuel: own.fuel.min(self.left),
            ..own
        }
    }
}

/// Records what a hook's run used, and takes it off the slice if the flow runs inline. A run
/// that ran out of fuel the slice cut (not its own limit) means the flow overran.
pub(crate) fn spent(
    step: &FlowStep,
    slice: Option<&mut Slice>,
    given: &Limits,
    fuel_used: u64,
    result: &Result<crate::host::Effects, HookError>,
) -> Result<(), Overran> {
    if let Some(slice) = slice {
        if given.fuel < step.limits.fuel && matches!(result, Err(HookError::OutOfFuel(_))) {
            step.fuel_seen.set(u64::MAX);
            return Err(Overran);
        }
        slice.left = slice.left.saturating_sub(fuel_used);
    }
    step.fuel_seen.set(fuel_used);
    Ok(())
}
