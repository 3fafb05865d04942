//! Hook secrets: write-only values, sealed at rest with the hook and name as associated data.

use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::find;
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::secret_aad;
use crate::manage::{ManageError, Result, TenantCtx, invalid, record, validate};
use crate::store::changes::{self, Cached};
use crate::store::hooks as store;

/// Body of `PUT /hooks/{id}/secrets/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// The value (write-only: it is never returned).
    pub value: String,
}

/// Sets a secret (encrypted at rest).
pub async fn set_secret(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    validate::token("name", name, 100)?;
    if value.len() > 4096 {
        return Err(invalid("value", "at most 4096 bytes"));
    }
    let h = find(db, ctx, id_or_name).await?;
    let sealed = hooks
        .secrets
        .seal(value.as_bytes(), &secret_aad(&h.id, name));
    let mut tx = db.store.begin_write().await?;
    store::put_secret(&mut tx, &h.id, name, &sealed, db.now()).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "set_secret",
        "hook",
        &h.id,
        json!({"secret": name}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}

/// Deletes a secret.
pub async fn delete_secret(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    name: &str,
) -> Result<()> {
    let h = find(db, ctx, id_or_name).await?;
    let mut tx = db.store.begin_write().await?;
    if !store::delete_secret(&mut tx, &h.id, name).await? {
        return Err(ManageError::NotFound("secret"));
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete_secret",
        "hook",
        &h.id,
        json!({"secret": name}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}
