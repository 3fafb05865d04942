//! Authorization codes and what the login bound to each (RFC 6749 4.1).

use serde_json::{Map, Value};
use sqlx::FromRow;

use super::types::JsonText;
use super::{Store, StoreError, WriteTx, to_json};

/// An authorization code and what the login bound to it.
#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    /// Keyed hash of the code.
    pub code_hash: String,
    /// The tenant the code belongs to (`ten_...`).
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
    /// Custom ID-token claims the flow set.
    #[sqlx(try_from = "JsonText")]
    pub id_claims: Map<String, Value>,
    /// Custom access-token claims the flow set.
    #[sqlx(try_from = "JsonText")]
    pub access_claims: Map<String, Value>,
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
pub async fn insert_code(tx: &mut WriteTx, c: &CodeRow) -> Result<(), StoreError> {
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
    .bind(to_json("id_claims", &c.id_claims)?)
    .bind(to_json("access_claims", &c.access_claims)?)
    .bind(&c.jti)
    .bind(&c.family_id)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.used_at)
    .execute(tx.conn())
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
    .fetch_optional(store.read().await?.conn())
    .await?)
}

/// Marks a code used, recording what it issued; `false` when it was already used (a replay).
/// The conditional update makes the code single-use even across nodes.
pub async fn consume_code(
    tx: &mut WriteTx,
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
    .execute(tx.conn())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets codes that expired before `before` (they can no longer be exchanged or replayed
/// usefully: their tokens have been revoked or have expired too).
pub async fn purge_codes(tx: &mut WriteTx, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM auth_codes WHERE expires_at < $1")
        .bind(before)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}
