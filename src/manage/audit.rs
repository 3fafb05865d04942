//! Reading the audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Page, PageParams, Result, TenantCtx};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::store::audit as store;

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// `aud_...`
    pub id: String,
    /// The API key id that made the change, or `cli` / `system`.
    pub actor: String,
    /// RFC 3339.
    pub at: String,
    /// `create`, `update`, `delete`, `revoke`, `rotate_secret`, ...
    pub action: String,
    /// `user`, `organization`, `membership`, `role`, `application`, `api`, `api_key`, `tenant`.
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// What changed (field names and non-secret values).
    pub summary: Value,
}

/// Filters for the audit listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only entries about this resource id.
    pub resource_id: Option<String>,
}

/// Lists entries, newest first.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &AuditFilter,
    page: &PageParams,
) -> Result<Page<AuditEntry>> {
    let rows = store::list(
        &db.store,
        &ctx.tenant_id,
        filter.resource_id.as_deref(),
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, |r| {
        Ok(AuditEntry {
            id: r.id,
            actor: r.actor,
            at: rfc3339(r.at),
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            summary: r.summary,
        })
    })
}
