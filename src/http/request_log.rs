//! The request log: one line per request at INFO, target `sigil::request`, with the method,
//! the route template (`/t/{tenant}/oauth/token`; `unmatched` for the fallback), the status,
//! the latency in milliseconds, the tenant named in the path and the request id.
//!
//! The raw URI is never logged, nor any header or body: authorization codes, tokens and
//! `state` travel in query strings, credentials in headers and bodies. The route template
//! says which endpoint was called without any of that.
//!
//! The request id is the caller's `x-request-id` when it is a short token of safe characters
//! (a proxy's or a client's id, so their logs and ours line up), otherwise a fresh random one;
//! it is echoed in the response's `x-request-id`. Every line logged while the request is
//! served (a security event, a 500's cause) carries it too, through the request's span.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Response};
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::trace::{MakeSpan, OnResponse};
use tracing::Span;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The longest incoming request id kept.
const MAX_ID_LEN: usize = 64;

/// Whether an incoming request id (or a tenant name from the path) is safe to log as it is:
/// a short token of letters, digits, `-`, `_` and `.`. Anything else could forge log lines
/// or carry data nobody meant to log.
fn sane(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Removes an incoming `x-request-id` that is not [`sane`], so a fresh one replaces it.
pub async fn drop_insane_request_id(mut req: Request) -> Request {
    let keep = {
        let mut ids = req.headers().get_all(REQUEST_ID).iter();
        match (ids.next(), ids.next()) {
            (Some(id), None) => sane(id.as_bytes()),
            (None, None) => true,
            // Two ids: which would be the request's? Neither.
            _ => false,
        }
    };
    if !keep {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Makes request ids: 64 random bits in hex. No counter shared between requests, so no
/// global state, and ids from several nodes do not collide in practice.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The request's span: what is known before the handler runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &axum::http::Request<B>) -> Span {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED, MatchedPath::as_str);
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!(
            target: "sigil::request",
            "request",
            method = %req.method(),
            route,
            tenant = tenant(route, req.uri().path()),
            request_id,
        )
    }
}

/// The tenant a request names: the path segment the route's `{tenant}` matched.
fn tenant<'a>(route: &str, path: &'a str) -> Option<&'a str> {
    if route != "/t/{tenant}" && !route.starts_with("/t/{tenant}/") {
        return None;
    }
    path.split('/').nth(2).filter(|t| sane(t.as_bytes()))
}

/// The log line, written when the response head is ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, res: &Response<B>, latency: Duration, _span: &Span) {
        // tower-http calls this inside the request's span, so the line carries its fields.
        tracing::info!(
            target: "sigil::request",
            status = res.status().as_u16(),
            // Microsecond precision is plenty, and keeps the number short.
            latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_tokens_are_kept_as_request_ids() {
        assert!(sane(b"4bf92f3577b34da6-a3ce929d0e0e4736"));
        assert!(sane(b"req_1.2"));
        for bad in [
            &b""[..],
            b"a b",
            b"x\ny",
            b"{\"json\":1}",
            &[b'a'; MAX_ID_LEN + 1],
        ] {
            assert!(!sane(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_tenant_comes_from_tenant_routes_only() {
        assert_eq!(
            tenant("/t/{tenant}/oauth/token", "/t/acme/oauth/token"),
            Some("acme")
        );
        assert_eq!(tenant("/t/{tenant}", "/t/acme"), Some("acme"));
        assert_eq!(tenant("/api/tenants", "/api/tenants"), None);
        assert_eq!(tenant(UNMATCHED, "/t/acme/nothing"), None);
        assert_eq!(tenant("/t/{tenant}/userinfo", "/t/a%0Ab/userinfo"), None);
    }
}
