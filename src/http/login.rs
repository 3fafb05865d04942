//! The browser side of the code flow: `/authorize`, the login and consent forms, and
//! `/logout`. Handlers only move cookies and forms; the decisions are in `oauth::authorize`,
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
use crate::oauth::{logout, password, session};
use crate::services::Services;

const SESSION_COOKIE: &str = "sigil_session";
const CSRF_COOKIE: &str = "sigil_csrf";

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

/// The value of a cookie in the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A response under construction with the cookies it sets.
struct Reply {
    cookies: Vec<String>,
}

impl Reply {
    fn new() -> Self {
        Self {
            cookies: Vec::new(),
        }
    }

    fn set(&mut self, svc: &Services, tenant: &str, name: &str, value: &str, same_site: &str) {
        let secure = if svc.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        self.cookies.push(format!(
            "{name}={value}; Path=/t/{tenant}; HttpOnly; SameSite={same_site}{secure}"
        ));
    }

    fn clear(&mut self, tenant: &str, name: &str) {
        self.cookies
            .push(format!("{name}=; Path=/t/{tenant}; HttpOnly; Max-Age=0"));
    }

    fn finish(self, mut res: Response) -> Response {
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// The CSRF token of this browser, creating one (and its cookie) when missing.
fn csrf_token(svc: &Services, tenant: &str, headers: &HeaderMap, reply: &mut Reply) -> String {
    match cookie(headers, CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c,
        None => {
            let t = random_secret("").expose().to_string();
            reply.set(svc, tenant, CSRF_COOKIE, &t, "Strict");
            t
        }
    }
}

fn csrf_ok(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    match (cookie(headers, CSRF_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) => !c.is_empty() && constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
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

fn server_error(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(cause = %cause, "login page failure");
    pages::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not complete the request. Please try again.",
    )
}

/// The tenant of a page: "no such tenant" only when it does not exist; a database failure is
/// the 500 page with its cause logged.
async fn tenant_page(
    svc: &Services,
    name: &str,
) -> Result<crate::manage::tenants::Tenant, Response> {
    match tenants::get(svc, name).await {
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
    authorize::validate(svc, (&c.tenant.0, &c.tenant.1), &params)
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

async fn authorize_any(
    svc: Services,
    name: String,
    peer: SocketAddr,
    headers: HeaderMap,
    authz: String,
) -> Response {
    let c = match ctx(&svc, &name, &headers, peer).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let v = match verify(&svc, &c, &authz).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    let current =
        match session::current(&svc, tenant.0, cookie(&headers, SESSION_COOKIE).as_deref()).await {
            Ok(s) => s,
            Err(e) => return server_error(&e),
        };
    match authorize::next(&svc, tenant, &v, current, Arrival::default(), &c.request).await {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            Reply::new(),
            StatusCode::FOUND,
        ),
        Err(e) => server_error(&e),
    }
}

/// `GET /authorize` (RFC 6749 4.1.1).
async fn authorize_get(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize_any(svc, name, peer, headers, q.unwrap_or_default()).await
}

/// `POST /authorize` with form parameters (OIDC Core 3.1.2.1).
async fn authorize_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    authorize_any(svc, name, peer, headers, body).await
}

/// The login form's submission.
async fn login_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (c, authz, v) = match form_request(&svc, &name, &headers, peer, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    let email = form.get("email").map(String::as_str).unwrap_or("");
    let again = |status: StatusCode, message: &str, reply: &mut Reply| {
        let csrf = csrf_token(&svc, tenant.1, &headers, reply);
        pages::login(
            status,
            &LoginPage {
                tenant: tenant.1,
                app_name: &v.app.name,
                authz: &authz,
                csrf: &csrf,
                email: Some(email),
                error: Some(message),
            },
        )
    };
    let mut reply = Reply::new();
    if !csrf_ok(&headers, &form) {
        let res = again(
            StatusCode::FORBIDDEN,
            "This sign-in form expired. Please try again.",
            &mut reply,
        );
        return reply.finish(res);
    }
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    if email.is_empty() || pw.is_empty() {
        let res = again(
            StatusCode::BAD_REQUEST,
            "Enter your email and password.",
            &mut reply,
        );
        return reply.finish(res);
    }
    let (user, rehash) =
        match password::authenticate_user(&svc, tenant.0, email, pw, &c.request.ip).await {
            Ok(x) => x,
            Err(password::LoginRefused::WrongCredentials) => {
                let res = again(
                    StatusCode::UNAUTHORIZED,
                    password::WRONG_CREDENTIALS,
                    &mut reply,
                );
                return reply.finish(res);
            }
            Err(password::LoginRefused::Blocked) => {
                let res = again(
                    StatusCode::UNAUTHORIZED,
                    "This account is blocked.",
                    &mut reply,
                );
                return reply.finish(res);
            }
            Err(password::LoginRefused::Server(e)) => return server_error(&e),
        };
    // A new login replaces whatever session this browser had (no session fixation).
    if let Some(old) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = session::end(&svc, tenant.0, &old).await
    {
        return server_error(&e);
    }
    let (secret, row) = match session::start(&svc, tenant.0, &user.id).await {
        Ok(x) => x,
        Err(e) => return server_error(&e),
    };
    reply.set(&svc, tenant.1, SESSION_COOKIE, secret.expose(), "Lax");
    let arrival = Arrival {
        fresh: true,
        consented: false,
        rehash_password: rehash.then(|| crate::crypto::Secret::new(pw.to_string())),
    };
    match authorize::next(&svc, tenant, &v, Some(row), arrival, &c.request).await {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            reply,
            StatusCode::SEE_OTHER,
        ),
        Err(e) => server_error(&e),
    }
}

/// The consent form's submission.
async fn consent_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (c, authz, v) = match form_request(&svc, &name, &headers, peer, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !csrf_ok(&headers, &form) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "This form expired. Please go back to the application and try again.",
        );
    }
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    if form.get("decision").map(String::as_str) != Some("allow") {
        let to = authorize::error_redirect(
            &svc.issuer(tenant.1),
            &v.req.redirect_uri,
            v.req.state.as_deref(),
            "access_denied",
            "the user did not allow access",
        );
        return redirect(StatusCode::SEE_OTHER, &to);
    }
    let current =
        match session::current(&svc, tenant.0, cookie(&headers, SESSION_COOKIE).as_deref()).await {
            Ok(s) => s,
            Err(e) => return server_error(&e),
        };
    let arrival = Arrival {
        fresh: false,
        consented: current.is_some(),
        rehash_password: None,
    };
    match authorize::next(&svc, tenant, &v, current, arrival, &c.request).await {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            Reply::new(),
            StatusCode::SEE_OTHER,
        ),
        Err(e) => server_error(&e),
    }
}

async fn do_logout(
    svc: &Services,
    tenant: (&str, &str),
    headers: &HeaderMap,
    checked: logout::Checked,
) -> Response {
    let mut reply = Reply::new();
    if let Some(c) = cookie(headers, SESSION_COOKIE)
        && let Err(e) = session::end(svc, tenant.0, &c).await
    {
        return server_error(&e);
    }
    if let Some(sid) = &checked.sid
        && let Err(e) = session::end_sid(svc, tenant.0, sid).await
    {
        return server_error(&e);
    }
    reply.clear(tenant.1, SESSION_COOKIE);
    let res = match &checked.redirect {
        Some(to) => redirect(StatusCode::SEE_OTHER, to),
        None => pages::logged_out(),
    };
    reply.finish(res)
}

async fn logout_any(
    svc: Services,
    name: String,
    headers: HeaderMap,
    query: String,
    confirmed: bool,
) -> Response {
    let t = match tenant_page(&svc, &name).await {
        Ok(t) => (t.id, t.name),
        Err(page) => return page,
    };
    let tenant = (t.0.as_str(), t.1.as_str());
    let params = match parse_params(&query) {
        Ok(p) => p,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    let checked = match logout::check(&svc, tenant, &params).await {
        Ok(c) => c,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    let current =
        match session::current(&svc, tenant.0, cookie(&headers, SESSION_COOKIE).as_deref()).await {
            Ok(c) => c,
            Err(e) => return server_error(&e),
        };
    if confirmed || checked.names(current.as_ref()) {
        return do_logout(&svc, tenant, &headers, checked).await;
    }
    let mut reply = Reply::new();
    let csrf = csrf_token(&svc, tenant.1, &headers, &mut reply);
    reply.finish(pages::logout_confirm(tenant.1, &query, &csrf))
}

/// `GET /logout` (RP-Initiated Logout 1.0 section 2).
async fn logout_get(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    logout_any(svc, name, headers, q.unwrap_or_default(), false).await
}

/// `POST /logout`: either an application's form post, or the confirmation page's.
async fn logout_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match parse_params(&body) {
        Ok(f) => f,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    if let Some(original) = form.get("logout") {
        if !csrf_ok(&headers, &form) {
            return pages::error(
                StatusCode::FORBIDDEN,
                "This form expired. Please try signing out again.",
            );
        }
        return logout_any(svc, name, headers, original.clone(), true).await;
    }
    logout_any(svc, name, headers, body, false).await
}
