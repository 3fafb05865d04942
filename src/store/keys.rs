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
    /// The refresh-token family issued with this access token, if any: revoking the family
    /// revokes the grant too (RFC 7009 2.1).
    pub family_id: Option<String>,
}

/// Records a grant.
pub async fn insert_grant(conn: &mut AnyConnection, g: &GrantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO access_grants (jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at, family_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&g.jti)
    .bind(&g.tenant_id)
    .bind(&g.user_id)
    .bind(&g.client_id)
    .bind(&g.scope)
    .bind(&g.id_claims)
    .bind(g.expires_at)
    .bind(g.revoked_at)
    .bind(&g.family_id)
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
        "SELECT jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at, family_id \
         FROM access_grants WHERE tenant_id = $1 AND jti = $2",
    )
    .bind(tenant_id)
    .bind(jti)
    .fetch_optional(store.pool())
    .await?)
}

/// A refresh token (by its keyed hash).
#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    /// HMAC of the token.
    pub token_hash: String,
    /// All rotations of one login share a family.
    pub family_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// User.
    pub user_id: String,
    /// Client.
    pub client_id: String,
    /// Organization of the login.
    pub org_id: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Audience.
    pub audience: Option<String>,
    /// Epoch seconds of the original authentication.
    pub auth_time: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub expires_at: i64,
    /// Epoch ms; set when rotated.
    pub used_at: Option<i64>,
    /// Epoch ms.
    pub revoked_at: Option<i64>,
    /// The login session the family came from (`sid` of refreshed ID tokens).
    pub sid: Option<String>,
}

const REFRESH_COLS: &str = "token_hash, family_id, tenant_id, user_id, client_id, org_id, scope, \
    audience, auth_time, created_at, expires_at, used_at, revoked_at, sid";

/// Stores a refresh token.
pub async fn insert_refresh(conn: &mut AnyConnection, r: &RefreshRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&r.token_hash)
    .bind(&r.family_id)
    .bind(&r.tenant_id)
    .bind(&r.user_id)
    .bind(&r.client_id)
    .bind(&r.org_id)
    .bind(&r.scope)
    .bind(&r.audience)
    .bind(r.auth_time)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(r.used_at)
    .bind(r.revoked_at)
    .bind(&r.sid)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a token used (rotated) if it still is live: false when a concurrent use already
/// rotated it or it was revoked meanwhile. Run in the transaction that stores its successor,
/// so a rotation and the issuance it pays for commit together or not at all. On PostgreSQL a
/// concurrent updater waits for the row lock and then re-checks the `WHERE` (READ COMMITTED),
/// so exactly one of two racing uses gets `true`.
pub async fn rotate(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every refresh token of a family and every access token issued with it (RFC 7009
/// 2.1, RFC 9700 4.14.2), inside `conn`'s transaction.
async fn revoke_family_in(
    conn: &mut AnyConnection,
    family_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE access_grants SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`revoke_family_in`] in a transaction of its own.
pub async fn revoke_family(store: &Store, family_id: &str, now: i64) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    revoke_family_in(&mut tx, family_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Counts one password attempt for (user, IP) and returns the attempts in the current window,
/// this one included. One atomic statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`)
/// so parallel guesses each see a distinct count and cannot all pass the lock's check; a window
/// older than `window_ms` starts over at 1.
pub async fn count_attempt(
    store: &Store,
    tenant_id: &str,
    user_id: &str,
    ip: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "INSERT INTO login_attempts (user_id, ip, tenant_id, window_start, attempts) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (user_id, ip) DO UPDATE SET \
           attempts = CASE WHEN login_attempts.window_start <= $5 THEN 1 \
                      ELSE login_attempts.attempts + 1 END, \
           window_start = CASE WHEN login_attempts.window_start <= $5 THEN $4 \
                          ELSE login_attempts.window_start END \
         RETURNING attempts",
    )
    .bind(user_id)
    .bind(ip)
    .bind(tenant_id)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// Forgets the attempts of (user, ip) after a successful login.
pub async fn clear_attempts(store: &Store, user_id: &str, ip: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_attempts WHERE user_id = $1 AND ip = $2")
        .bind(user_id)
        .bind(ip)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Revokes a grant (access token) of a client.
pub async fn revoke_grant(
    store: &Store,
    tenant_id: &str,
    jti: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE access_grants SET revoked_at = $1 WHERE tenant_id = $2 AND jti = $3 AND client_id = $4 AND revoked_at IS NULL")
        .bind(now)
        .bind(tenant_id)
        .bind(jti)
        .bind(client_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// A refresh token by hash. No lock: the refresh grant rotates with [`rotate`] in the
/// transaction that issues, so reading it is all the grant needs up front.
pub async fn refresh_by_hash(
    store: &Store,
    tenant_id: &str,
    hash: &str,
) -> Result<Option<RefreshRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2"
    ))
    .bind(tenant_id)
    .bind(hash)
    .fetch_optional(store.pool())
    .await?)
}

/// Revokes every refresh token and access grant of a user (blocking, a password change).
pub async fn revoke_user_tokens(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE access_grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the tenant's `alg` keys one step: retired <- previous <- current <- next.
pub async fn shift_statuses(
    conn: &mut AnyConnection,
    tenant_id: &str,
    alg: &str,
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
        .bind(alg)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts a key inside a transaction.
pub async fn insert_in(conn: &mut AnyConnection, k: &KeyRow) -> Result<(), StoreError> {
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
    .execute(conn)
    .await?;
    Ok(())
}
