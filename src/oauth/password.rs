//! The resource owner password grant (RFC 6749 4.3), for applications with their own login
//! form. Off unless a confidential application enables it (RFC 9700 2.4 discourages it).
//!
//! Unknown users and wrong passwords get byte-identical replies, and both pay one argon2id
//! verification (against a dummy hash for unknown users), so neither the message nor the
//! timing tells whether an account exists.

use std::collections::HashMap;

use serde_json::Value;

use super::event::RequestInfo;
use super::login::{self, Login, TokenResponse};
use super::{OAuthError, OIDC_SCOPES};
use crate::hooks::event::Protocol;
use crate::manage::validate::normalize_email;
use crate::passwords::Verified;
use crate::services::Services;
use crate::store::apis::{self as api_store};
use crate::store::apps::{self as app_store, AppRow};
use crate::store::keys as key_store;
use crate::store::orgs::{self as org_store, OrgRow};
use crate::store::users::{self as user_store};

const WRONG_CREDENTIALS: &str = "Wrong email or password.";

/// Failed attempts from one IP that lock a (user, IP) pair...
const MAX_FAILURES: i64 = 10;
/// ...within this window, for this long (the lock lifts as old failures leave the window).
const LOCK_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Client credentials as presented (Basic header or form fields).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (never logged).
    pub client_secret: Option<String>,
}

/// Authenticates a confidential client (client_secret_basic / client_secret_post).
pub async fn authenticate_client(
    svc: &Services,
    tenant_id: &str,
    creds: &ClientCredentials,
) -> Result<AppRow, OAuthError> {
    let id = creds
        .client_id
        .as_deref()
        .ok_or(OAuthError::InvalidClient)?;
    let app = app_store::get(svc.store.pool(), tenant_id, id, "")
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    match (&app.secret_hash, &creds.client_secret) {
        (Some(hash), Some(secret)) if svc.secrets.verify(secret, hash) => Ok(app),
        _ => Err(OAuthError::InvalidClient),
    }
}

/// Authenticates the client and checks it may use `grant` (`unauthorized_client` otherwise).
pub async fn client_for_grant(
    svc: &Services,
    tenant_id: &str,
    creds: &ClientCredentials,
    grant: &str,
) -> Result<AppRow, OAuthError> {
    let app = authenticate_client(svc, tenant_id, creds).await?;
    let grants: Vec<String> = serde_json::from_str(&app.grant_types).unwrap_or_default();
    if !grants.iter().any(|g| g == grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "the {grant} grant is not enabled for this application"
        )));
    }
    Ok(app)
}

/// Splits a `scope` parameter (RFC 6749 3.3).
pub fn scope_list(form: &HashMap<String, String>) -> Option<Vec<String>> {
    form.get("scope").filter(|s| !s.is_empty()).map(|s| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// Runs the password grant.
pub async fn grant(
    svc: &Services,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
    request: &RequestInfo,
) -> Result<TokenResponse, OAuthError> {
    let tenant_id = tenant.0;
    let app = client_for_grant(svc, tenant_id, &creds, "password").await?;
    let username = form
        .get("username")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("username is required".into()))?;
    let password = form
        .get("password")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("password is required".into()))?;

    let audience = form.get("audience").filter(|s| !s.is_empty()).cloned();
    let api = match &audience {
        Some(a) => Some(
            api_store::get(
                svc.store.pool(),
                tenant_id,
                api_store::By::Identifier(a),
                "",
            )
            .await?
            .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown audience `{a}`")))?,
        ),
        None => None,
    };
    let api_scopes: Vec<String> = api
        .as_ref()
        .map(|a| {
            serde_json::from_str::<Vec<Value>>(&a.scopes)
                .unwrap_or_default()
                .iter()
                .filter_map(|s| s["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let requested = scope_list(form).unwrap_or_default();
    for s in &requested {
        if !OIDC_SCOPES.contains(&s.as_str()) && !api_scopes.contains(s) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{s}` is not defined"
            )));
        }
    }

    // Authenticate the user: one argon2id verification whatever happens, and a locked
    // (user, IP) pair answers exactly like a wrong password.
    let email = normalize_email(username);
    let user = user_store::get(
        svc.store.pool(),
        tenant_id,
        user_store::By::Email(&email),
        "",
    )
    .await?;
    let now = svc.now();
    let locked = match &user {
        Some(u) => {
            key_store::failures_since(&svc.store, &u.id, &request.ip, now - LOCK_WINDOW_MS).await?
                >= MAX_FAILURES
        }
        None => false,
    };
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .filter(|_| !locked)
        .unwrap_or_else(|| svc.dummy_hash.clone());
    let hasher = svc.passwords.clone();
    let pw = password.clone();
    let verified = tokio::task::spawn_blocking(move || hasher.verify(&pw, &stored))
        .await
        .map_err(|e| OAuthError::Server(e.to_string()))?;
    let user = match (user, verified) {
        (Some(u), Verified::Yes | Verified::YesRehash) if u.password_hash.is_some() && !locked => u,
        (Some(u), _) => {
            if !locked {
                key_store::record_failure(
                    &svc.store,
                    tenant_id,
                    &u.id,
                    &request.ip,
                    now,
                    now - LOCK_WINDOW_MS,
                )
                .await?;
            }
            return Err(OAuthError::InvalidGrant(WRONG_CREDENTIALS.into()));
        }
        (None, _) => return Err(OAuthError::InvalidGrant(WRONG_CREDENTIALS.into())),
    };
    key_store::clear_failures(&svc.store, &user.id, &request.ip).await?;
    if user.blocked != 0 {
        return Err(OAuthError::InvalidGrant("the user is blocked".into()));
    }

    let org: Option<OrgRow> = match form.get("organization").filter(|s| !s.is_empty()) {
        None => None,
        Some(o) => {
            let by_id =
                org_store::get(svc.store.pool(), tenant_id, org_store::By::Id(o), "").await?;
            let found = match by_id {
                Some(x) => Some(x),
                None => org_store::list(svc.store.pool(), tenant_id, None, Some(o), None, 1)
                    .await?
                    .items
                    .into_iter()
                    .next(),
            };
            let org = found
                .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown organization `{o}`")))?;
            let mut conn = svc.store.pool().acquire().await?;
            if org_store::member(&mut conn, &org.id, &user.id)
                .await?
                .is_none()
            {
                return Err(OAuthError::InvalidGrant(
                    "the user is not a member of the organization".into(),
                ));
            }
            Some(org)
        }
    };

    let rehash = verified == Verified::YesRehash;
    login::complete(
        svc,
        Login {
            tenant,
            app: &app,
            user,
            org,
            protocol: Protocol::Password,
            scopes: requested,
            audience,
            request,
            rehash_password: rehash.then(|| password.clone()),
            auth_time: svc.now() / 1000,
            family: None,
        },
    )
    .await
}
