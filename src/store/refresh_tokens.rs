//! Refresh tokens (by keyed hash), their rotation and the revocation of a family or of a user's
//! tokens (which revokes the access grants issued with them too).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, FromRow};

use super::{Store, StoreError, WriteTx};

/// A refresh token (by its keyed hash).
#[derive(Debug, Clone, Default, FromRow)]
pub struct RefreshRow {
    /// HMAC of the token.
    pub token_hash: String,
    /// All rotations of one login share a family.
    pub family_id: String,
    /// The tenant the token belongs to (`ten_...`).
    pub tenant_id: String,
    /// The user it was issued to (`usr_...`).
    pub user_id: String,
    /// The application it was issued to (its `client_id`).
    pub client_id: String,
    /// Organization of the login.
    pub org_id: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The API the access tokens it buys are for, if one was named.
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

pub(super) const REFRESH_COLS: &str = "token_hash, family_id, tenant_id, user_id, client_id, org_id, scope, \
    audience, auth_time, created_at, expires_at, used_at, revoked_at, sid";

/// Binds `r`'s values to `q`'s next parameters, in `REFRESH_COLS` order.
pub(super) fn bind_refresh<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    r: &'q RefreshRow,
) -> Query<'q, Any, AnyArguments<'q>> {
    q.bind(&r.token_hash)
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
}

/// Stores a refresh token.
pub async fn insert_refresh(tx: &mut WriteTx, r: &RefreshRow) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    bind_refresh(sqlx::query(&sql), r)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Marks a token used (rotated) if it still is live: false when a concurrent use already
/// rotated it or it was revoked meanwhile. Run in the transaction that stores its successor,
/// so a rotation and the issuance it pays for commit together or not at all. On PostgreSQL a
/// concurrent updater waits for the row lock and then re-checks the `WHERE` (READ COMMITTED),
/// so exactly one of two racing uses gets `true`.
pub async fn rotate(tx: &mut WriteTx, hash: &str, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the token is still unused and unrevoked, locking its row until `tx` ends (so a
/// concurrent rotation of it is decided before or after, never during): a refresh retried
/// within the grace window re-issues this token only while it is.
pub async fn still_unused(tx: &mut WriteTx, hash: &str) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT token_hash FROM refresh_tokens \
         WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL{}",
        tx.lock_suffix()
    );
    let row: Option<(String,)> = sqlx::query_as(&sql)
        .bind(hash)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

/// Revokes every refresh token of a family and every access token issued with it (RFC 7009
/// 2.1, RFC 9700 4.14.2), inside `tx`.
pub async fn revoke_family(tx: &mut WriteTx, family_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE access_grants SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(tx.conn())
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
    .fetch_optional(store.read().await?.conn())
    .await?)
}

/// Revokes every refresh token and access grant of a user (blocking, a password change).
pub async fn revoke_user_tokens(
    tx: &mut WriteTx,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE access_grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
