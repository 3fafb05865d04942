//! Hook limits: a tenant's and a hook's overrides, which only ever lower the operator's
//! ceilings.

use serde::Serialize;
use serde_json::{Map, Value, json};
use sigil_hooks::{LimitOverrides, Limits};
use utoipa::ToSchema;

use super::{Hook, lock, save};
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::load::overrides;
use crate::manage::{ManageError, Result, TenantCtx, invalid, record};
use crate::store::StoreError;
use crate::store::changes::{self, Cached};
use crate::store::hooks as store;

/// Overrides as the object the store keeps.
fn overrides_object(o: &LimitOverrides) -> Result<Map<String, Value>> {
    match serde_json::to_value(o) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ManageError::Internal(
            "limit overrides are not an object".into(),
        )),
        Err(e) => Err(StoreError::BadJson("limits", e).into()),
    }
}

fn check_overrides(o: &LimitOverrides) -> Result<()> {
    let fields = [
        ("deadline_ms", o.deadline_ms),
        ("flow_deadline_ms", o.flow_deadline_ms),
        ("fuel", o.fuel),
        ("memory_bytes", o.memory_bytes.map(|v| v as u64)),
        ("event_bytes", o.event_bytes.map(|v| v as u64)),
        ("claim_bytes", o.claim_bytes.map(|v| v as u64)),
        ("log_bytes", o.log_bytes.map(|v| v as u64)),
    ];
    for (f, v) in fields {
        if v == Some(0) {
            return Err(invalid(format!("limits.{f}"), "must be positive"));
        }
    }
    Ok(())
}

/// Sets a hook's limit overrides (they only ever lower the tenant's limits).
pub async fn set_hook_limits(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    o: LimitOverrides,
) -> Result<Hook> {
    check_overrides(&o)?;
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(db, &mut tx, ctx, id_or_name).await?;
    row.limits = overrides_object(&o)?;
    save(db, hooks, ctx, tx, row, "set_limits", json!({"limits": o})).await
}

/// The tenant's effective limits and its overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantLimits {
    /// What the tenant asked for.
    pub overrides: LimitOverrides,
    /// The operator's ceilings.
    pub ceilings: Limits,
    /// What hooks of this tenant run with (before per-hook overrides).
    pub effective: Limits,
}

/// The tenant's limits.
pub async fn tenant_limits(db: &Db, hooks: &Hooks, ctx: &TenantCtx) -> Result<TenantLimits> {
    let o = overrides(
        "tenants.hook_limits",
        &store::tenant_limits(&db.store, &ctx.tenant_id).await?,
    )?;
    Ok(TenantLimits {
        overrides: o,
        ceilings: hooks.ceilings,
        effective: hooks.ceilings.lowered(&o),
    })
}

/// Sets the tenant's overrides.
pub async fn set_tenant_limits(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    o: LimitOverrides,
) -> Result<TenantLimits> {
    check_overrides(&o)?;
    let mut tx = db.store.begin_write().await?;
    store::set_tenant_limits(&mut tx, &ctx.tenant_id, &overrides_object(&o)?).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "set_hook_limits",
        "tenant",
        &ctx.tenant_id,
        json!({"limits": o}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    tenant_limits(db, hooks, ctx).await
}
