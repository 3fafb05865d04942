//! Management API keys (stored as keyed hashes, never in clear).

use sqlx::FromRow;

use super::types::Flag;
use super::{Page, Store, StoreError, WriteTx, flag, unique};

/// An API key row.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    /// `key_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Label chosen at creation.
    pub name: String,
    /// HMAC of the key.
    pub secret_hash: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    /// Whether the key may also manage tenants.
    #[sqlx(try_from = "Flag")]
    pub is_operator: bool,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms; revoked keys authenticate nothing.
    pub revoked_at: Option<i64>,
}

/// A key found by its hash, with its tenant's name.
#[derive(Debug, Clone, FromRow)]
pub struct KeyWithTenant {
    /// `key_...`
    pub id: String,
    /// Owning tenant id.
    pub tenant_id: String,
    /// Owning tenant name.
    pub tenant_name: String,
    /// The stored hash, compared again in constant time by the caller.
    pub secret_hash: String,
    /// Whether it is an operator key.
    #[sqlx(try_from = "Flag")]
    pub is_operator: bool,
}

const COLS: &str = "id, tenant_id, name, secret_hash, prefix, is_operator, created_at, revoked_at";

/// Inserts a key.
pub async fn insert(tx: &mut WriteTx, row: &ApiKeyRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO api_keys ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&row.id)
    .bind(&row.tenant_id)
    .bind(&row.name)
    .bind(&row.secret_hash)
    .bind(&row.prefix)
    .bind(flag(row.is_operator))
    .bind(row.created_at)
    .bind(row.revoked_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// The live (unrevoked) key with this hash.
pub async fn find_live(store: &Store, hash: &str) -> Result<Option<KeyWithTenant>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT k.id, k.tenant_id, t.name AS tenant_name, k.secret_hash, k.is_operator
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
         WHERE k.secret_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(store.read().await?.conn())
    .await?)
}

/// Lists a tenant's keys.
pub async fn list(
    store: &Store,
    tenant_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<ApiKeyRow>, StoreError> {
    let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Revokes a key of the tenant; false when there is no such live key.
pub async fn revoke(
    tx: &mut WriteTx,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
