//! The tenant's post-login flow: its ordered bindings, each with a failure policy, replaced
//! atomically.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sigil_hooks::outcome::FailurePolicy;
use utoipa::ToSchema;

use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::load::{policy_of, policy_text};
use crate::manage::{Result, TenantCtx, invalid, record};
use crate::store::changes::{self, Cached};
use crate::store::hooks::{self as store, BindingRow, By};

/// At most this many bindings in a flow (as Auth0 allows per trigger).
pub const MAX_BINDINGS: usize = 20;

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

/// The tenant's flow.
pub async fn flow(db: &Db, ctx: &TenantCtx) -> Result<Flow> {
    let rows = store::bindings(db.store.read().await?.conn(), &ctx.tenant_id).await?;
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
pub async fn set_flow(db: &Db, hooks: &Hooks, ctx: &TenantCtx, input: Flow) -> Result<Flow> {
    if input.bindings.len() > MAX_BINDINGS {
        return Err(invalid(
            "bindings",
            format!("at most {MAX_BINDINGS} bindings"),
        ));
    }
    let mut rows = Vec::new();
    let mut tx = db.store.begin_write().await?;
    for (i, b) in input.bindings.iter().enumerate() {
        let by = if b.hook.starts_with("hook_") {
            By::Id(&b.hook)
        } else {
            By::Name(&b.hook)
        };
        let h = store::get_hook(tx.conn(), &ctx.tenant_id, by)
            .await?
            .ok_or_else(|| invalid(format!("bindings[{i}].hook"), "no such hook"))?;
        let versions = store::versions(tx.conn(), &h.id).await?;
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
        db.now(),
        ctx,
        "set_flow",
        "flow",
        &ctx.tenant_id,
        json!({"bindings": input.bindings}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    flow(db, ctx).await
}
