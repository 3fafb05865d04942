//! `/metrics`, the Prometheus exposition, which is never public: counts of failed logins and
//! hook failures are reconnaissance for an attacker. Either it is served on a listener of its
//! own (`--metrics-listen`, meant for a private interface, so no authentication there), or the
//! main listener asks for `Authorization: Bearer <SIGIL_METRICS_TOKEN>`; with neither
//! configured it answers 404 like any unknown path.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use crate::crypto::{Secret, constant_time_eq};
use crate::metrics::{CONTENT_TYPE, Sampled};
use crate::services::Services;

/// How `/metrics` on the main listener answers.
#[derive(Debug, Clone, Default)]
pub enum Exposure {
    /// Not configured: 404.
    #[default]
    Off,
    /// With the right bearer token: the metrics; without it or with another: 401.
    Token(Arc<Secret>),
    /// Served on the separate metrics listener instead: 404 here.
    Elsewhere,
}

/// `/metrics` on the main listener, as `exposure` says.
pub(super) async fn main_listener(
    svc: Services,
    exposure: Exposure,
    headers: HeaderMap,
) -> Response {
    let Exposure::Token(token) = exposure else {
        return not_found().into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    // Constant time: the token is the only thing between the network and the counters.
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), token.expose().as_bytes()) => render(&svc),
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the metrics token is required: Authorization: Bearer <SIGIL_METRICS_TOKEN>",
        )
        .into_response(),
    }
}

/// The separate metrics listener: `/metrics` with no authentication, and nothing else.
pub fn router(svc: Services) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(svc): State<Services>| async move { render(&svc) }),
        )
        .fallback(|| async { not_found() })
        .with_state(svc)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The exposition, with the values read at scrape time: the database pool and the compile
/// queue.
fn render(svc: &Services) -> Response {
    let pool = svc.db.store.pool_usage();
    let gate = &svc.hooks.compile_gate;
    let sampled = Sampled {
        db_connections: pool.open,
        db_idle: pool.idle,
        db_max: pool.max,
        compiles_running: gate.running(),
        compiles_waiting: gate.waiting(),
    };
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        svc.metrics.render(&sampled),
    )
        .into_response()
}
