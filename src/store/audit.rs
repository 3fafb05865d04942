//! The audit log: one row per change made through the management API.

use serde_json::Value;
use sqlx::FromRow;

use super::types::JsonText;
use super::{Page, Store, StoreError, WriteTx, to_json};

/// An audit entry.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    /// `aud_...` (time-ordered).
    pub id: String,
    /// Tenant the change belongs to.
    pub tenant_id: String,
    /// Who made it: an API key id, or `cli` / `system`.
    pub actor: String,
    /// Epoch ms.
    pub at: i64,
    /// `create`, `update`, `delete`, ...
    pub action: String,
    /// `user`, `organization`, ...
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// Summary of the change (never a secret).
    #[sqlx(try_from = "JsonText")]
    pub summary: Value,
}

/// Appends an entry, inside the caller's transaction so the entry exists exactly when the
/// change does.
pub async fn insert(tx: &mut WriteTx, row: &AuditRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, at, action, resource_type, resource_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.id)
    .bind(&row.tenant_id)
    .bind(&row.actor)
    .bind(row.at)
    .bind(&row.action)
    .bind(&row.resource_type)
    .bind(&row.resource_id)
    .bind(to_json("summary", &row.summary)?)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Which entries a listing returns: each given field matches exactly, `None` matches any.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditListFilter<'a> {
    /// The resource's id.
    pub resource_id: Option<&'a str>,
    /// The kind of resource.
    pub resource_type: Option<&'a str>,
    /// Who acted.
    pub actor: Option<&'a str>,
    /// What they did.
    pub action: Option<&'a str>,
}

/// Lists a tenant's entries, newest first, before `cursor`.
pub async fn list(
    store: &Store,
    tenant_id: &str,
    filter: &AuditListFilter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<AuditRow>, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, tenant_id, actor, at, action, resource_type, resource_id, summary
         FROM audit_log
         WHERE tenant_id = $1 AND ($2 = '' OR resource_id = $2) AND ($3 = '' OR id < $3)
           AND ($5 = '' OR resource_type = $5) AND ($6 = '' OR actor = $6)
           AND ($7 = '' OR action = $7)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(tenant_id)
    .bind(filter.resource_id.unwrap_or(""))
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .bind(filter.resource_type.unwrap_or(""))
    .bind(filter.actor.unwrap_or(""))
    .bind(filter.action.unwrap_or(""))
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}
