//! Browser login sessions, authorization codes and remembered consents.

use sqlx::{AnyConnection, FromRow};

use super::{Store, StoreError, WriteTx};

/// A login session (the SSO cookie names it by the keyed hash of its secret).
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// Keyed hash of the cookie secret.
    pub token_hash: String,
    /// Public identifier (`sid` claim, OIDC Front-Channel Logout 1.0 section 3).
    pub sid: String,
    /// Tenant.
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
pub async fn insert_session(conn: &mut AnyConnection, s: &SessionRow) -> Result<(), StoreError> {
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
    .execute(conn)
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
    .fetch_optional(store.pool())
    .await?)
}

/// Records a use of the session (sliding idle lifetime).
pub async fn touch_session(store: &Store, token_hash: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE login_sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(store.pool())
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
    store: &Store,
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
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Ends every session of a user (blocking, a password change, a revocation request).
pub async fn end_user_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE login_sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// An authorization code and what the login bound to it.
#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    /// Keyed hash of the code.
    pub code_hash: String,
    /// Tenant.
    pub tenant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The exact `redirect_uri` of the authorization request.
    pub redirect_uri: String,
    /// PKCE S256 challenge (RFC 7636).
    pub code_challenge: Option<String>,
    /// OIDC `nonce`.
    pub nonce: Option<String>,
    /// Granted scopes (after hooks), space-separated.
    pub scope: String,
    /// The API.
    pub audience: Option<String>,
    /// The organization of the login.
    pub org_id: Option<String>,
    /// The login session.
    pub sid: Option<String>,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// Custom ID-token claims the flow set (JSON object).
    pub id_claims: String,
    /// Custom access-token claims the flow set (JSON object).
    pub access_claims: String,
    /// The `jti` the exchange issues (the flow's trace names it).
    pub jti: String,
    /// The refresh-token family the exchange issued.
    pub family_id: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub expires_at: i64,
    /// Epoch ms of the exchange.
    pub used_at: Option<i64>,
}

const CODE_COLS: &str = "code_hash, tenant_id, client_id, user_id, redirect_uri, code_challenge, \
    nonce, scope, audience, org_id, sid, auth_time, id_claims, access_claims, jti, family_id, \
    created_at, expires_at, used_at";

/// Stores a code.
pub async fn insert_code(conn: &mut AnyConnection, c: &CodeRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO auth_codes ({CODE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    ))
    .bind(&c.code_hash)
    .bind(&c.tenant_id)
    .bind(&c.client_id)
    .bind(&c.user_id)
    .bind(&c.redirect_uri)
    .bind(&c.code_challenge)
    .bind(&c.nonce)
    .bind(&c.scope)
    .bind(&c.audience)
    .bind(&c.org_id)
    .bind(&c.sid)
    .bind(c.auth_time)
    .bind(&c.id_claims)
    .bind(&c.access_claims)
    .bind(&c.jti)
    .bind(&c.family_id)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A code by hash within a tenant.
pub async fn code(
    store: &Store,
    tenant_id: &str,
    code_hash: &str,
) -> Result<Option<CodeRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CODE_COLS} FROM auth_codes WHERE tenant_id = $1 AND code_hash = $2"
    ))
    .bind(tenant_id)
    .bind(code_hash)
    .fetch_optional(store.pool())
    .await?)
}

/// Marks a code used, recording what it issued; `false` when it was already used (a replay).
/// The conditional update makes the code single-use even across nodes.
pub async fn consume_code(
    conn: &mut AnyConnection,
    code_hash: &str,
    family_id: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE auth_codes SET used_at = $1, family_id = $2 WHERE code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .bind(code_hash)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets codes that expired before `before` (they can no longer be exchanged or replayed
/// usefully: their tokens have been revoked or have expired too).
pub async fn purge_codes(tx: &mut WriteTx, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM auth_codes WHERE expires_at < $1")
        .bind(before)
        .execute(&mut ***tx)
        .await?;
    Ok(done.rows_affected())
}

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
    .fetch_optional(store.pool())
    .await?
    .map(|r| r.0))
}

/// Records the scopes a user granted a client (replacing the previous set).
pub async fn save_consent(
    store: &Store,
    tenant_id: &str,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(&mut **tx)
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
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
