//! Token introspection (RFC 7662): whether a refresh or access token is active, for a
//! confidential client (a resource server, RFC 7662 2.1). A JWT access token stays valid until
//! it expires unless resource servers ask here, which answers `active: false` for a revoked one.

use serde_json::{Value, json};

use super::Checking;
use super::OAuthError;
use super::client_auth::{ClientCredentials, authenticate_client};
use super::jwt_verify::verify_access_token;
use crate::store::grants as grant_store;
use crate::store::refresh_tokens as refresh_store;

/// Introspects a token for an authenticated client (a resource server).
pub async fn introspect(
    c: &Checking<'_>,
    tenant: (&str, &str),
    creds: ClientCredentials,
    token: &str,
) -> Result<Value, OAuthError> {
    let (tenant_id, tenant_name) = tenant;
    // RFC 7662 2.1: the caller must be authorized. A public client's `client_id` proves
    // nothing (anyone can send it), so only confidential clients may introspect.
    let app = authenticate_client(&c.db.store, c.secrets, tenant_id, &creds, c.db.now()).await?;
    if app.secret_hash.is_none() {
        return Err(OAuthError::InvalidClient);
    }
    let now = c.db.now();
    let inactive = json!({"active": false});
    if let Some(r) =
        refresh_store::refresh_by_hash(&c.db.store, tenant_id, &c.secrets.hash(token)).await?
    {
        let active = r.revoked_at.is_none() && r.used_at.is_none() && r.expires_at > now;
        if !active {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true, "token_type": "refresh_token", "client_id": r.client_id, "sub": r.user_id,
            "scope": r.scope, "exp": r.expires_at / 1000, "iss": c.issuers.of(tenant_name),
        }));
    }
    let Ok(claims) =
        verify_access_token(c.db, c.keys, tenant_id, &c.issuers.of(tenant_name), token).await
    else {
        return Ok(inactive);
    };
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match grant_store::grant(&c.db.store, tenant_id, jti).await? {
        Some(g) if g.revoked_at.is_some() => return Ok(inactive),
        Some(_) => {}
        // Machine-to-machine tokens have no grant record; they are valid until they expire.
        None if claims.get("sub") == claims.get("client_id") => {}
        None => return Ok(inactive),
    }
    let mut out = serde_json::Map::new();
    out.insert("active".into(), json!(true));
    out.insert("token_type".into(), json!("access_token"));
    for k in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "aud",
        "jti",
        "org_id",
    ] {
        if let Some(v) = claims.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Ok(Value::Object(out))
}
