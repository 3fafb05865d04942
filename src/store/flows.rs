//! The tenant's post-login flow: its ordered bindings (each a hook, an optional pinned
//! version, a failure policy and an optional deadline of its own) and its budget.

use sqlx::{Any, Executor, FromRow};

use super::{Exec, Store, StoreError, WriteTx};

/// One binding of the flow.
#[derive(Debug, Clone, FromRow)]
pub struct BindingRow {
    /// 0-based.
    pub position: i64,
    /// The hook this binding runs (`hook_...`).
    pub hook_id: String,
    /// Pinned version, or none for "latest deployed".
    pub version: Option<i64>,
    /// `fail_closed` / `fail_open`.
    pub policy: String,
    /// This binding's deadline, ms (none: the limits').
    pub deadline_ms: Option<i64>,
}

/// The tenant's flow, in order.
pub async fn bindings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> Result<Vec<BindingRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT position, hook_id, version, policy, deadline_ms FROM flow_bindings \
         WHERE tenant_id = $1 ORDER BY position",
    )
    .bind(tenant_id)
    .fetch_all(ex)
    .await?)
}

/// The name of each hook the tenant's flow binds, by hook id.
pub async fn bound_hook_names<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name FROM hooks WHERE tenant_id = $1 AND id IN \
         (SELECT hook_id FROM flow_bindings WHERE tenant_id = $1)",
    )
    .bind(tenant_id)
    .fetch_all(ex)
    .await?)
}

/// The tenants whose post-login flow binds at least one hook: the flows a starting node
/// prepares before it calls itself ready.
pub async fn tenants_with_bindings(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT tenant_id FROM flow_bindings ORDER BY tenant_id")
            .fetch_all(store.read().await?.conn())
            .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

/// Replaces the tenant's flow.
pub async fn replace_bindings(
    tx: &mut WriteTx,
    tenant_id: &str,
    rows: &[BindingRow],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_bindings WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(tx.conn())
        .await?;
    for b in rows {
        sqlx::query(
            "INSERT INTO flow_bindings (tenant_id, position, hook_id, version, policy, deadline_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(b.position)
        .bind(&b.hook_id)
        .bind(b.version)
        .bind(&b.policy)
        .bind(b.deadline_ms)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The tenant's flow budget, ms (none: its limits').
pub async fn flow_budget(conn: Exec<'_>, tenant_id: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT flow_budget_ms FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|(b,)| b))
}

/// Sets the tenant's flow budget.
pub async fn set_flow_budget(
    tx: &mut WriteTx,
    tenant_id: &str,
    budget_ms: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenants SET flow_budget_ms = $1 WHERE id = $2")
        .bind(budget_ms)
        .bind(tenant_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether a hook is bound in its tenant's flow.
pub async fn is_bound(conn: Exec<'_>, hook_id: &str) -> Result<bool, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM flow_bindings WHERE hook_id = $1")
        .bind(hook_id)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}
