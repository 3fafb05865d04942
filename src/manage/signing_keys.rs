//! Signing keys as the management API shows them, and rotation (recorded in the audit log).

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ManageError, Result, TenantCtx, invalid, record};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::keys::KeyRing;
use crate::keys::SIGNING_ALGS;

/// A published signing key (never its private part).
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyView {
    /// The `kid`.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `next` (published ahead of use), `current` (signs) or `previous` (still verifies).
    pub status: String,
    /// When the key was made (RFC 3339).
    pub created_at: String,
}

/// Body of the rotate call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Which algorithm's keys to rotate (default RS256).
    #[serde(default)]
    pub alg: Option<String>,
}

fn keys_error(e: crate::keys::KeyError) -> ManageError {
    match e {
        crate::keys::KeyError::Store(s) => ManageError::from(s),
        other => ManageError::internal(other),
    }
}

/// The tenant's published keys.
pub async fn list(db: &Db, keys: &KeyRing, ctx: &TenantCtx) -> Result<Vec<SigningKeyView>> {
    let keys = keys
        .reload(&db.store, &ctx.tenant_id, db.now())
        .await
        .map_err(keys_error)?;
    Ok(keys
        .iter()
        .map(|k| SigningKeyView {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            status: k.status.clone(),
            created_at: rfc3339(k.created_at),
        })
        .collect())
}

/// Rotates the tenant's keys of one algorithm.
pub async fn rotate(
    db: &Db,
    keys: &KeyRing,
    ctx: &TenantCtx,
    input: Rotate,
) -> Result<Vec<SigningKeyView>> {
    let alg = input.alg.unwrap_or_else(|| "RS256".into());
    if !SIGNING_ALGS.contains(&alg.as_str()) {
        return Err(invalid("alg", "must be RS256, ES256 or EdDSA"));
    }
    keys.rotate(&db.store, &ctx.tenant_id, &alg, db.now())
        .await
        .map_err(keys_error)?;
    let mut tx = db.store.begin_write().await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "rotate",
        "signing_key",
        &ctx.tenant_id,
        json!({"alg": alg}),
    )
    .await?;
    tx.commit().await?;
    list(db, keys, ctx).await
}
