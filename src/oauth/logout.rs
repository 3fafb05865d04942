//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's login
//! session and returns to the application only at a registered `post_logout_redirect_uri`
//! (exact match, as for redirect URIs).

use std::collections::HashMap;

use serde_json::Value;

use super::Checking;
use super::jwt_verify::verify_jwt;
use crate::crypto::constant_time_eq;
use crate::store::apps as app_store;
use crate::store::sessions::SessionRow;

/// A checked logout request.
#[derive(Debug, Default)]
pub struct Checked {
    /// Where to send the browser afterwards (with `state`), if anywhere.
    pub redirect: Option<String>,
    /// The `sid` of the session the `id_token_hint` names.
    pub sid: Option<String>,
    /// The `sub` of the `id_token_hint`.
    pub sub: Option<String>,
}

impl Checked {
    /// Whether the logout may skip the confirmation: only when an `id_token_hint` names the
    /// browser's own live session, by its `sid` (or, for a token without one, its user). Any
    /// other hint proves only that the requester holds some ID token of this tenant, perhaps
    /// its own, which must not let a page on another site log this browser out (CSRF, RFC
    /// 9700 4.7; RP-Initiated Logout 1.0 section 2 leaves asking to the OP).
    pub fn names(&self, session: Option<&SessionRow>) -> bool {
        let Some(s) = session else { return false };
        match (&self.sid, &self.sub) {
            (Some(sid), _) => constant_time_eq(sid.as_bytes(), s.sid.as_bytes()),
            (None, Some(sub)) => sub == &s.user_id,
            (None, None) => false,
        }
    }
}

/// Checks a logout request; the error is shown on the page (never redirected).
pub async fn check(
    c: &Checking<'_>,
    tenant: (&str, &str),
    params: &HashMap<String, String>,
) -> Result<Checked, String> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty());
    let mut out = Checked::default();
    let mut client = get("client_id").cloned();
    if let Some(hint) = get("id_token_hint") {
        let claims = verify_jwt(
            c.db,
            c.keys,
            tenant.0,
            &c.issuers.of(tenant.1),
            hint,
            "JWT",
            false,
        )
        .await
        .map_err(|_| "The id_token_hint is not an ID token issued here.".to_string())?;
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => Some(a.clone()),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let (Some(c), Some(a)) = (&client, &aud)
            && c != a
        {
            return Err("client_id does not match the id_token_hint.".into());
        }
        client = client.or(aud);
        out.sid = claims
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    if let Some(uri) = get("post_logout_redirect_uri") {
        let Some(client_id) = client else {
            return Err(
                "post_logout_redirect_uri needs an id_token_hint or a client_id.".to_string(),
            );
        };
        let app =
            async { app_store::get(c.db.store.read().await?.conn(), tenant.0, &client_id).await }
                .await
                .map_err(|e| {
                    tracing::error!(cause = %e, "logout: loading the client");
                    "The server could not complete the request.".to_string()
                })?
                .ok_or_else(|| "The application is not known to this tenant.".to_string())?;
        if !app.post_logout_redirect_uris.iter().any(|r| r == uri) {
            return Err(
                "The post-logout redirect URI is not registered for this application.".into(),
            );
        }
        let mut url = url::Url::parse(uri)
            .map_err(|_| "The post-logout redirect URI is not a URL.".to_string())?;
        if let Some(state) = get("state") {
            url.query_pairs_mut().append_pair("state", state);
        }
        out.redirect = Some(url.to_string());
    }
    Ok(out)
}
