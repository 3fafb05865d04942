//! A flow's hooks run in order under one budget: each hook's event and limits, its trace, its
//! effects merged into the flow's outcome, and the first deny or fail-closed failure ending the
//! flow. Where the flow runs (inline within a slice of fuel, or on a pool) is the caller's
//! choice ([`HookRuntime::run_flow`], [`HookRuntime::flow_blocking`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::HookError;
use crate::contract_0_2::Reach;
use crate::event::PostLoginEvent;
use crate::host::{AddableScopes, CallRules};
use crate::inline::{self, Overran, Slice};
use crate::invoke::{Call, Invocation, WitEvents};
use crate::outcome::{FailurePolicy, FlowOutcome, FlowStatus, HookTrace};
use crate::prepare::Contract;
use crate::running::Running;
use crate::runtime::{FlowStep, HookRuntime};

/// Where a flow's budget starts, what its hooks may add, whose it is, and its admission.
pub(crate) struct FlowStart {
    pub(crate) at: Instant,
    pub(crate) addable: Arc<AddableScopes>,
    pub(crate) tenant: Arc<str>,
    pub(crate) running: Arc<Running>,
}

impl HookRuntime {
    /// Runs the flow; stops between hooks when `abandoned()` says nobody waits for it. With a
    /// `slice` (inline), stops with [`Overran`] when a hook needs more fuel than it has left.
    pub(crate) async fn flow<A: Fn() -> bool>(
        &self,
        steps: &[FlowStep],
        event: &PostLoginEvent,
        event_size: usize,
        start: FlowStart,
        abandoned: &A,
        mut slice: Option<Slice>,
    ) -> Result<FlowOutcome, Overran> {
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
            addable_scopes: start.addable.clone(),
            user_metadata: Arc::new(event.user.user_metadata.clone()),
            app_metadata: Arc::new(event.user.app_metadata.clone()),
        };
        // Convert once per flow and contract version (metadata is serialized to JSON text
        // here); only the secrets change from one hook to the next.
        let mut events = WitEvents::default();
        for step in steps {
            if abandoned() {
                // The caller is gone (the client hung up): nobody will read this outcome, and
                // running on would only keep the tenant's permit and a pool thread busy.
                out.status = FlowStatus::Failed {
                    hook: step.hook_name.clone(),
                    code: "abandoned".into(),
                    message: "the login was abandoned before this hook ran".into(),
                };
                return Ok(out);
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
                    reached: None,
                },
                None => {
                    let call = match step.hook.contract {
                        Contract::V0_1 => {
                            let e = events.v0_1.get_or_insert_with(|| event.to_wit());
                            e.secrets = crate::event::wit_secrets(&step.secrets);
                            Call::V0_1(e)
                        }
                        Contract::V0_2 => {
                            let e = events.v0_2.get_or_insert_with(|| event.to_wit_0_2());
                            e.secret_names = step.secrets.iter().map(|(n, _)| n.clone()).collect();
                            Call::V0_2(
                                e,
                                Reach::new(
                                    self.fetcher.clone(),
                                    step,
                                    &start.tenant,
                                    &start.running,
                                    rules.flow_deadline,
                                ),
                            )
                        }
                    };
                    let limits = slice.map_or(step.limits, |s| s.limits(step.limits));
                    let run = self.invoke(&step.hook, call, limits, rules.clone()).await;
                    inline::spent(step, slice.as_mut(), &limits, run.fuel_used, &run.result)?;
                    run
                }
            };
            let reached = run.reached.unwrap_or_default();
            let mut trace = HookTrace {
                outcome: "ok".into(),
                duration_us: run.duration.as_micros() as u64,
                fuel_used: run.fuel_used,
                logs: run.logs,
                fetches: reached.fetches,
                cache_hits: reached.cache_hits,
                cache_misses: reached.cache_misses,
                fetch_outcomes: reached.outcomes,
                ..step.trace()
            };
            match run.result {
                Ok(effects) => {
                    trace.note_effects(&effects);
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
                        return Ok(out);
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
                            return Ok(out);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A flow's budget: the lowest `flow_deadline_ms` of its steps (normally all the tenant's).
pub(crate) fn flow_budget_ms(steps: &[FlowStep]) -> u64 {
    steps
        .iter()
        .map(|s| s.limits.flow_deadline_ms)
        .min()
        .unwrap_or(crate::DEFAULT_FLOW_DEADLINE_MS)
}
