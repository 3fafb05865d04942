//! `/userinfo` (OIDC Core 5.3): the bearer token verified ([`super::jwt_verify`]), its grant
//! recorded and not revoked, and the claims [`super::claims::userinfo`] builds.

use serde_json::{Map, Value};

use super::Checking;
use super::jwt_verify::{audience_includes, live_grant, verify_access_token};
use super::{OAuthError, userinfo_url};
use crate::store::users as user_store;

/// The `/userinfo` response for a bearer token.
pub async fn userinfo(
    c: &Checking<'_>,
    tenant_id: &str,
    tenant_name: &str,
    token: &str,
) -> Result<Value, OAuthError> {
    let issuer = c.issuers.of(tenant_name);
    let claims = verify_access_token(c.db, c.keys, tenant_id, &issuer, token).await?;
    let bad = |m: &str| OAuthError::InvalidToken(m.to_string());
    let ui = userinfo_url(&issuer);
    if !audience_includes(&claims, &ui) {
        return Err(bad("the token is not for /userinfo"));
    }
    let grant = live_grant(c.db, tenant_id, &claims).await?;
    let scopes = crate::scopes::parse(&grant.scope);
    if !scopes.iter().any(|s| s == "openid") {
        // RFC 6750 3.1: a valid token without the scope the resource needs.
        return Err(OAuthError::InsufficientScope(
            "the token was not granted openid".into(),
        ));
    }
    let user = user_store::get(
        c.db.store.read().await?.conn(),
        tenant_id,
        user_store::By::Id(&grant.user_id),
    )
    .await?
    .ok_or_else(|| bad("the user no longer exists"))?;
    if user.blocked {
        return Err(bad("the user is blocked"));
    }
    // The ID token's custom claims as computed at issuance (stored, so any node answers the
    // same without re-running hooks), then the standard claims and `sub`.
    let stored: Map<String, Value> = grant.id_claims;
    Ok(Value::Object(super::claims::userinfo(
        stored, &user, &scopes,
    )))
}
