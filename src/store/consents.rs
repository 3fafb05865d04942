//! Remembered consents: the scopes a user granted a client.

use super::{Store, StoreError, WriteTx};

/// The scopes a user already granted a client.
pub async fn consent(
    store: &Store,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_as::<_, (String,)>(
        "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(store.read().await?.conn())
    .await?
    .map(|r| r.0))
}

/// Records the scopes a user granted a client (replacing the previous set).
pub async fn save_consent(
    tx: &mut WriteTx,
    tenant_id: &str,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO consents (tenant_id, user_id, client_id, scope, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(client_id)
    .bind(scope)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}
