//! The client-credentials grant (RFC 6749 4.4): a machine-to-machine access token for one API.
//! No user, so no post-login hooks, no ID token and no refresh token.

use std::collections::HashMap;

use serde_json::json;

use super::OAuthError;
use super::login::TokenResponse;
use super::password::{ClientCredentials, client_for_grant, scope_list};
use crate::ids::{IdKind, new_id};
use crate::services::Services;
use crate::store::apis as api_store;

/// Runs the grant.
pub async fn grant(
    svc: &Services,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let (tenant_id, tenant_name) = tenant;
    let app = client_for_grant(svc, tenant_id, &creds, "client_credentials").await?;
    let audience = form
        .get("audience")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            OAuthError::InvalidRequest("audience is required: the identifier of an API".into())
        })?;
    let defined = api_store::scope_values(svc.store.pool(), tenant_id, audience)
        .await?
        .ok_or_else(|| OAuthError::InvalidTarget(format!("unknown audience `{audience}`")))?;
    let scopes = match scope_list(form) {
        None => defined.clone(),
        Some(asked) => {
            if let Some(x) = asked.iter().find(|x| !defined.contains(x)) {
                return Err(OAuthError::InvalidScope(format!(
                    "scope `{x}` is not defined by the API"
                )));
            }
            asked
        }
    };
    let now_ms = svc.now();
    let now = now_ms / 1000;
    let key = svc
        .keys
        .signing_key(&svc.store, tenant_id, &app.signing_alg, now_ms)
        .await?;
    let claims = json!({
        "iss": svc.issuer(tenant_name),
        "sub": app.client_id,
        "aud": audience,
        "exp": now + app.access_token_lifetime,
        "iat": now,
        "jti": new_id(IdKind::AccessToken, now_ms),
        "client_id": app.client_id,
        "scope": scopes.join(" "),
    });
    Ok(TokenResponse {
        access_token: key.sign("at+jwt", &claims)?,
        token_type: "Bearer",
        expires_in: app.access_token_lifetime,
        id_token: None,
        refresh_token: None,
        scope: scopes.join(" "),
    })
}
