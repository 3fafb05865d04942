//! Signing keys as the management API shows them, and rotation (recorded in the audit log).

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ManageError, Result, TenantCtx, invalid, record};
use crate::keys::SIGNING_ALGS;
use crate::services::Services;

/// A published signing key (never its private part).
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyView {
    /// The `kid`.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `next` (published ahead of use), `current` (signs) or `previous` (still verifies).
    pub status: String,
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
        other => ManageError::Internal(other.to_string()),
    }
}

/// The tenant's published keys.
pub async fn list(svc: &Services, ctx: &TenantCtx) -> Result<Vec<SigningKeyView>> {
    let keys = svc
        .keys
        .reload(&svc.store, &ctx.tenant_id, svc.now())
        .await
        .map_err(keys_error)?;
    Ok(keys
        .iter()
        .map(|k| SigningKeyView {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            status: k.status.clone(),
        })
        .collect())
}

/// Rotates the tenant's keys of one algorithm.
pub async fn rotate(svc: &Services, ctx: &TenantCtx, input: Rotate) -> Result<Vec<SigningKeyView>> {
    let alg = input.alg.unwrap_or_else(|| "RS256".into());
    if !SIGNING_ALGS.contains(&alg.as_str()) {
        return Err(invalid("alg", "must be RS256, ES256 or EdDSA"));
    }
    svc.keys
        .rotate(&svc.store, &ctx.tenant_id, &alg, svc.now())
        .await
        .map_err(keys_error)?;
    let mut tx = svc.store.begin_write().await?;
    record(
        &mut tx,
        svc,
        ctx,
        "rotate",
        "signing_key",
        &ctx.tenant_id,
        json!({"alg": alg}),
    )
    .await?;
    tx.commit().await?;
    list(svc, ctx).await
}
