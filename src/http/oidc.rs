//! The OpenID Connect endpoints of a tenant: discovery, JWKS, the token endpoint and
//! `/userinfo`. Errors follow RFC 6749 5.2 / RFC 6750 3.1 (`{"error", "error_description"}`);
//! token responses are never cached (RFC 6749 5.1).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;

use super::unavailable::{self, Guard, Shape};
use crate::clock::Stopwatch;
use crate::crypto::Secret;
use crate::flows::event::RequestInfo;
use crate::oauth::client_auth::ClientCredentials;
use crate::oauth::password;
use crate::oauth::pipeline::TokenResponse;
use crate::oauth::{
    OAuthError, client_credentials, code, discovery, introspection, refresh, revocation, userinfo,
};
use crate::services::Services;

pub(super) fn router(svc: Services, guard: &Guard) -> Router<Services> {
    // OPTIONS is routed explicitly: the `cors` layer answers the preflight, and a method the
    // route does not name would reach the router's JSON 405 instead, which no layer wraps.
    let preflight = || async { StatusCode::NO_CONTENT };
    let cors_routes = Router::new()
        .route(
            "/t/{tenant}/oauth/token",
            axum::routing::post(token).options(preflight),
        )
        .route(
            "/t/{tenant}/oauth/revoke",
            axum::routing::post(revoke).options(preflight),
        )
        .route(
            "/t/{tenant}/userinfo",
            get(userinfo_handler)
                .post(userinfo_handler)
                .options(preflight),
        );
    // The guard inside `cors`, so a browser can read a 503 too (`cors` reads the allowed
    // origins from the database, bounded by the pool's acquire timeout).
    let cors_routes = guard
        .wrap(cors_routes, Shape::OAuth)
        .layer(axum::middleware::from_fn_with_state(svc, cors));
    let others = Router::new()
        .route(
            "/t/{tenant}/.well-known/openid-configuration",
            get(configuration),
        )
        .route("/t/{tenant}/.well-known/jwks.json", get(jwks))
        .route(
            "/t/{tenant}/oauth/introspect",
            axum::routing::post(introspect),
        );
    Router::new()
        .merge(cors_routes)
        .merge(guard.wrap(others, Shape::OAuth))
}

/// The form body of a token, revocation or introspection request. A repeated parameter is
/// `invalid_request` (RFC 6749 3.2), as at `/authorize`; axum's `Form` would keep the last
/// value silently.
struct OAuthForm(HashMap<String, String>);

impl FromRequest<Services> for OAuthForm {
    type Rejection = Response;

    async fn from_request(req: Request, svc: &Services) -> Result<Self, Response> {
        let bad = |m: String| OAuthReply(OAuthError::InvalidRequest(m), false).into_response();
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(bad(
                "the body must be application/x-www-form-urlencoded (RFC 6749 3.2)".into(),
            ));
        }
        let body = axum::body::Bytes::from_request(req, svc)
            .await
            .map_err(IntoResponse::into_response)?;
        let text = std::str::from_utf8(&body).map_err(|_| bad("the body is not UTF-8".into()))?;
        super::params::unique_params(text)
            .map(OAuthForm)
            .map_err(bad)
    }
}

/// An OAuth error response.
struct OAuthReply(OAuthError, bool);

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let OAuthReply(e, basic) = self;
        if let OAuthError::Unavailable(cause) = &e {
            tracing::warn!(
                error = cause as &dyn std::error::Error,
                "temporarily unavailable (the database, no room in the hook pool, or a legacy store that did not answer)"
            );
            return unavailable::oauth();
        }
        let status = match &e {
            OAuthError::InvalidClient | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            OAuthError::AccessDenied(_) | OAuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            OAuthError::Server(cause) => {
                tracing::error!(
                    error = cause as &dyn std::error::Error,
                    "token endpoint failure"
                );
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let description = match &e {
            OAuthError::Server(_) => "the server could not complete the request".to_string(),
            // RFC 6749 5.2: only %x20-21 / %x23-5B / %x5D-7E, whatever the message holds (a
            // hook's deny reason, text from the request).
            other => crate::oauth::error_description(&other.to_string()),
        };
        let mut res = (
            status,
            Json(json!({"error": e.code(), "error_description": description})),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match &e {
            OAuthError::InvalidClient if basic => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"sigil\""),
                );
            }
            OAuthError::InvalidToken(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            // RFC 6750 3.1: the token is fine, the scope is not; `scope` names what is needed.
            OAuthError::InsufficientScope(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer error=\"insufficient_scope\", scope=\"openid\"",
                    ),
                );
            }
            _ => {}
        }
        res
    }
}

/// The tenant named in the path: 404 only when it really does not exist; a database failure
/// is a 500 `server_error` (503 `temporarily_unavailable` for an outage) with its cause logged,
/// never passed off as a missing tenant.
async fn tenant(svc: &Services, name: &str) -> Result<(String, String), Response> {
    match crate::oauth::tenant(&svc.db.store, name, svc.now()).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err((
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": "no such tenant"})),
        )
            .into_response()),
        Err(e) => Err(OAuthReply(e, false).into_response()),
    }
}

async fn configuration(State(svc): State<Services>, Path(name): Path<String>) -> Response {
    match tenant(&svc, &name).await {
        Ok((_, n)) => Json(discovery::document(&svc.issuers.of(&n))).into_response(),
        Err(r) => r,
    }
}

async fn jwks(State(svc): State<Services>, Path(name): Path<String>) -> Response {
    let (id, _) = match tenant(&svc, &name).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match svc.keys.jwks(&svc.db.store, &id, svc.now()).await {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => OAuthReply(OAuthError::server(e), false).into_response(),
    }
}

/// Client credentials from `Authorization: Basic` (RFC 6749 2.3.1: each part form-urlencoded)
/// or the form; both at once is refused.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(ClientCredentials, bool), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    match basic {
        Some(b64) => {
            if form.contains_key("client_secret") {
                return Err(OAuthError::InvalidRequest(
                    "use one client authentication method".into(),
                ));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| OAuthError::InvalidClient)?;
            let text = String::from_utf8(raw).map_err(|_| OAuthError::InvalidClient)?;
            let (id, secret) = text.split_once(':').ok_or(OAuthError::InvalidClient)?;
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Ok((
                ClientCredentials {
                    client_id: dec(id),
                    client_secret: dec(secret).map(Secret::new),
                },
                true,
            ))
        }
        None => Ok((
            ClientCredentials {
                client_id: form.get("client_id").cloned(),
                client_secret: form.get("client_secret").cloned().map(Secret::new),
            },
            false,
        )),
    }
}

/// Request facts for the post-login event and the brute-force lock.
pub(super) fn request_info(svc: &Services, headers: &HeaderMap, peer: SocketAddr) -> RequestInfo {
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    RequestInfo {
        ip: super::client_ip::client_ip(
            peer.ip(),
            headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
            &svc.trusted_proxies,
        )
        .to_string(),
        user_agent: h(header::USER_AGENT),
        hostname: h(header::HOST).unwrap_or_default(),
        language: h(header::ACCEPT_LANGUAGE).and_then(|l| {
            l.split(',')
                .next()
                .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
        }),
    }
}

async fn token(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Response {
    let timer = Stopwatch::start();
    let t = match tenant(&svc, &name).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (result, basic) = grant(&svc, (&t.0, &t.1), &headers, peer, &form).await;
    svc.metrics.grant(
        &t.1,
        form.get("grant_type").map_or("", String::as_str),
        result.as_ref().map_or_else(OAuthError::code, |_| "ok"),
        timer.seconds(),
    );
    match result {
        Ok(body) => {
            let mut res = Json(body).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => OAuthReply(e, basic).into_response(),
    }
}

/// Runs the grant the form asks for; also says whether the client authenticated with HTTP
/// Basic (for the `WWW-Authenticate` of an `invalid_client`).
async fn grant(
    svc: &Services,
    t: (&str, &str),
    headers: &HeaderMap,
    peer: SocketAddr,
    form: &HashMap<String, String>,
) -> (Result<TokenResponse, OAuthError>, bool) {
    let (creds, basic) = match client_credentials(headers, form) {
        Ok(c) => c,
        Err(e) => return (Err(e), false),
    };
    let result = match form.get("grant_type").map(String::as_str) {
        None => Err(OAuthError::InvalidRequest("grant_type is required".into())),
        Some("password") => {
            password::grant(
                &svc.issuing(),
                &svc.password_login,
                t,
                creds,
                form,
                &request_info(svc, headers, peer),
            )
            .await
        }
        Some("refresh_token") => {
            refresh::grant(
                &svc.issuing(),
                t,
                creds,
                form,
                &request_info(svc, headers, peer),
            )
            .await
        }
        Some("client_credentials") => {
            client_credentials::grant(&svc.issuing(), t, creds, form).await
        }
        Some("authorization_code") => code::grant(&svc.issuing(), t, creds, form).await,
        Some(g) => Err(OAuthError::UnsupportedGrantType(format!(
            "unknown grant type `{g}`"
        ))),
    };
    (result, basic)
}

async fn userinfo_for(svc: &Services, name: &str, headers: &HeaderMap) -> Response {
    let (id, n) = match tenant(svc, name).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let Some(token) = token else {
        let mut res = (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_request", "error_description": "a bearer token is required"}))).into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    };
    match userinfo::userinfo(&svc.checking(), &id, &n, token.trim()).await {
        Ok(v) => {
            let mut res = Json(v).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => OAuthReply(e, false).into_response(),
    }
}

/// `/userinfo` answers GET and POST alike (OIDC Core 5.3.1).
async fn userinfo_handler(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    userinfo_for(&svc, &name, &headers).await
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Tenant, client credentials and the `token` parameter of a revocation or introspection
/// request; an error response otherwise.
async fn token_request(
    svc: &Services,
    name: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<((String, String), ClientCredentials, String, bool), Response> {
    let t = tenant(svc, name).await?;
    let (creds, basic) =
        client_credentials(headers, form).map_err(|e| OAuthReply(e, false).into_response())?;
    let token = form.get("token").filter(|s| !s.is_empty()).ok_or_else(|| {
        OAuthReply(
            OAuthError::InvalidRequest("token is required".into()),
            basic,
        )
        .into_response()
    })?;
    Ok((t, creds, token.clone(), basic))
}

/// RFC 7009: 200 whether or not the token was valid.
async fn revoke(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Response {
    let (t, creds, token, basic) = match token_request(&svc, &name, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match revocation::revoke(&svc.checking(), (&t.0, &t.1), creds, &token).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => OAuthReply(e, basic).into_response(),
    }
}

/// RFC 7662.
async fn introspect(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Response {
    let (t, creds, token, basic) = match token_request(&svc, &name, &headers, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match introspection::introspect(&svc.checking(), (&t.0, &t.1), creds, &token).await {
        Ok(v) => no_store(Json(v).into_response()),
        Err(e) => OAuthReply(e, basic).into_response(),
    }
}
/// CORS for single-page apps on the token, revocation and userinfo endpoints: an origin is
/// allowed when one of the tenant's applications lists it in `allowed_web_origins` (exact
/// match). Other origins get no CORS headers, so browsers refuse the response.
async fn cors(
    State(svc): State<Services>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let tenant = req
        .uri()
        .path()
        .strip_prefix("/t/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("")
        .to_string();
    let allowed = match &origin {
        Some(o) => crate::store::apps::origin_allowed(&svc.db.store, &tenant, o)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(cause = %e, "CORS: reading the allowed origins");
                false
            }),
        None => false,
    };
    let preflight = req.method() == axum::http::Method::OPTIONS;
    let mut res = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if let (true, Some(o)) = (allowed, origin) {
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    res
}
