//! Reading the audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Page, PageParams, Result, TenantCtx, filter_text};
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
    /// `user`, `organization` (its members too), `application`, `api`, `role`, `client_grant`,
    /// `hook`, `flow`, `jwt_template`, `signing_key`, `api_key`, `legacy_store`, `tenant`.
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
    /// Only entries about this kind of resource (`role`, `signing_key`, `jwt_template`, ...).
    pub resource_type: Option<String>,
    /// Only entries made by this actor (an API key id, a user id, `cli` or `system`).
    pub actor: Option<String>,
    /// Only entries of this action (`create`, `update`, `rotate`, ...).
    pub action: Option<String>,
}

/// The longest value the filters take: longer than any stored actor, action or resource type.
const FILTER_MAX: usize = 100;

/// Lists entries, newest first.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &AuditFilter,
    page: &PageParams,
) -> Result<Page<AuditEntry>> {
    let which = store::AuditListFilter {
        resource_id: filter.resource_id.as_deref().filter(|v| !v.is_empty()),
        resource_type: filter_text("resource_type", filter.resource_type.as_deref(), FILTER_MAX)?,
        actor: filter_text("actor", filter.actor.as_deref(), FILTER_MAX)?,
        action: filter_text("action", filter.action.as_deref(), FILTER_MAX)?,
    };
    let rows = store::list(
        &db.store,
        &ctx.tenant_id,
        &which,
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
