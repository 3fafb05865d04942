//! `/userinfo` (OIDC Core 5.3) and access-token verification.
//!
//! An access token is checked fully (RFC 8725): the signature with this tenant's key found by
//! `kid`, the algorithm taken from that key and never from the header (3.1), `typ` `at+jwt`
//! (3.11, RFC 9068 4), `iss` this tenant, not expired, and its grant recorded and not revoked.

use serde_json::{Map, Value};

use super::{OAuthError, userinfo_url};
use crate::services::Services;
use crate::store::keys as key_store;
use crate::store::users as user_store;

/// Verifies an access token of the tenant; returns its claims.
pub async fn verify_access_token(
    svc: &Services,
    tenant_id: &str,
    issuer: &str,
    token: &str,
) -> Result<Map<String, Value>, OAuthError> {
    verify_jwt(svc, tenant_id, issuer, token, "at+jwt", true).await
}

/// Verifies a JWT this tenant signed: `typ` must be `typ` (explicit typing keeps an ID token
/// from passing as an access token and back, RFC 8725 3.11), the key is found by `kid` among
/// the tenant's keys and the algorithm comes from that key (3.1). `check_exp` is off only for
/// an `id_token_hint`, which OIDC RP-Initiated Logout accepts expired.
pub async fn verify_jwt(
    svc: &Services,
    tenant_id: &str,
    issuer: &str,
    token: &str,
    typ: &str,
    check_exp: bool,
) -> Result<Map<String, Value>, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidToken(m.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed token"))?;
    if header
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
        != Some(typ.to_ascii_lowercase().as_str())
    {
        return Err(bad(if typ == "at+jwt" {
            "not an access token"
        } else {
            "not an ID token"
        }));
    }
    let kid = header.kid.ok_or_else(|| bad("the token names no key"))?;
    let keys = svc.keys.keys(&svc.store, tenant_id, svc.now()).await?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| bad("unknown signing key"))?;
    let mut v = jsonwebtoken::Validation::new(key.algorithm);
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.leeway = 0;
    v.validate_exp = check_exp;
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &v)
        .map_err(|e| bad(&format!("invalid token: {e}")))?;
    Ok(data.claims)
}

/// The `/userinfo` response for a bearer token.
pub async fn userinfo(
    svc: &Services,
    tenant_id: &str,
    tenant_name: &str,
    token: &str,
) -> Result<Value, OAuthError> {
    let issuer = svc.issuer(tenant_name);
    let claims = verify_access_token(svc, tenant_id, &issuer, token).await?;
    let bad = |m: &str| OAuthError::InvalidToken(m.to_string());
    let ui = userinfo_url(&issuer);
    let aud_ok = match &claims.get("aud") {
        Some(Value::String(a)) => a == &ui,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(ui.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("the token is not for /userinfo"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no jti"))?;
    let grant = key_store::grant(&svc.store, tenant_id, jti)
        .await?
        .ok_or_else(|| bad("unknown token"))?;
    if grant.revoked_at.is_some() {
        return Err(bad("the token was revoked"));
    }
    let scopes = crate::scopes::parse(&grant.scope);
    if !scopes.iter().any(|s| s == "openid") {
        // RFC 6750 3.1: a valid token without the scope the resource needs.
        return Err(OAuthError::InsufficientScope(
            "the token was not granted openid".into(),
        ));
    }
    let user = user_store::get(
        svc.store.pool(),
        tenant_id,
        user_store::By::Id(&grant.user_id),
        "",
    )
    .await?
    .ok_or_else(|| bad("the user no longer exists"))?;
    if user.blocked != 0 {
        return Err(bad("the user is blocked"));
    }
    // The ID token's custom claims as computed at issuance (stored, so any node answers the
    // same without re-running hooks), then the standard claims and `sub`.
    let stored: Map<String, Value> = serde_json::from_str(&grant.id_claims).unwrap_or_default();
    Ok(Value::Object(super::claims::userinfo(
        stored, &user, &scopes,
    )))
}
