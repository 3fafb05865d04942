//! The authorization endpoint (RFC 6749 4.1, OpenID Connect Core 3.1.2): request validation,
//! the single sign-on decision, consent for third-party applications, and the code.
//!
//! The post-login flow runs here, when the user authenticates (or is recognized by their
//! session), and its result is bound to the code; the exchange only signs. Every client must
//! use PKCE with `S256` (RFC 9700 2.1.1); `plain` is refused. Redirect URIs are compared as
//! exact strings (RFC 9700 2.1), and a request whose client or redirect URI cannot be verified
//! is answered on the page, never redirected (RFC 6749 4.1.2.1). Every redirect carries `iss`
//! (RFC 9207), since all tenants share one host.

use std::collections::HashMap;

use super::Issuing;
pub use super::authorize_error::AuthorizeError;
use super::pipeline::{self, Login};
use super::scope_policy::check_scopes;
use super::subject::member_org;
use super::{OAuthError, session};
use crate::crypto::random_secret;
use crate::db::Issuers;
use crate::flows::event::RequestInfo;
use crate::store::GrantType;
use crate::store::Store;
use crate::store::apps::{self as app_store, AppRow};
use crate::store::codes::{self as store, CodeRow};
use crate::store::consents as consent_store;
use crate::store::sessions::SessionRow;
use crate::store::users as user_store;
use sigil_hooks::event::Protocol;

/// Codes live 60 seconds (RFC 6749 4.1.2 recommends at most 10 minutes).
pub const CODE_LIFETIME_MS: i64 = 60_000;

/// The `prompt` parameter (OIDC Core 3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Never show a page: answer `login_required` / `consent_required` instead.
    pub none: bool,
    /// Authenticate again even with a live session.
    pub login: bool,
    /// Ask for consent again (third-party applications).
    pub consent: bool,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The client.
    pub client_id: String,
    /// The exact registered redirect URI.
    pub redirect_uri: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// OIDC `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE `S256` challenge.
    pub code_challenge: String,
    /// What `prompt` asks for (OIDC Core 3.1.2.1): none, login or consent.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Pre-fills the email field.
    pub login_hint: Option<String>,
    /// Log in through this organization (id or name).
    pub organization: Option<String>,
    /// The API the access token is for.
    pub audience: Option<String>,
}

/// A request that cannot proceed.
#[derive(Debug)]
pub enum Refusal {
    /// Shown on the page: the client or the redirect URI could not be verified, so redirecting
    /// would make Sigil an open redirector (RFC 6749 4.1.2.1, RFC 9700 4.11).
    Page(String),
    /// Sent to the client's verified redirect URI.
    Redirect(String),
    /// A failure on our side before the client was verified: the 500 page, cause logged.
    Server(OAuthError),
}

/// A request whose client and redirect URI are verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The application.
    pub app: AppRow,
    /// The request.
    pub req: AuthorizeRequest,
}

/// The redirect carrying an error (RFC 6749 4.1.2.1) with `state` and `iss` (RFC 9207). The
/// description is reduced to the characters 4.1.2.1 allows ([`super::error_description`]).
pub fn error_redirect(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    error: AuthorizeError,
    description: &str,
) -> String {
    let description = super::error_description(description);
    redirect_with(
        redirect_uri,
        &[
            ("error", Some(error.code())),
            ("error_description", Some(&description)),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

fn redirect_with(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

/// Validates an authorization request.
pub async fn validate(
    store: &Store,
    issuers: &Issuers,
    tenant: (&str, &str),
    params: &HashMap<String, String>,
) -> Result<Verified, Refusal> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let client_id = get("client_id").ok_or_else(|| {
        Refusal::Page("The request names no application (client_id is missing).".into())
    })?;
    let app = async { app_store::get(store.read().await?.conn(), tenant.0, &client_id).await }
        .await
        .map_err(|e| Refusal::Server(e.into()))?
        .ok_or_else(|| Refusal::Page("The application is not known to this tenant.".into()))?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| {
        Refusal::Page("The request names no redirect URI (redirect_uri is missing).".into())
    })?;
    if !app.redirect_uris.iter().any(|r| r == &redirect_uri) {
        return Err(Refusal::Page(
            "The redirect URI is not registered for this application (it must match exactly)."
                .into(),
        ));
    }
    let issuer = issuers.of(tenant.1);
    let state = get("state");
    let fail = |code: AuthorizeError, msg: &str| {
        Refusal::Redirect(error_redirect(
            &issuer,
            &redirect_uri,
            state.as_deref(),
            code,
            msg,
        ))
    };
    if get("request").is_some() {
        return Err(fail(
            AuthorizeError::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(fail(
            AuthorizeError::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match get("response_type").as_deref() {
        Some("code") => {}
        None => {
            return Err(fail(
                AuthorizeError::InvalidRequest,
                "response_type is required",
            ));
        }
        Some(_) => {
            return Err(fail(
                AuthorizeError::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(m) = get("response_mode").filter(|m| m != "query") {
        return Err(fail(
            AuthorizeError::InvalidRequest,
            &format!("response_mode `{m}` is not supported; use query"),
        ));
    }
    if !app.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(fail(
            AuthorizeError::UnauthorizedClient,
            "the authorization_code grant is not enabled for this application",
        ));
    }
    // PKCE for every client, S256 only (RFC 9700 2.1.1, RFC 7636 4.2).
    let code_challenge = get("code_challenge").ok_or_else(|| {
        fail(
            AuthorizeError::InvalidRequest,
            "code_challenge is required (PKCE with S256)",
        )
    })?;
    match get("code_challenge_method").as_deref() {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(fail(
                AuthorizeError::InvalidRequest,
                "code_challenge_method must be S256 (plain is not allowed)",
            ));
        }
        Some(m) => {
            return Err(fail(
                AuthorizeError::InvalidRequest,
                &format!("code_challenge_method `{m}` is not supported"),
            ));
        }
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(
            AuthorizeError::InvalidRequest,
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let mut prompt = Prompt::default();
    for p in get("prompt").unwrap_or_default().split(' ') {
        match p {
            "" => {}
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            other => {
                return Err(fail(
                    AuthorizeError::InvalidRequest,
                    &format!("prompt `{other}` is not supported"),
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            AuthorizeError::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            fail(
                AuthorizeError::InvalidRequest,
                "max_age must be a number of seconds",
            )
        })?),
    };
    let scopes = crate::scopes::parse(&get("scope").unwrap_or_default());
    let audience = get("audience");
    if let Err(e) = check_scopes(store, tenant.0, audience.as_deref(), &scopes).await {
        return Err(fail(AuthorizeError::from(&e), &e.to_string()));
    }
    Ok(Verified {
        app,
        req: AuthorizeRequest {
            client_id,
            redirect_uri,
            scopes,
            state,
            nonce: get("nonce"),
            code_challenge,
            prompt,
            max_age,
            login_hint: get("login_hint"),
            organization: get("organization"),
            audience,
        },
    })
}

/// What the browser sees next.
#[derive(Debug)]
pub enum Step {
    /// The login page.
    Login,
    /// The consent page, for these scopes (described).
    Consent(Vec<super::consent_text::ScopeLine>),
    /// Back to the client (a code or an error).
    Redirect(String),
}

/// How the user arrived at this step.
#[derive(Debug, Clone, Default)]
pub struct Arrival {
    /// The user authenticated in this very request (so `prompt=login` and `max_age` are
    /// satisfied).
    pub fresh: bool,
    /// The user just granted consent on the consent page.
    pub consented: bool,
    /// The password just verified against an imported or weaker hash, to store as argon2id.
    pub rehash_password: Option<crate::crypto::Secret>,
}

/// Decides the next step of a verified request given the browser's session, and issues the
/// code when nothing stands in the way.
pub async fn next(
    deps: &Issuing<'_>,
    tenant: (&str, &str),
    v: &Verified,
    session: Option<SessionRow>,
    arrival: Arrival,
    request: &RequestInfo,
) -> Result<Step, OAuthError> {
    let issuer = deps.issuers.of(tenant.1);
    let r = &v.req;
    let redirect_err = |code: AuthorizeError, msg: &str| {
        Step::Redirect(error_redirect(
            &issuer,
            &r.redirect_uri,
            r.state.as_deref(),
            code,
            msg,
        ))
    };
    let now = deps.db.now();
    let Some(session) = session else {
        return Ok(if r.prompt.none {
            redirect_err(AuthorizeError::LoginRequired, "the user is not logged in")
        } else {
            Step::Login
        });
    };
    let too_old = r
        .max_age
        .is_some_and(|m| now - session.auth_time > m.saturating_mul(1000));
    if !arrival.fresh && (r.prompt.login || too_old) {
        return Ok(if r.prompt.none {
            redirect_err(
                AuthorizeError::LoginRequired,
                "the user must authenticate again",
            )
        } else {
            Step::Login
        });
    }
    let Some(user) = user_store::get(
        deps.db.store.read().await?.conn(),
        tenant.0,
        user_store::By::Id(&session.user_id),
    )
    .await?
    .filter(|u| !u.blocked) else {
        return Ok(if r.prompt.none {
            redirect_err(AuthorizeError::LoginRequired, "the user is not logged in")
        } else {
            Step::Login
        });
    };
    let org = match &r.organization {
        None => None,
        Some(o) => match member_org(&deps.db.store, tenant.0, o, &user.id).await {
            Ok(org) => Some(org),
            Err(e @ (OAuthError::AccessDenied(_) | OAuthError::InvalidRequest(_))) => {
                return Ok(redirect_err(AuthorizeError::from(&e), &e.to_string()));
            }
            Err(e) => return Err(e),
        },
    };
    // Third-party applications need the user's consent to the scopes; first-party ones skip it.
    if !v.app.first_party {
        if arrival.consented {
            let mut tx = deps.db.store.begin_write().await?;
            consent_store::save_consent(
                &mut tx,
                tenant.0,
                &user.id,
                &v.app.client_id,
                &r.scopes.join(" "),
                now,
            )
            .await?;
            tx.commit().await?;
        } else {
            let granted = consent_store::consent(&deps.db.store, &user.id, &v.app.client_id)
                .await?
                .unwrap_or_default();
            let granted: Vec<&str> = granted.split(' ').collect();
            let covered = r.scopes.iter().all(|s| granted.contains(&s.as_str()));
            if r.prompt.consent || !covered {
                return Ok(if r.prompt.none {
                    redirect_err(
                        AuthorizeError::ConsentRequired,
                        "the user has not consented",
                    )
                } else {
                    Step::Consent(
                        super::consent_text::describe(
                            &deps.db.store,
                            tenant.0,
                            r.audience.as_deref(),
                            &r.scopes,
                        )
                        .await?,
                    )
                });
            }
        }
    }

    let l = Login {
        tenant,
        app: &v.app,
        user,
        org,
        protocol: Protocol::AuthorizationCode,
        scopes: r.scopes.clone(),
        audience: r.audience.clone(),
        redirect_uri: Some(r.redirect_uri.clone()),
        request,
        rehash_password: None,
        auth_time: session.auth_time / 1000,
        family: None,
        rotates: None,
        sid: Some(session.sid.clone()),
        roles: None,
        org_roles: None,
    };
    let (decision, outcome) = match pipeline::decide(deps, &l).await {
        Ok(x) => x,
        Err(OAuthError::AccessDenied(reason)) => {
            return Ok(redirect_err(AuthorizeError::AccessDenied, &reason));
        }
        Err(OAuthError::Server(cause)) => {
            tracing::error!(
                error = &cause as &dyn std::error::Error,
                "authorize: post-login flow failed"
            );
            return Ok(redirect_err(
                AuthorizeError::ServerError,
                "the server could not complete the login",
            ));
        }
        // As a server error is sent here, to the verified redirect URI (RFC 6749 4.1.2.1).
        Err(OAuthError::Unavailable(cause)) => {
            tracing::warn!(
                error = &cause as &dyn std::error::Error,
                "authorize: temporarily unavailable (the database, or no room in the hook pool)"
            );
            return Ok(redirect_err(
                AuthorizeError::TemporarilyUnavailable,
                "the service is temporarily unavailable, try again later",
            ));
        }
        Err(e) => return Err(e),
    };
    let code = random_secret("ac_");
    let rehashed = pipeline::rehash(deps, arrival.rehash_password).await;
    let stored = async {
        let mut tx = deps.db.store.begin_write().await?;
        pipeline::record_login(deps, &mut tx, &l, &outcome, rehashed).await?;
        store::insert_code(
            &mut tx,
            &CodeRow {
                code_hash: deps.secrets.hash(code.expose()),
                tenant_id: tenant.0.into(),
                client_id: v.app.client_id.clone(),
                user_id: l.user.id.clone(),
                redirect_uri: r.redirect_uri.clone(),
                code_challenge: Some(r.code_challenge.clone()),
                nonce: r.nonce.clone(),
                scope: decision.scopes.join(" "),
                audience: r.audience.clone(),
                org_id: l.org.as_ref().map(|o| o.id.clone()),
                sid: Some(session.sid.clone()),
                auth_time: l.auth_time,
                id_claims: decision.id_claims.clone(),
                access_claims: decision.access_claims.clone(),
                jti: decision.jti.clone(),
                family_id: None,
                created_at: now,
                expires_at: now + CODE_LIFETIME_MS,
                used_at: None,
            },
        )
        .await?;
        // The session was used: its idle lifetime slides in the same commit as the code.
        session::touch(&mut tx, &session, deps.db.now()).await?;
        tx.commit().await?;
        Ok::<(), OAuthError>(())
    }
    .await;
    pipeline::save_trace(deps, decision, stored.is_ok()).await;
    stored?;
    Ok(Step::Redirect(redirect_with(
        &r.redirect_uri,
        &[
            ("code", Some(code.expose())),
            ("state", r.state.as_deref()),
            ("iss", Some(&issuer)),
        ],
    )))
}
