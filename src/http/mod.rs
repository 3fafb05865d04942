//! The HTTP layer: axum routers, extractors and error mapping only. Handlers are thin: they
//! authenticate, parse, call one domain function and shape the response.

pub mod admin;
pub mod apis;
pub mod apps;
pub mod auth;
pub mod browser;
pub mod client_grants;
pub mod client_ip;
pub mod dashboard;
mod dashboard_page;
pub mod error;
pub mod hooks;
pub mod legacy_store;
pub mod metrics;
pub mod oidc;
pub mod orgs;
pub mod pages;
pub mod params;
mod plain_words;
pub mod request_log;
pub mod roles;
pub mod serve;
pub mod templates;
pub mod unavailable;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;
use error::ApiError;

/// Largest JSON body the management API accepts (imports have their own, larger limit).
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sigil management API",
        description = "Manage a tenant's users, organizations, roles, applications and APIs. \
            Authenticate with `Authorization: Bearer sk_...`, or with a tenant administrator's \
            dashboard access token; every tenant lives under `/t/{tenant}/api/`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "users"), (name = "organizations"), (name = "roles"), (name = "applications"),
        (name = "apis", description = "Resource servers: the audiences of access tokens"),
        (name = "client-grants", description = "Which APIs (and scopes) a machine-to-machine application \
            may get tokens for with client credentials (see docs/machines.md)"),
        (name = "hooks", description = "Post-login hooks (WebAssembly), the flow, limits and traces"),
        (name = "jwt-templates", description = "Declarative custom claims (see docs/jwt-templates.md)"),
        (name = "legacy-store", description = "Users verified against a legacy system at their \
            first login and migrated (see docs/legacy-store.md)"),
        (name = "dashboard", description = "The dashboard's OIDC client and the tenant's \
            administrators, whose access tokens the API accepts (see docs/dashboard.md)"),
        (name = "api-keys"), (name = "audit"), (name = "tenants", description = "Operator keys only")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document of the management API, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    management(&unavailable::Guard::off()).split_for_parts().1
}

fn management(guard: &unavailable::Guard) -> OpenApiRouter<Services> {
    let timed = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(users::router())
        .merge(orgs::router())
        .merge(roles::router())
        .merge(dashboard::router())
        .merge(apps::router())
        .merge(apis::router())
        .merge(client_grants::router())
        .merge(admin::router())
        .merge(hooks::router())
        .merge(legacy_store::router())
        .merge(templates::router())
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let untimed = OpenApiRouter::new()
        .merge(users::import_router().layer(DefaultBodyLimit::max(users::IMPORT_LIMIT)))
        .merge(hooks::upload_router());
    guard
        .wrap_api(timed)
        .merge(guard.untimed().wrap_api(untimed))
}

/// The whole HTTP application. `metrics` says how `/metrics` answers here (see
/// [`metrics::router`] for the separate listener); a request to the protocol, page or
/// management routes still running after `request_timeout` is answered 503 (see
/// [`unavailable`]).
pub fn app(svc: Services, metrics: metrics::Exposure, request_timeout: Duration) -> Router {
    let guard = unavailable::Guard::new(request_timeout, svc.metrics.clone());
    let (router, doc) = management(&guard).split_for_parts();
    let doc = Arc::new(doc);
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(move |State(svc): State<Services>, headers: HeaderMap| {
                metrics::main_listener(svc, metrics.clone(), headers)
            }),
        )
        .merge(oidc::router(svc.clone(), &guard))
        .merge(guard.wrap(browser::router(), unavailable::Shape::Page))
        .merge(guard.wrap(dashboard_page::router(), unavailable::Shape::Page))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        // Layered after the routes, so the request log sees which route matched. From the
        // outside in: an unsafe incoming id is dropped, an id is set, the request is logged,
        // the id is copied to the response.
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_request(
                    request_log::drop_insane_request_id,
                ))
                .layer(SetRequestIdLayer::x_request_id(request_log::NewRequestId))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_log::RequestSpan)
                        .on_request(())
                        .on_response(request_log::LogResponse)
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(svc)
}

/// 200 when the node should get traffic, 503 otherwise; the body names each check's state
/// (see [`crate::health`]).
async fn readyz(State(svc): State<Services>) -> impl IntoResponse {
    let readiness = crate::health::check(&svc.db.store, &svc.health).await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
