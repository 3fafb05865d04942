//! The per-tenant post-login flow: its bindings (management side), loading it for a login,
//! running it with metrics and traces, test runs, and reading traces back.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::event::PostLoginEvent;
use super::host::AddableScopes;
use super::registry::{find, open_secrets, prepare};
use super::runtime::{FailurePolicy, FlowOutcome, FlowStatus, FlowStep, HookTrace};
use super::{HookError, LimitOverrides, Limits};
use crate::clock::rfc3339;
use crate::ids::{IdKind, new_id};
use crate::manage::{ManageError, Page, PageParams, Result, TenantCtx, invalid, record};
use crate::services::Services;
use crate::store::hooks::{self as store, BindingRow, By, HookRow, TraceRow};

/// At most this many bindings in a flow (as Auth0 allows per trigger).
pub const MAX_BINDINGS: usize = 20;
/// Traces kept per tenant.
pub const TRACES_KEPT: i64 = 1000;

/// One binding of the flow, as given and shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Hook id or name.
    pub hook: String,
    /// A pinned version; absent means the hook's deployed version.
    #[serde(default)]
    pub version: Option<i64>,
    /// `fail_closed` (default) or `fail_open`.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
}

/// The post-login flow.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Bindings, run in order (at most 20).
    pub bindings: Vec<Binding>,
}

fn policy_text(p: FailurePolicy) -> &'static str {
    match p {
        FailurePolicy::FailClosed => "fail_closed",
        FailurePolicy::FailOpen => "fail_open",
    }
}

/// The stored policy; anything but `fail_open` fails closed.
fn policy_of(text: &str) -> FailurePolicy {
    if text == "fail_open" {
        FailurePolicy::FailOpen
    } else {
        FailurePolicy::FailClosed
    }
}

/// The tenant's flow.
pub async fn flow(svc: &Services, ctx: &TenantCtx) -> Result<Flow> {
    let rows = store::bindings(svc.store.pool(), &ctx.tenant_id).await?;
    let mut bindings = Vec::new();
    for b in rows {
        bindings.push(Binding {
            hook: b.hook_id,
            version: b.version,
            failure_policy: policy_of(&b.policy),
        });
    }
    Ok(Flow { bindings })
}

/// Replaces the flow atomically.
pub async fn set_flow(svc: &Services, ctx: &TenantCtx, input: Flow) -> Result<Flow> {
    if input.bindings.len() > MAX_BINDINGS {
        return Err(invalid(
            "bindings",
            format!("at most {MAX_BINDINGS} bindings"),
        ));
    }
    let mut rows = Vec::new();
    let mut tx = svc.store.begin_write().await?;
    for (i, b) in input.bindings.iter().enumerate() {
        let by = if b.hook.starts_with("hook_") {
            By::Id(&b.hook)
        } else {
            By::Name(&b.hook)
        };
        let h = store::get_hook(&mut **tx, &ctx.tenant_id, by, "")
            .await?
            .ok_or_else(|| invalid(format!("bindings[{i}].hook"), "no such hook"))?;
        let versions = store::versions(&mut **tx, &h.id).await?;
        match b.version {
            Some(v) if !versions.iter().any(|x| x.version == v) => {
                return Err(invalid(
                    format!("bindings[{i}].version"),
                    format!("no version {v}"),
                ));
            }
            None if h.deployed_version.is_none() => {
                return Err(invalid(
                    format!("bindings[{i}].version"),
                    "the hook has no deployed version; deploy one or pin a version",
                ));
            }
            _ => {}
        }
        rows.push(BindingRow {
            position: i as i64,
            hook_id: h.id,
            version: b.version,
            policy: policy_text(b.failure_policy).into(),
        });
    }
    store::replace_bindings(&mut tx, &ctx.tenant_id, &rows).await?;
    record(
        &mut tx,
        svc,
        ctx,
        "set_flow",
        "flow",
        &ctx.tenant_id,
        json!({"bindings": input.bindings}),
    )
    .await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    flow(svc, ctx).await
}

async fn limits_for(svc: &Services, tenant_id: &str, hook: &HookRow) -> Result<Limits> {
    let tenant: LimitOverrides =
        serde_json::from_str(&store::tenant_limits(&svc.store, tenant_id).await?)
            .unwrap_or_default();
    let own: LimitOverrides = serde_json::from_str(&hook.limits).unwrap_or_default();
    Ok(svc.hooks.ceilings.lowered(&tenant).lowered(&own))
}

async fn step(
    svc: &Services,
    tenant_id: &str,
    hook: &HookRow,
    version: i64,
    policy: FailurePolicy,
) -> Result<FlowStep> {
    let (v, bytes) = store::component(svc.store.pool(), &hook.id, version)
        .await?
        .ok_or(ManageError::NotFound("hook version"))?;
    let prepared = match svc.hooks.runtime.cached(&v.hash) {
        Some(p) => p,
        None => prepare(svc, &v.hash, bytes).await?,
    };
    Ok(FlowStep {
        hook_id: hook.id.clone(),
        hook_name: hook.name.clone(),
        version,
        hook: prepared,
        policy,
        secrets: open_secrets(svc, &hook.id).await?,
        limits: limits_for(svc, tenant_id, hook).await?,
    })
}

/// The tenant's flow, ready to run (from the cache when fresh).
pub async fn load_flow(svc: &Services, tenant_id: &str) -> Result<Vec<FlowStep>> {
    if let Some(steps) = svc.hooks.flows.get(tenant_id) {
        return Ok(steps);
    }
    let mut steps = Vec::new();
    for b in store::bindings(svc.store.pool(), tenant_id).await? {
        let hook = store::get_hook(svc.store.pool(), tenant_id, By::Id(&b.hook_id), "")
            .await?
            .ok_or(ManageError::NotFound("hook"))?;
        let Some(version) = b.version.or(hook.deployed_version) else {
            continue;
        };
        steps.push(step(svc, tenant_id, &hook, version, policy_of(&b.policy)).await?);
    }
    svc.hooks.flows.put(tenant_id, &steps);
    Ok(steps)
}

/// Runs the tenant's flow for a login and records the metrics; returns the outcome and its
/// trace, which the caller hands to [`save_trace`] once it knows the login's fate. An empty
/// flow has no trace. `addable` is what the login lets `add-scope` add (decided by the
/// protocol layer). A runtime-level failure (no capacity) becomes a failed flow, so callers
/// handle one shape.
pub async fn run_flow(
    svc: &Services,
    tenant_id: &str,
    steps: Vec<FlowStep>,
    event: &PostLoginEvent,
    addable: AddableScopes,
    context: &str,
) -> Result<(FlowOutcome, Option<TraceRow>)> {
    let ran = !steps.is_empty();
    let out = match svc
        .hooks
        .runtime
        .run_flow(tenant_id, steps, event, addable)
        .await
    {
        Ok(o) => o,
        Err(e) => failed_outcome(e),
    };
    let trace = observe(svc, tenant_id, &out, context);
    Ok((out, ran.then_some(trace)))
}

/// The outcome of a login whose tenant has no hooks bound: counted as a successful flow run,
/// as [`run_flow`] counts an empty flow (which has no trace), without building an event for it.
pub fn nothing_to_run(svc: &Services) -> FlowOutcome {
    svc.hooks.metrics.flow("success");
    super::runtime::HookRuntime::empty_outcome()
}

/// Queues a trace for the trace writer (stored in a batch within milliseconds).
pub async fn save_trace(svc: &Services, trace: TraceRow) {
    svc.hooks.traces.record(trace).await;
}

fn failed_outcome(e: HookError) -> FlowOutcome {
    let mut o = super::runtime::HookRuntime::empty_outcome();
    o.status = FlowStatus::Failed {
        hook: String::new(),
        code: e.code().into(),
        message: e.to_string(),
    };
    o
}

fn observe(svc: &Services, tenant_id: &str, out: &FlowOutcome, context: &str) -> TraceRow {
    for t in &out.trace {
        svc.hooks.metrics.hook(&t.outcome, t.duration_us);
    }
    let status = match &out.status {
        FlowStatus::Success => "success",
        FlowStatus::Denied { .. } => "denied",
        FlowStatus::Failed { .. } => "failed",
    };
    svc.hooks.metrics.flow(status);
    let now = svc.now();
    TraceRow {
        id: new_id(IdKind::Trace, now),
        tenant_id: tenant_id.to_string(),
        at: now,
        context: context.to_string(),
        status: status.into(),
        trace: json!({"status": out.status, "hooks": out.trace}).to_string(),
    }
}

/// Body of the test endpoint: an event (see `docs/sample-event.json`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// The event to run against.
    pub event: PostLoginEvent,
}

/// Runs one version against an event with the production runtime (same limits, same claim
/// rules, the hook's secrets), without logging anyone in. Metadata writes are reported, not
/// applied. `add-scope` may add what a password grant for the event's transaction could: the
/// OIDC scopes but `offline_access`, and the scopes of the event's audience when it names an
/// API of the tenant.
pub async fn test(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    version: i64,
    event: PostLoginEvent,
) -> Result<FlowOutcome> {
    let h = find(svc, ctx, id_or_name).await?;
    let s = step(svc, &ctx.tenant_id, &h, version, FailurePolicy::FailClosed).await?;
    let api_scopes = match event.transaction.audience.as_deref() {
        Some(aud) => crate::store::apis::scope_values(svc.store.pool(), &ctx.tenant_id, aud)
            .await?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let addable = AddableScopes::new(
        crate::oauth::OIDC_SCOPES
            .iter()
            .map(|s| s.to_string())
            .chain(api_scopes),
    );
    let (out, trace) = run_flow(
        svc,
        &ctx.tenant_id,
        vec![s],
        &event,
        addable,
        &format!("test:{}", h.name),
    )
    .await?;
    if let Some(t) = trace {
        save_trace(svc, t).await;
    }
    Ok(out)
}

/// A stored trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    /// `trc_...`
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// What ran: `login:...` or `test:<hook>`.
    pub context: String,
    /// `success`, `denied` or `failed`.
    pub status: String,
    /// Per-hook details.
    pub hooks: Vec<HookTrace>,
}

/// Lists traces, newest first.
pub async fn traces(svc: &Services, ctx: &TenantCtx, page: &PageParams) -> Result<Page<Trace>> {
    svc.hooks.traces.flush().await;
    let rows = store::list_traces(&svc.store, &ctx.tenant_id, page.cursor(), page.limit()?).await?;
    Page::from_store(rows, |r| {
        let v: Value = serde_json::from_str(&r.trace).unwrap_or(Value::Null);
        Ok(Trace {
            hooks: serde_json::from_value(v["hooks"].clone()).unwrap_or_default(),
            id: r.id,
            at: rfc3339(r.at),
            context: r.context,
            status: r.status,
        })
    })
}
