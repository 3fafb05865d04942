//! The tenant's post-login flow: its ordered bindings, each with a failure policy, replaced
//! atomically.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sigil_hooks::outcome::FailurePolicy;
use sigil_hooks::prepare::World;
use utoipa::ToSchema;

use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::load::{policy_of, policy_text};
use crate::manage::{Result, TenantCtx, invalid, record};
use crate::store::changes::{self, Cached};
use crate::store::flows::{self, BindingRow};
use crate::store::hooks::{self as store, By};

/// At most this many bindings in a flow (as Auth0 allows per trigger).
pub const MAX_BINDINGS: usize = 20;

/// One binding of the flow, as given and shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Hook id or name (shown as the id).
    pub hook: String,
    /// The hook's name, shown beside its id; ignored when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_name: Option<String>,
    /// A pinned version; absent means the hook's deployed version.
    #[serde(default)]
    pub version: Option<i64>,
    /// `fail_closed` (default) or `fail_open`.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// This binding's deadline, ms, in place of the limits' (a hook that calls an API needs
    /// more than a pure hook's 50 ms); at most the operator's `--hook-fetch-deadline-ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// The post-login flow.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Bindings, run in order (at most 20).
    pub bindings: Vec<Binding>,
    /// The flow's one wall-clock budget, ms, in place of the limits' `flow_deadline_ms`; at
    /// most the operator's `--hook-fetch-flow-deadline-ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_ms: Option<u64>,
}

/// The tenant's flow.
pub async fn flow(db: &Db, ctx: &TenantCtx) -> Result<Flow> {
    let rows = flows::bindings(db.store.read().await?.conn(), &ctx.tenant_id).await?;
    let budget = flows::flow_budget(db.store.read().await?.conn(), &ctx.tenant_id).await?;
    let names = flows::bound_hook_names(db.store.read().await?.conn(), &ctx.tenant_id).await?;
    let mut bindings = Vec::new();
    for b in rows {
        let hook_name = names
            .iter()
            .find(|(id, _)| *id == b.hook_id)
            .map(|(_, name)| name.clone());
        bindings.push(Binding {
            hook_name,
            hook: b.hook_id,
            version: b.version,
            failure_policy: policy_of(&b.policy),
            deadline_ms: b.deadline_ms.map(|d| d as u64),
        });
    }
    Ok(Flow {
        bindings,
        budget_ms: budget.map(|b| b as u64),
    })
}

/// Replaces the flow atomically.
pub async fn set_flow(db: &Db, hooks: &Hooks, ctx: &TenantCtx, mut input: Flow) -> Result<Flow> {
    // A name given back from a read is the server's to fill, not part of the change.
    for b in &mut input.bindings {
        b.hook_name = None;
    }
    if input.bindings.len() > MAX_BINDINGS {
        return Err(invalid(
            "bindings",
            format!("at most {MAX_BINDINGS} bindings"),
        ));
    }
    let ceilings = hooks.fetch_ceilings;
    let within = |field: String, v: Option<u64>, most: u64, flag: &str| match v {
        Some(v) if v == 0 || v > most => Err(invalid(
            field,
            format!("must be from 1 to {most} (the operator's {flag})"),
        )),
        _ => Ok(()),
    };
    within(
        "budget_ms".into(),
        input.budget_ms,
        ceilings.flow_deadline_ms,
        "--hook-fetch-flow-deadline-ms",
    )?;
    for (i, b) in input.bindings.iter().enumerate() {
        within(
            format!("bindings[{i}].deadline_ms"),
            b.deadline_ms,
            ceilings.deadline_ms,
            "--hook-fetch-deadline-ms",
        )?;
    }
    let mut rows = Vec::new();
    let mut tx = db.store.begin_write().await?;
    for (i, b) in input.bindings.iter().enumerate() {
        let by = By::id_or_name(&b.hook);
        let h = store::get_hook(tx.conn(), &ctx.tenant_id, by)
            .await?
            .ok_or_else(|| invalid(format!("bindings[{i}].hook"), "no such hook"))?;
        let versions = store::versions(tx.conn(), &h.id).await?;
        let Some(bound) = b.version.or(h.deployed_version) else {
            return Err(invalid(
                format!("bindings[{i}].version"),
                "the hook has no deployed version; deploy one or pin a version",
            ));
        };
        let Some(v) = versions.iter().find(|x| x.version == bound) else {
            return Err(invalid(
                format!("bindings[{i}].version"),
                format!("no version {bound}"),
            ));
        };
        if v.world != World::PostLogin.name() {
            return Err(invalid(
                format!("bindings[{i}].hook"),
                format!(
                    "version {bound} of {} is a {} hook; the flow runs post-login hooks",
                    h.name, v.world
                ),
            ));
        }
        rows.push(BindingRow {
            position: i as i64,
            hook_id: h.id,
            version: b.version,
            policy: policy_text(b.failure_policy).into(),
            deadline_ms: b.deadline_ms.map(|d| d as i64),
        });
    }
    flows::replace_bindings(&mut tx, &ctx.tenant_id, &rows).await?;
    flows::set_flow_budget(&mut tx, &ctx.tenant_id, input.budget_ms.map(|b| b as i64)).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "set_flow",
        "flow",
        &ctx.tenant_id,
        json!({"bindings": input.bindings, "budget_ms": input.budget_ms}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    flow(db, ctx).await
}
