//! The client-credentials grant (RFC 6749 4.4): a machine-to-machine access token for one API
//! (the `audience`, a resource indicator in the sense of RFC 8707), for an API the application
//! holds a client grant for and with scopes from that grant only (least privilege: see
//! `manage::client_grants`). No user, so no post-login hooks, no ID token and no refresh token.

use std::collections::HashMap;

use super::Issuing;
use super::OAuthError;
use super::client_auth::{ClientCredentials, client_for_grant};
use super::pipeline::TokenResponse;
use super::token_form::scope_list;
use crate::ids::{IdKind, new_id};
use crate::store::apis as api_store;
use crate::store::client_grants as grant_store;

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
        deps.db.now(),
    )
    .await?;
    let mut read = deps.db.store.read().await?;
    let audience = form
        .get("audience")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            OAuthError::InvalidRequest("audience is required: the identifier of an API".into())
        })?;
    // RFC 8707 2: a resource the server does not know, or one this client may not access, is
    // `invalid_target`. Access is what the application's client grant for the API says.
    let api = api_store::get(read.conn(), tenant_id, api_store::By::Identifier(audience))
        .await?
        .ok_or_else(|| OAuthError::InvalidTarget(format!("unknown audience `{audience}`")))?;
    let granted = grant_store::granted_scopes(read.conn(), tenant_id, &app.client_id, &api.id)
        .await?
        .ok_or_else(|| {
            OAuthError::InvalidTarget(format!(
                "the application is not granted access to API `{audience}`"
            ))
        })?;
    drop(read);
    // What the API still defines: a scope removed from the API leaves new tokens even while
    // grants still list it.
    let defined = api.scope_values();
    let allowed: Vec<String> = granted
        .into_iter()
        .filter(|s| defined.contains(s))
        .collect();
    let scopes = match scope_list(form) {
        // RFC 6749 3.3: without a `scope`, the server uses its default, here the whole grant.
        None => allowed,
        Some(asked) => {
            if let Some(x) = asked.iter().find(|x| !allowed.contains(x)) {
                return Err(OAuthError::InvalidScope(if defined.contains(x) {
                    format!("scope `{x}` is not granted to the application for API `{audience}`")
                } else {
                    format!("scope `{x}` is not defined by the API")
                }));
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
