//! Token revocation (RFC 7009). The endpoint requires client authentication; a client can only
//! revoke its own tokens, revoking a refresh token revokes its family's access tokens too (RFC
//! 7009 2.1), and an unknown or invalid token is not an error (RFC 7009 2.2). A revoked JWT
//! access token stays valid until it expires for resource servers that do not ask:
//! [`super::introspection`] answers `active: false` for it.

use serde_json::Value;

use super::Checking;
use super::OAuthError;
use super::client_auth::{ClientCredentials, authenticate_client};
use super::jwt_verify::verify_access_token;
use crate::store::grants as grant_store;
use crate::store::refresh_tokens as refresh_store;

/// Revokes a refresh token (its whole family) or an access token of the authenticated client.
pub async fn revoke(
    c: &Checking<'_>,
    tenant: (&str, &str),
    creds: ClientCredentials,
    token: &str,
) -> Result<(), OAuthError> {
    let (tenant_id, tenant_name) = tenant;
    let app = authenticate_client(&c.db.store, c.secrets, tenant_id, &creds, c.db.now()).await?;
    let now = c.db.now();
    if let Some(r) =
        refresh_store::refresh_by_hash(&c.db.store, tenant_id, &c.secrets.hash(token)).await?
    {
        if r.client_id == app.client_id {
            let mut tx = c.db.store.begin_write().await?;
            refresh_store::revoke_family(&mut tx, &r.family_id, now).await?;
            tx.commit().await?;
        }
        return Ok(());
    }
    if let Ok(claims) =
        verify_access_token(c.db, c.keys, tenant_id, &c.issuers.of(tenant_name), token).await
        && let Some(jti) = claims.get("jti").and_then(Value::as_str)
    {
        let mut tx = c.db.store.begin_write().await?;
        grant_store::revoke_grant(&mut tx, tenant_id, jti, &app.client_id, now).await?;
        tx.commit().await?;
    }
    Ok(())
}
