//! Access-grant records: what `/userinfo` and introspection answer for one access token.

use serde_json::{Map, Value};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, FromRow};

use super::types::JsonText;
use super::{Store, StoreError, WriteTx, to_json};

/// What /userinfo answers for one access token.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    /// The access token's `jti`.
    pub jti: String,
    /// The tenant the grant belongs to (`ten_...`).
    pub tenant_id: String,
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The ID token's custom claims at issuance.
    #[sqlx(try_from = "JsonText")]
    pub id_claims: Map<String, Value>,
    /// Epoch ms.
    pub expires_at: i64,
    /// Epoch ms.
    pub revoked_at: Option<i64>,
    /// The refresh-token family issued with this access token, if any: revoking the family
    /// revokes the grant too (RFC 7009 2.1).
    pub family_id: Option<String>,
}

/// The columns a grant is stored in, in the order [`bind_grant`] binds them.
pub(super) const GRANT_COLS: &str =
    "jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at, family_id";

/// Binds `g`'s values to `q`'s next parameters, in [`GRANT_COLS`] order.
pub(super) fn bind_grant<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    g: &'q GrantRow,
) -> Result<Query<'q, Any, AnyArguments<'q>>, StoreError> {
    Ok(q.bind(&g.jti)
        .bind(&g.tenant_id)
        .bind(&g.user_id)
        .bind(&g.client_id)
        .bind(&g.scope)
        .bind(to_json("id_claims", &g.id_claims)?)
        .bind(g.expires_at)
        .bind(g.revoked_at)
        .bind(&g.family_id))
}

/// Records a grant.
pub async fn insert_grant(tx: &mut WriteTx, g: &GrantRow) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO access_grants ({GRANT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    bind_grant(sqlx::query(&sql), g)?.execute(tx.conn()).await?;
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
    .fetch_optional(store.read().await?.conn())
    .await?)
}

/// Revokes a grant (access token) of a client.
pub async fn revoke_grant(
    tx: &mut WriteTx,
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
        .execute(tx.conn())
        .await?;
    Ok(())
}
