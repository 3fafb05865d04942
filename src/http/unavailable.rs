//! What a client sees while the database is unreachable or restarting: `503 Service
//! Unavailable` with `Retry-After` (RFC 9110 15.6.4, 10.2.3) and no cause, in the shape of the
//! endpoint it called. The token, revocation, introspection, `/userinfo`, discovery and JWKS
//! endpoints answer `{"error": "temporarily_unavailable", ...}` with `Cache-Control: no-store`
//! (RFC 6749 4.1.2.1 defines the code for the authorization endpoint; 5.2 lists none like it
//! for the token endpoint, which sends it anyway so a client can tell "retry later" from
//! `server_error`); the management API `{"code": "temporarily_unavailable", ...}`; the hosted
//! pages a 503 page.
//!
//! Two things lead here. A store error that [`crate::store::unavailable`] classifies as an
//! outage, mapped where each area maps its errors; and the request timeout ([`Guard`]): a
//! request still running after it is answered 503 and its handler dropped. The pool's acquire
//! timeout already bounds every wait for a connection (a refused or unanswered connect, the
//! liveness ping of an idle one); the request timeout bounds what is left, a database that
//! stops answering in the middle of a statement, which TCP alone would let hang for many
//! minutes. It is enforced here, in the client, because a server-side `statement_timeout` set
//! per session is session state that a transaction-pooling PgBouncer does not keep, and it
//! cannot help when the server is not answering at all (see `docs/deploy.md` for the role-level
//! setting, which still bounds slow queries on a live server).
//!
//! Dropping a handler at its deadline is safe because handlers are already dropped at any
//! `.await` when a client hangs up: a [`crate::store::WriteTx`] dropped before its commit rolls
//! back (and on SQLite frees the writer slot only after the rollback), and `BEGIN` runs in a
//! task of its own. A commit that was in flight may or may not have happened; the client,
//! told 503, cannot know, exactly as when a response is lost on the network.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use super::error::ApiError;
use super::pages;
use crate::metrics::{Metrics, Unavailable};

/// The error code of every such answer.
pub const CODE: &str = "temporarily_unavailable";

/// The `Retry-After` of every such answer, seconds. A PostgreSQL restart or a fast failover
/// takes a few seconds, and a request while the database is down already waits up to the
/// acquire timeout before it is refused; asking clients to wait 5 s more spreads their retries
/// over the time the database needs to come back instead of adding to the queue of requests
/// that will time out.
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long a request may run before it is answered 503 (`--request-timeout-ms`): longer than
/// a login with hooks and argon2id takes under load, short enough that a client (or the
/// balancer) tries again well before it would give up.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the body says, the same everywhere.
const MESSAGE: &str =
    "the service is temporarily unavailable; retry after the number of seconds in Retry-After";

/// Marks a response refused for an outage, so the [`Guard`] around its route counts it.
#[derive(Debug, Clone, Copy)]
struct Refused;

/// Adds `Retry-After` and the mark the [`Guard`] counts.
pub(super) fn refused(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res.extensions_mut().insert(Refused);
    res
}

/// The OAuth endpoints' answer: RFC 6749 5.2's body, never cached.
pub(super) fn oauth() -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": CODE, "error_description": MESSAGE})),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    refused(res)
}

/// The hosted pages' answer.
pub(super) fn page() -> Response {
    refused(pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable. Please try again in a few seconds.",
    ))
}

/// The management API's answer (its `IntoResponse` adds `Retry-After` and the mark).
pub(super) fn api() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, CODE, MESSAGE)
}

/// Which answer a route gives.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shape {
    /// The OAuth and OpenID Connect endpoints (JSON, RFC 6749 5.2).
    OAuth,
    /// The hosted pages (HTML).
    Page,
    /// The management API (JSON, `code`).
    Api,
}

impl Shape {
    fn response(self) -> Response {
        match self {
            Shape::OAuth => oauth(),
            Shape::Page => page(),
            Shape::Api => api().into_response(),
        }
    }
}

/// Around a group of routes: answers 503 in the routes' [`Shape`] when a request runs past the
/// request timeout, and counts every 503 `temporarily_unavailable` in
/// `sigil_unavailable_total{cause}`.
#[derive(Debug, Clone)]
pub struct Guard {
    timeout: Option<Duration>,
    metrics: Option<Arc<Metrics>>,
}

impl Guard {
    /// Requests time out after `timeout` and are counted in `metrics`.
    pub fn new(timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            timeout: Some(timeout),
            metrics: Some(metrics),
        }
    }

    /// Neither times out nor counts (the router built only for its OpenAPI document).
    pub(super) fn off() -> Self {
        Self {
            timeout: None,
            metrics: None,
        }
    }

    /// Counts, without a timeout: for the routes whose work is long by nature (a hook upload
    /// waits for and runs a compile; an import hashes passwords line by line), bounded by
    /// their own limits instead.
    pub(super) fn untimed(&self) -> Self {
        Self {
            timeout: None,
            metrics: self.metrics.clone(),
        }
    }

    /// `router` behind this guard.
    pub(super) fn wrap<S>(&self, router: Router<S>, shape: Shape) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(axum::middleware::from_fn_with_state(
            (self.clone(), shape),
            guard,
        ))
    }

    /// An OpenAPI router behind this guard (management answers).
    pub(super) fn wrap_api<S>(&self, router: OpenApiRouter<S>) -> OpenApiRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(axum::middleware::from_fn_with_state(
            (self.clone(), Shape::Api),
            guard,
        ))
    }

    fn count(&self, cause: Unavailable) {
        if let Some(m) = &self.metrics {
            m.unavailable(cause);
        }
    }
}

async fn guard(State((g, shape)): State<(Guard, Shape)>, req: Request, next: Next) -> Response {
    let res = match g.timeout {
        None => next.run(req).await,
        Some(limit) => match tokio::time::timeout(limit, next.run(req)).await {
            Ok(res) => res,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = limit.as_millis() as u64,
                    "request timed out: answered 503 temporarily_unavailable"
                );
                g.count(Unavailable::Timeout);
                return shape.response();
            }
        },
    };
    if res.extensions().get::<Refused>().is_some() {
        g.count(Unavailable::Database);
    }
    res
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// A handler that never finishes meets this deadline: nothing here waits on the clock
    /// except the guard itself.
    const DEADLINE: Duration = Duration::from_millis(50);

    fn app(shape: Shape, metrics: &Arc<Metrics>) -> Router {
        let routes = Router::new()
            .route("/stuck", get(std::future::pending::<&'static str>))
            .route("/down", get(|| async { api() }))
            .route("/fine", get(|| async { "ok" }));
        Guard::new(DEADLINE, metrics.clone()).wrap(routes, shape)
    }

    async fn call(app: Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn counted(m: &Metrics, cause: &str) -> bool {
        let text = m.render(&Default::default());
        text.lines()
            .any(|l| l == format!("sigil_unavailable_total{{cause=\"{cause}\"}} 1"))
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_503_in_its_routes_shape_and_counted() {
        for (shape, needle) in [
            (Shape::OAuth, "\"error\":\"temporarily_unavailable\""),
            (Shape::Api, "\"code\":\"temporarily_unavailable\""),
            (Shape::Page, "temporarily unavailable"),
        ] {
            let m = Arc::new(Metrics::new(false));
            let (status, headers, body) = call(app(shape, &m), "/stuck").await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{shape:?}");
            assert_eq!(headers[header::RETRY_AFTER], "5", "{shape:?}");
            assert!(body.contains(needle), "{shape:?}: {body}");
            assert!(counted(&m, "timeout"), "{shape:?}");
        }
    }

    #[tokio::test]
    async fn an_outage_answered_by_a_handler_is_counted_and_other_answers_are_not() {
        let m = Arc::new(Metrics::new(false));
        let (status, headers, body) = call(app(Shape::Api, &m), "/down").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "5");
        assert!(body.contains(MESSAGE), "{body}");
        assert!(counted(&m, "database"));
        let (status, _, _) = call(app(Shape::Api, &m), "/fine").await;
        assert_eq!(status, StatusCode::OK);
        assert!(counted(&m, "database"), "still one");
        assert!(!counted(&m, "timeout"));
    }
}
