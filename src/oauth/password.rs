//! The resource owner password grant (RFC 6749 4.3), for applications with their own login
//! form. Off unless a confidential application enables it (RFC 9700 2.4 discourages it).
//!
//! Unknown users and wrong passwords get byte-identical replies, and both pay one argon2id
//! verification (against a dummy hash for unknown users), so neither the message nor the
//! timing tells whether an account exists.

use std::collections::HashMap;

use super::OAuthError;
use super::metrics::Attempt;
use super::pipeline::{self, Login, TokenResponse};
use crate::flows::event::RequestInfo;
use crate::passwords::Verified;
use crate::scopes::OIDC_SCOPES;
use crate::services::Services;
use crate::store::apis::{self as api_store};
use crate::store::apps::{self as app_store, AppRow};
use crate::store::keys as key_store;
use crate::store::orgs::{self as org_store, OrgRow};
use crate::store::users::normalize_email;
use crate::store::users::{self as user_store, UserRow};
use sigil_hooks::event::Protocol;

/// The one message for every failed password login, whatever the cause (unknown user, wrong
/// password, locked, no password set), so the answer reveals nothing about the account.
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

/// Attempts from one IP that may be compared for one user...
pub const MAX_FAILURES: i64 = 10;
/// ...within this window, which starts at the first attempt; a success clears the count, and
/// the lock lifts when the window ends.
const LOCK_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Client credentials as presented (Basic header or form fields).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (never logged).
    pub client_secret: Option<String>,
}

/// Authenticates a client: `client_secret_basic` / `client_secret_post` for confidential
/// clients, `none` for public ones.
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
    // Public clients (single-page and native apps) have no secret: they authenticate with
    // `none` and rely on PKCE and exact redirect URIs (RFC 6749 2.1, RFC 9700 2.1.1).
    match (&app.secret_hash, &creds.client_secret) {
        (Some(hash), Some(secret)) if svc.secrets.verify(secret, hash) => Ok(app),
        (None, None) if app.client_type == "public" => Ok(app),
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

/// A token request parameter that must be present and non-empty (`invalid_request`
/// otherwise, RFC 6749 5.2).
pub fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// Splits a `scope` parameter (RFC 6749 3.3).
pub fn scope_list(form: &HashMap<String, String>) -> Option<Vec<String>> {
    form.get("scope")
        .filter(|s| !s.is_empty())
        .map(|s| crate::scopes::parse(s))
}

/// Why a password login did not authenticate, so callers choose their words from the kind and
/// never from an error's text.
#[derive(Debug)]
pub enum LoginRefused {
    /// Unknown user, wrong password, or a locked (user, IP) pair: indistinguishable on purpose.
    WrongCredentials,
    /// The password was right but the user is blocked.
    Blocked,
    /// A failure on our side.
    Server(OAuthError),
}

impl From<OAuthError> for LoginRefused {
    fn from(e: OAuthError) -> Self {
        LoginRefused::Server(e)
    }
}

impl From<crate::store::StoreError> for LoginRefused {
    fn from(e: crate::store::StoreError) -> Self {
        LoginRefused::Server(e.into())
    }
}

impl From<LoginRefused> for OAuthError {
    fn from(r: LoginRefused) -> Self {
        match r {
            LoginRefused::WrongCredentials => OAuthError::InvalidGrant(WRONG_CREDENTIALS.into()),
            LoginRefused::Blocked => OAuthError::InvalidGrant("the user is blocked".into()),
            LoginRefused::Server(e) => e,
        }
    }
}

/// Authenticates a user by email and password: one argon2id verification whatever happens (a
/// dummy hash for unknown users and locked pairs), byte-identical errors for unknown users,
/// wrong passwords and locked pairs. Returns the user and whether the stored hash should be
/// upgraded to argon2id.
///
/// The brute-force lock counts the attempt before the password is compared, in one atomic
/// statement, so parallel guesses each get their own count and at most [`MAX_FAILURES`] of
/// them in a window are ever compared (RFC 6749 10.10, RFC 9700 2.4).
pub async fn authenticate_user(
    svc: &Services,
    tenant_id: &str,
    username: &str,
    password: &str,
    ip: &str,
) -> Result<(UserRow, bool), LoginRefused> {
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
            key_store::count_attempt(&svc.store, tenant_id, &u.id, ip, now, LOCK_WINDOW_MS).await?
                > MAX_FAILURES
        }
        None => false,
    };
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .filter(|_| !locked)
        .unwrap_or_else(|| svc.dummy_hash.clone());
    let verified = svc
        .passwords
        .verify_bounded(password.to_string(), stored)
        .await
        .map_err(|e| OAuthError::Server(e.to_string()))?;
    let user = match (user, verified) {
        (Some(u), Verified::Yes | Verified::YesRehash) if u.password_hash.is_some() && !locked => u,
        _ => {
            svc.login_metrics.attempt(if locked {
                Attempt::Locked
            } else {
                Attempt::Wrong
            });
            return Err(LoginRefused::WrongCredentials);
        }
    };
    svc.login_metrics.attempt(Attempt::Ok);
    key_store::clear_attempts(&svc.store, &user.id, ip).await?;
    if user.blocked != 0 {
        return Err(LoginRefused::Blocked);
    }
    Ok((user, verified == Verified::YesRehash))
}

/// Finds an organization by id or name and checks the user is a member.
pub async fn member_org(
    svc: &Services,
    tenant_id: &str,
    org: &str,
    user_id: &str,
) -> Result<OrgRow, OAuthError> {
    let found = org_store::by_id_or_name(&svc.store, tenant_id, org)
        .await?
        .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown organization `{org}`")))?;
    let mut conn = svc.store.pool().acquire().await?;
    if org_store::member(&mut conn, &found.id, user_id)
        .await?
        .is_none()
    {
        return Err(OAuthError::AccessDenied(
            "the user is not a member of the organization".into(),
        ));
    }
    Ok(found)
}

/// Checks the audience names an API of the tenant and every requested scope is an OIDC scope
/// or one the API defines (`invalid_scope` otherwise, RFC 6749 5.2).
pub async fn check_scopes(
    svc: &Services,
    tenant_id: &str,
    audience: Option<&str>,
    requested: &[String],
) -> Result<(), OAuthError> {
    let api_scopes = match audience {
        Some(a) => api_store::scope_values(svc.store.pool(), tenant_id, a)
            .await?
            .ok_or_else(|| OAuthError::InvalidTarget(format!("unknown audience `{a}`")))?,
        None => Vec::new(),
    };
    for s in requested {
        if !OIDC_SCOPES.contains(&s.as_str()) && !api_scopes.contains(s) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{s}` is not defined"
            )));
        }
    }
    Ok(())
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
    let username = required(form, "username")?;
    let password = required(form, "password")?;

    let audience = form.get("audience").filter(|s| !s.is_empty()).cloned();
    let requested = scope_list(form).unwrap_or_default();
    check_scopes(svc, tenant_id, audience.as_deref(), &requested).await?;

    let (user, rehash) = authenticate_user(svc, tenant_id, username, password, &request.ip)
        .await
        .map_err(OAuthError::from)?;

    let org =
        match form.get("organization").filter(|s| !s.is_empty()) {
            None => None,
            Some(o) => Some(member_org(svc, tenant_id, o, &user.id).await.map_err(
                |e| match e {
                    OAuthError::AccessDenied(m) => OAuthError::InvalidGrant(m),
                    other => other,
                },
            )?),
        };

    pipeline::complete(
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
            rehash_password: rehash.then(|| password.to_string()),
            auth_time: svc.now() / 1000,
            family: None,
            rotates: None,
            redirect_uri: None,
            sid: None,
        },
    )
    .await
}
