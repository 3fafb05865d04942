//! Running a flow for a login or a test: the host runs it, this records the metrics and builds
//! the trace the caller stores once it knows the login's fate.

use serde_json::json;
use sigil_hooks::HookError;
use sigil_hooks::event::PostLoginEvent;
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FlowOutcome, FlowStatus};
use sigil_hooks::runtime::FlowStep;

use super::Hooks;
use crate::clock::Stopwatch;
use crate::ids::{IdKind, new_id};
use crate::store::hook_traces::{TraceRow, hook_names};

/// Runs the tenant's flow and records the metrics (its duration only when hooks ran); returns the outcome and its trace, which
/// the caller hands to [`save_trace`] once it knows the login's fate. An empty flow has no
/// trace. `addable` is what the login lets `add-scope` add (decided by the protocol layer). A
/// runtime-level failure (no capacity) becomes a failed flow, so callers handle one shape.
pub async fn run_flow(
    hooks: &Hooks,
    tenant_id: &str,
    steps: Vec<FlowStep>,
    event: PostLoginEvent,
    addable: AddableScopes,
    context: &str,
    now: i64,
) -> (FlowOutcome, Option<TraceRow>) {
    let ran = !steps.is_empty();
    let who = (event.user.id.clone(), event.client.client_id.clone());
    let timer = Stopwatch::start();
    let out = match hooks
        .runtime
        .run_flow(tenant_id, steps, event, addable)
        .await
    {
        Ok(o) => o,
        Err(e) => failed_outcome(e),
    };
    let seconds = ran.then(|| timer.seconds());
    let trace = observe(hooks, tenant_id, &out, (context, who), now, seconds);
    (out, ran.then_some(trace))
}

/// The outcome of a login whose tenant has no hooks bound: counted as a successful flow run,
/// as [`run_flow`] counts an empty flow (which has no trace), without building an event for it.
/// No duration is observed: the flow-duration histogram is of flows that ran hooks.
pub fn nothing_to_run(hooks: &Hooks) -> FlowOutcome {
    hooks.metrics.flow("success", None);
    FlowOutcome::empty()
}

/// Queues a trace for the trace writer (stored in a batch within milliseconds).
pub async fn save_trace(hooks: &Hooks, trace: TraceRow) {
    hooks.traces.record(trace).await;
}

/// Queues the trace of a login whose hooks succeeded and which was issued, within the
/// tenant's trace rate (`super::trace_rate`): above it, the trace is counted, not stored.
pub async fn save_success_trace(hooks: &Hooks, trace: TraceRow) {
    hooks.traces.record_success(trace).await;
}

fn failed_outcome(e: HookError) -> FlowOutcome {
    let mut o = FlowOutcome::empty();
    o.status = FlowStatus::Failed {
        hook: String::new(),
        code: e.code().into(),
        message: e.to_string(),
    };
    o
}

/// A trace's stored JSON: `{"status": ..., "hooks": [...]}`.
fn trace_json(out: &FlowOutcome) -> String {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        status: &'a FlowStatus,
        hooks: &'a [sigil_hooks::outcome::HookTrace],
    }
    let body = Body {
        status: &out.status,
        hooks: &out.trace,
    };
    // Strings, numbers and JSON values only: it cannot fail; if it ever did, the trace says so
    // rather than being lost.
    serde_json::to_string(&body)
        .unwrap_or_else(|e| json!({"error": format!("serializing the trace: {e}")}).to_string())
}

/// Counts the run in the metrics and builds its trace; `run` is what ran it (the context) and
/// the event's user and application.
fn observe(
    hooks: &Hooks,
    tenant_id: &str,
    out: &FlowOutcome,
    run: (&str, (String, String)),
    now: i64,
    seconds: Option<f64>,
) -> TraceRow {
    for t in &out.trace {
        hooks.metrics.hook(&t.outcome, t.duration_us);
        for (outcome, us) in &t.fetch_outcomes {
            hooks.metrics.fetch(tenant_id, outcome, *us);
        }
    }
    let status = match &out.status {
        FlowStatus::Success => "success",
        FlowStatus::Denied { .. } => "denied",
        FlowStatus::Failed { .. } => "failed",
    };
    hooks.metrics.flow(status, seconds);
    if out.ran_inline {
        hooks.metrics.flow_inline();
    }
    TraceRow {
        id: new_id(IdKind::Trace, now),
        tenant_id: tenant_id.to_string(),
        at: now,
        context: run.0.to_string(),
        status: status.into(),
        trace: trace_json(out),
        // A test's event may leave them empty.
        user_id: Some(run.1.0).filter(|u| !u.is_empty()),
        client_id: Some(run.1.1).filter(|c| !c.is_empty()),
        hooks: hook_names(out.trace.iter().map(|t| t.hook_name.as_str())),
        // Set to more by the trace rate when logins' traces were left unstored before it.
        runs: 1,
    }
}
