//! The metadata key paths of a tenant, for the template editor's autocomplete: the paths below
//! `user.user_metadata`, `user.app_metadata`, `organization.metadata` and
//! `client.client_metadata` that the tenant's writes have set (see
//! [`crate::store::metadata_keys`]).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Result, TenantCtx, invalid};
use crate::db::Db;
use crate::store::metadata_keys as store;

/// Query of `GET /t/{tenant}/api/metadata-keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyQuery {
    /// Only paths starting with this (what the editor has typed, e.g. `user.user_m`).
    pub prefix: Option<String>,
    /// At most this many, 1 to 1000 (default 100; a tenant has at most 1000).
    pub limit: Option<i64>,
}

/// Known metadata key paths, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetadataKeys {
    /// Template paths, e.g. `user.user_metadata.department`.
    pub data: Vec<String>,
}

/// The tenant's known metadata key paths matching `query`.
pub async fn list(db: &Db, ctx: &TenantCtx, query: &KeyQuery) -> Result<MetadataKeys> {
    let limit = match query.limit {
        None => 100,
        Some(n) if (1..=store::MAX_PER_TENANT).contains(&n) => n,
        Some(_) => return Err(invalid("limit", "must be 1 to 1000")),
    };
    let prefix = query.prefix.as_deref().unwrap_or("");
    if prefix.len() > 500 {
        return Err(invalid("prefix", "must be at most 500 characters"));
    }
    let data = store::list(db.store.read().await?.conn(), &ctx.tenant_id, prefix, limit).await?;
    Ok(MetadataKeys { data })
}
