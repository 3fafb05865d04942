//! Browser login sessions (the SSO cookie names one by the keyed hash of its secret).

use sqlx::FromRow;

use super::{Store, StoreError, WriteTx};

/// A login session (the SSO cookie names it by the keyed hash of its secret).
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// Keyed hash of the cookie secret.
    pub token_hash: String,
    /// Public identifier (`sid` claim, OIDC Front-Channel Logout 1.0 section 3).
    pub sid: String,
    /// The tenant the session belongs to (`ten_...`).
    pub tenant_id: String,
    /// The user.
    pub user_id: String,
    /// When the user entered their password (epoch ms).
    pub auth_time: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Last use (epoch ms); the idle lifetime counts from here.
    pub last_seen_at: i64,
    /// Absolute end (epoch ms).
    pub expires_at: i64,
    /// Set when logged out or revoked.
    pub ended_at: Option<i64>,
}

const SESSION_COLS: &str = "token_hash, sid, tenant_id, user_id, auth_time, created_at, last_seen_at, expires_at, ended_at";

/// Stores a new session.
pub async fn insert_session(tx: &mut WriteTx, s: &SessionRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO login_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&s.token_hash)
    .bind(&s.sid)
    .bind(&s.tenant_id)
    .bind(&s.user_id)
    .bind(s.auth_time)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .bind(s.ended_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A session by cookie hash within a tenant.
pub async fn session(
    store: &Store,
    tenant_id: &str,
    token_hash: &str,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SESSION_COLS} FROM login_sessions WHERE tenant_id = $1 AND token_hash = $2"
    ))
    .bind(tenant_id)
    .bind(token_hash)
    .fetch_optional(store.read().await?.conn())
    .await?)
}

/// Records a use of the session (sliding idle lifetime).
pub async fn touch_session(tx: &mut WriteTx, token_hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE login_sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Which session to end.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// The keyed hash of the browser's cookie.
    TokenHash(&'a str),
    /// The public `sid` (from an `id_token_hint`).
    Sid(&'a str),
}

/// Ends one session.
pub async fn end_session(
    tx: &mut WriteTx,
    tenant_id: &str,
    by: By<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let (col, val) = match by {
        By::TokenHash(v) => ("token_hash", v),
        By::Sid(v) => ("sid", v),
    };
    sqlx::query(&format!(
        "UPDATE login_sessions SET ended_at = $1 WHERE tenant_id = $2 AND {col} = $3 \
         AND ended_at IS NULL"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(val)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Ends every session of a user (blocking, a password change, a revocation request).
pub async fn end_user_sessions(
    tx: &mut WriteTx,
    user_id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE login_sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(tx.conn())
    .await?;
    Ok(r.rows_affected())
}
