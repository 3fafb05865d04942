//! The client-credentials grant (RFC 6749 4.4): a machine-to-machine access token for one API.
//! No user, so no post-login hooks, no ID token and no refresh token.

use std::collections::HashMap;

use super::Issuing;
use super::OAuthError;
use super::client_auth::{ClientCredentials, client_for_grant};
use super::pipeline::TokenResponse;
use super::token_form::scope_list;
use crate::ids::{IdKind, new_id};
use crate::store::apis as api_store;

/// Runs the grant.
pub async fn grant(
    deps: &Issuing<'_>,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let (tenant_id, tenant_name) = tenant;
    let app = client_for_grant(
        &deps.db.store,
        deps.secrets,
        tenant_id,
        &creds,
        "client_credentials",
    )
    .await?;
    let audience = form
        .get("audience")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            OAuthError::InvalidRequest("audience is required: the identifier of an API".into())
        })?;
    let defined = api_store::scope_values(deps.db.store.pool(), tenant_id, audience)
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
    let now_ms = deps.db.now();
    let key = deps
        .keys
        .signing_key(&deps.db.store, tenant_id, app.signing_alg.as_str(), now_ms)
        .await?;
    let claims = super::claims::machine_access_token(
        &deps.issuers.of(tenant_name),
        &app,
        audience,
        &scopes,
        &new_id(IdKind::AccessToken, now_ms),
        now_ms / 1000,
    );
    Ok(TokenResponse {
        access_token: key.sign("at+jwt", &serde_json::Value::Object(claims))?,
        token_type: "Bearer",
        expires_in: app.access_token_lifetime,
        id_token: None,
        refresh_token: None,
        scope: crate::scopes::join(&scopes),
    })
}
