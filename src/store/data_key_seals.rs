//! The data key's sealed copies, one per master key that may open it (see `root_key`).

use sqlx::FromRow;

use super::{Store, StoreError, WriteTx};

/// One sealed copy.
#[derive(Debug, Clone, FromRow)]
pub struct SealRow {
    /// The fingerprint of the master key that seals this copy.
    pub master_id: String,
    /// The data key, sealed.
    pub sealed: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// Every copy, oldest first.
pub async fn list(store: &Store) -> Result<Vec<SealRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT master_id, sealed, created_at FROM data_key_seals ORDER BY created_at, master_id",
    )
    .fetch_all(store.read().await?.conn())
    .await?)
}

/// Adds a copy; `false` when one for that master key exists already (left as it is).
pub async fn insert(tx: &mut WriteTx, row: &SealRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO data_key_seals (master_id, sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (master_id) DO NOTHING",
    )
    .bind(&row.master_id)
    .bind(&row.sealed)
    .bind(row.created_at)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every copy but the one of `keep`; returns how many went.
pub async fn delete_others(tx: &mut WriteTx, keep: &str) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM data_key_seals WHERE master_id <> $1")
            .bind(keep)
            .execute(tx.conn())
            .await?
            .rows_affected(),
    )
}
