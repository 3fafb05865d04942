//! Signing keys and access-grant records.

use sqlx::{AnyConnection, FromRow};

use super::{Store, StoreError};

/// A stored signing key.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    /// The JWT `kid`.
    pub kid: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// `RS256`, `ES256`, `EdDSA`.
    pub alg: String,
    /// `current` or `retired`.
    pub status: String,
    /// PKCS#8, sealed under the master key.
    pub private_sealed: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// Inserts a key.
pub async fn insert(store: &Store, k: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, tenant_id, alg, status, private_sealed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&k.kid)
    .bind(&k.tenant_id)
    .bind(&k.alg)
    .bind(&k.status)
    .bind(&k.private_sealed)
    .bind(k.created_at)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The tenant's published keys, oldest first.
pub async fn list(store: &Store, tenant_id: &str) -> Result<Vec<KeyRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kid, tenant_id, alg, status, private_sealed, created_at FROM signing_keys \
         WHERE tenant_id = $1 AND status <> 'retired' ORDER BY created_at, kid",
    )
    .bind(tenant_id)
    .fetch_all(store.pool())
    .await?)
}

/// What /userinfo answers for one access token.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    /// The access token's `jti`.
    pub jti: String,
    /// Tenant.
    pub tenant_id: String,
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The ID token's custom claims at issuance (JSON).
    pub id_claims: String,
    /// Epoch ms.
    pub expires_at: i64,
    /// Epoch ms.
    pub revoked_at: Option<i64>,
}

/// Records a grant.
pub async fn insert_grant(conn: &mut AnyConnection, g: &GrantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO access_grants (jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&g.jti)
    .bind(&g.tenant_id)
    .bind(&g.user_id)
    .bind(&g.client_id)
    .bind(&g.scope)
    .bind(&g.id_claims)
    .bind(g.expires_at)
    .bind(g.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A grant by `jti` within the tenant.
pub async fn grant(
    store: &Store,
    tenant_id: &str,
    jti: &str,
) -> Result<Option<GrantRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at \
         FROM access_grants WHERE tenant_id = $1 AND jti = $2",
    )
    .bind(tenant_id)
    .bind(jti)
    .fetch_optional(store.pool())
    .await?)
}
