//! Verifying the JWTs this server signed (RFC 8725): the signature with this tenant's key found
//! by `kid`, the algorithm taken from that key and never from the header (3.1), explicit typing
//! (`at+jwt` for access tokens, RFC 9068 4 and RFC 8725 3.11), `iss` this tenant, and not
//! expired.

use serde_json::{Map, Value};

use super::OAuthError;
use crate::db::Db;
use crate::keys::KeyRing;
use crate::store::grants::{self as grant_store, GrantRow};

/// Verifies an access token of the tenant; returns its claims.
pub async fn verify_access_token(
    db: &Db,
    keys: &KeyRing,
    tenant_id: &str,
    issuer: &str,
    token: &str,
) -> Result<Map<String, Value>, OAuthError> {
    verify_jwt(db, keys, tenant_id, issuer, token, "at+jwt", true).await
}

/// Whether verified claims name `audience` in `aud`: one audience is a string, several an
/// array (RFC 7519 4.1.3).
pub fn audience_includes(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(audience)),
        _ => false,
    }
}

/// The user grant a verified access token was issued under (its `jti`), when it is recorded and
/// not revoked: revoking a grant ends its access tokens before they expire (RFC 7009 2.1).
pub async fn live_grant(
    db: &Db,
    tenant_id: &str,
    claims: &Map<String, Value>,
) -> Result<GrantRow, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidToken(m.to_string());
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no jti"))?;
    let grant = grant_store::grant(&db.store, tenant_id, jti)
        .await?
        .ok_or_else(|| bad("unknown token"))?;
    if grant.revoked_at.is_some() {
        return Err(bad("the token was revoked"));
    }
    Ok(grant)
}

/// Verifies a JWT this tenant signed: `typ` must be `typ` (explicit typing keeps an ID token
/// from passing as an access token and back, RFC 8725 3.11), the key is found by `kid` among
/// the tenant's keys and the algorithm comes from that key (3.1). `check_exp` is off only for
/// an `id_token_hint`, which OIDC RP-Initiated Logout accepts expired.
pub async fn verify_jwt(
    db: &Db,
    keys: &KeyRing,
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
    let found = keys.keys(&db.store, tenant_id, db.now()).await?;
    let key = found
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| bad("unknown signing key"))?;
    let mut v = jsonwebtoken::Validation::new(key.algorithm);
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.leeway = 0;
    // Expiry is checked below against the injected clock, the same time that issued the
    // token; the library would read the wall clock.
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &v)
        .map_err(|e| bad(&format!("invalid token: {e}")))?;
    if check_exp {
        // RFC 7519 4.1.4: the current time must be before `exp` (no leeway).
        let exp = data.claims.get("exp").and_then(Value::as_i64);
        if exp.is_none_or(|exp| db.now() / 1000 >= exp) {
            return Err(bad("invalid token: ExpiredSignature"));
        }
    }
    Ok(data.claims)
}
