//! Signing keys: each tenant's keys per algorithm, rotated next -> current -> previous ->
//! retired.

use sqlx::FromRow;

use super::{SigningAlg, Store, StoreError, WriteTx};

/// A stored signing key.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    /// The JWT `kid`.
    pub kid: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The algorithm the key signs with.
    #[sqlx(try_from = "String")]
    pub alg: SigningAlg,
    /// `next`, `current`, `previous` or `retired`.
    pub status: String,
    /// PKCS#8, sealed under the master key.
    pub private_sealed: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// The tenant's published keys, oldest first.
pub async fn list(store: &Store, tenant_id: &str) -> Result<Vec<KeyRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kid, tenant_id, alg, status, private_sealed, created_at FROM signing_keys \
         WHERE tenant_id = $1 AND status <> 'retired' ORDER BY created_at, kid",
    )
    .bind(tenant_id)
    .fetch_all(store.read().await?.conn())
    .await?)
}

/// Moves the tenant's `alg` keys one step: retired <- previous <- current <- next.
pub async fn shift_statuses(
    tx: &mut WriteTx,
    tenant_id: &str,
    alg: SigningAlg,
) -> Result<(), StoreError> {
    for (from, to) in [
        ("previous", "retired"),
        ("current", "previous"),
        ("next", "current"),
    ] {
        sqlx::query(
            "UPDATE signing_keys SET status = $1 WHERE tenant_id = $2 AND alg = $3 AND status = $4",
        )
        .bind(to)
        .bind(tenant_id)
        .bind(alg.as_str())
        .bind(from)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Inserts a key inside a transaction; a second current or next key of one algorithm is
/// [`StoreError::Conflict`] (`alg`).
pub async fn insert_in(tx: &mut WriteTx, k: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, tenant_id, alg, status, private_sealed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&k.kid)
    .bind(&k.tenant_id)
    .bind(k.alg.as_str())
    .bind(&k.status)
    .bind(&k.private_sealed)
    .bind(k.created_at)
    .execute(tx.conn())
    .await
    .map_err(super::unique)?;
    Ok(())
}
