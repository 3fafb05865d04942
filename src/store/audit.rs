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

/// Lists a tenant's entries, newest first, before `cursor`.
pub async fn list(
    store: &Store,
    tenant_id: &str,
    resource_id: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<AuditRow>, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, tenant_id, actor, at, action, resource_type, resource_id, summary
         FROM audit_log
         WHERE tenant_id = $1 AND ($2 = '' OR resource_id = $2) AND ($3 = '' OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(tenant_id)
    .bind(resource_id.unwrap_or(""))
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}
