//! The browser side of the code flow: `/authorize` and the login form ([`sign_in`]), the
//! consent form ([`consent`]), `/logout` ([`sign_out`]), and their cookies ([`cookies`]).
//! Handlers only move cookies and forms; the decisions are in `oauth::authorize`,
//! `oauth::session` and `oauth::logout`.
//!
//! Cookies are per tenant (`Path=/t/{tenant}`), HttpOnly, and Secure under https. The
//! session cookie is `SameSite=Lax` so that an application's top-level redirect to
//! `/authorize` carries it (single sign-on). Forms are protected by a double-submit CSRF
//! token in a `SameSite=Strict` cookie, which a cross-site form post does not carry.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::oidc::request_info;
use super::pages::{self, LoginPage};
use crate::crypto::{constant_time_eq, random_secret};
use crate::flows::event::RequestInfo;
use crate::manage::tenants;
use crate::oauth::authorize::{self, Arrival, Refusal, Step, Verified};
use crate::oauth::{logout, session, user_auth};
use crate::services::Services;
use crate::store::sessions::SessionRow;

mod consent;
mod cookies;
mod sign_in;
mod sign_out;

use consent::consent_post;
use cookies::{Reply, csrf_token};
use sign_in::{authorize_get, authorize_post, login_post};
use sign_out::{logout_get, logout_post};

pub(super) fn router() -> Router<Services> {
    Router::new()
        .route(
            "/t/{tenant}/authorize",
            get(authorize_get).post(authorize_post),
        )
        .route("/t/{tenant}/login", post(login_post))
        .route("/t/{tenant}/consent", post(consent_post))
        .route("/t/{tenant}/logout", get(logout_get).post(logout_post))
}

/// Parses a query string or form; a repeated parameter is refused (RFC 6749 3.1), on the page.
fn parse_params(query: &str) -> Result<HashMap<String, String>, String> {
    super::params::unique_params(query).map_err(|m| {
        let mut m = m;
        if let Some(first) = m.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{m}.")
    })
}

fn redirect(status: StatusCode, to: &str) -> Response {
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The page for a failure on our side: the 503 page (with `Retry-After`) when the database is
/// unreachable or restarting, the 500 page otherwise; the cause is logged, never shown.
///
/// A failure met before the client and its redirect URI are verified cannot be sent to the
/// client at all (RFC 6749 4.1.2.1); one met later is sent there as `temporarily_unavailable`
/// where a `server_error` would be ([`crate::oauth::authorize::next`]) and shown here
/// elsewhere. An outage nearly always shows here, since the first read (the tenant, the
/// client) fails first: the user can reload the same page once the database is back.
fn server_error(cause: &(dyn std::error::Error + 'static)) -> Response {
    if crate::store::unavailable::unavailable_in(cause) {
        tracing::warn!(error = cause, "login page: database unavailable");
        return super::unavailable::page();
    }
    // Something that may work a moment later (the hook pool full, a legacy store down): the
    // same "try again" page as a database outage, 503.
    if let Some(crate::oauth::OAuthError::Unavailable(_)) =
        cause.downcast_ref::<crate::oauth::OAuthError>()
    {
        tracing::warn!(error = cause, "login page: temporarily unavailable");
        return super::unavailable::page();
    }
    tracing::error!(error = cause, "login page failure");
    pages::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not complete the request. Please try again.",
    )
}

/// The browser's live session in the tenant, from its session cookie (`None` when there is
/// none, or it ended or expired); a database failure is the 500 (or 503) page.
async fn browser_session(
    svc: &Services,
    tenant_id: &str,
    headers: &HeaderMap,
) -> Result<Option<SessionRow>, Response> {
    session::current(
        &svc.db,
        &svc.secrets,
        svc.sessions,
        tenant_id,
        cookies::cookie(headers, cookies::SESSION_COOKIE).as_deref(),
    )
    .await
    .map_err(|e| server_error(&e))
}

/// The tenant of a page: "no such tenant" only when it does not exist; a database failure is
/// the 500 (or 503) page with its cause logged.
pub(super) async fn tenant_page(
    svc: &Services,
    name: &str,
) -> Result<crate::manage::tenants::Tenant, Response> {
    match tenants::get(&svc.db, &svc.issuers, name).await {
        Ok(t) => Ok(t),
        Err(crate::manage::ManageError::NotFound(_)) => Err(pages::error(
            StatusCode::NOT_FOUND,
            "There is no such tenant.",
        )),
        Err(e) => Err(server_error(&e)),
    }
}

/// Everything a login-page handler needs about the request.
struct Ctx {
    tenant: (String, String),
    request: RequestInfo,
}

async fn ctx(
    svc: &Services,
    name: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Ctx, Response> {
    let t = tenant_page(svc, name).await?;
    Ok(Ctx {
        tenant: (t.id, t.name),
        request: request_info(svc, headers, peer),
    })
}

async fn verify(svc: &Services, c: &Ctx, authz: &str) -> Result<Verified, Response> {
    let params = parse_params(authz).map_err(|m| pages::error(StatusCode::BAD_REQUEST, &m))?;
    authorize::validate(
        &svc.db.store,
        &svc.issuers,
        (&c.tenant.0, &c.tenant.1),
        &params,
    )
    .await
    .map_err(|r| match r {
        Refusal::Page(m) => pages::error(StatusCode::BAD_REQUEST, &m),
        Refusal::Redirect(to) => redirect(StatusCode::FOUND, &to),
        Refusal::Server(cause) => server_error(&cause),
    })
}

/// The tenant, the carried authorization request and its verification, for a form post.
async fn form_request(
    svc: &Services,
    name: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
    form: &HashMap<String, String>,
) -> Result<(Ctx, String, Verified), Response> {
    let c = ctx(svc, name, headers, peer).await?;
    let authz = form.get("authz").cloned().unwrap_or_default();
    let v = verify(svc, &c, &authz).await?;
    Ok((c, authz, v))
}

/// Renders a step of the flow.
#[allow(clippy::too_many_arguments)]
fn render(
    svc: &Services,
    c: &Ctx,
    v: &Verified,
    authz: &str,
    step: Step,
    headers: &HeaderMap,
    mut reply: Reply,
    redirect_status: StatusCode,
) -> Response {
    let res = match step {
        Step::Redirect(to) => redirect(redirect_status, &to),
        Step::Login => {
            let csrf = csrf_token(svc, &c.tenant.1, headers, &mut reply);
            pages::login(
                StatusCode::OK,
                &LoginPage {
                    tenant: &c.tenant.1,
                    app_name: &v.app.name,
                    authz,
                    csrf: &csrf,
                    email: v.req.login_hint.as_deref(),
                    error: None,
                },
            )
        }
        Step::Consent(scopes) => {
            let csrf = csrf_token(svc, &c.tenant.1, headers, &mut reply);
            pages::consent(&c.tenant.1, &v.app.name, &scopes, authz, &csrf)
        }
    };
    reply.finish(res)
}
