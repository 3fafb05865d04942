//! Tenants.

use sqlx::FromRow;

use std::sync::Arc;

use super::changes::{self, Cached};
use super::{Page, Store, StoreError, WriteTx, unique};

/// A tenant row.
#[derive(Debug, Clone, FromRow)]
pub struct TenantRow {
    /// `ten_...`
    pub id: String,
    /// The path segment under `/t/`.
    pub name: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// Inserts a tenant; a taken name is a conflict on `name`.
pub async fn insert(tx: &mut WriteTx, row: &TenantRow) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.created_at)
        .execute(tx.conn())
        .await
        .map_err(unique)?;
    Ok(())
}

/// Inserts the tenant unless one with that name exists; true when this call created it.
/// Several nodes starting at once on one database race here, and exactly one wins.
pub async fn insert_if_absent(tx: &mut WriteTx, row: &TenantRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(row.created_at)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Looks a tenant up by name.
pub async fn by_name(store: &Store, name: &str) -> Result<Option<TenantRow>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(store.read().await?.conn())
            .await?,
    )
}

/// Looks a tenant up by name, from this node's copy when it has a fresh one ([`super::hot`]):
/// every request under `/t/{tenant}/` does.
pub async fn by_name_hot(
    store: &Store,
    name: &str,
    now: i64,
) -> Result<Option<Arc<TenantRow>>, StoreError> {
    let generation = match store.hot.tenant(name, now) {
        Ok(row) => return Ok(Some(row)),
        Err(generation) => generation,
    };
    let Some(row) = by_name(store, name).await? else {
        return Ok(None);
    };
    let row = Arc::new(row);
    store.hot.keep_tenant(row.clone(), now, generation);
    Ok(Some(row))
}

/// Lists tenants in id order after `cursor`.
pub async fn list(
    store: &Store,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<TenantRow>, StoreError> {
    let rows: Vec<TenantRow> = sqlx::query_as(
        "SELECT id, name, created_at FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Deletes a tenant and, by cascade, everything it owns.
pub async fn delete(tx: &mut WriteTx, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    changes::announce(tx, Cached::Tenant, id).await?;
    Ok(done.rows_affected() == 1)
}
