//! `/t/{tenant}/api/hooks...`, the post-login flow, hook limits and traces.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query, RawBody};
use super::params::{IdPath, TenantPath};
use crate::manage::hooks::allow::{self, Allow};
use crate::manage::hooks::flow::{self, Flow};
use crate::manage::hooks::latency::{self, Latency};
use crate::manage::hooks::limits::{self, TenantLimits};
use crate::manage::hooks::secrets::{self, SecretValue};
use crate::manage::hooks::test_run::{self, TestRun};
use crate::manage::hooks::traces::{self, Trace, TraceQuery};
use crate::manage::hooks::versions;
use crate::manage::hooks::{Hook, Uploaded};
use crate::manage::{Page, PageParams};
use crate::services::Services;
use sigil_hooks::LimitOverrides;
use sigil_hooks::outcome::FlowOutcome;
use sigil_hooks::upload::MAX_UPLOAD_BYTES;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_hooks))
        .routes(routes!(get_hook, delete_hook))
        .routes(routes!(deploy))
        .routes(routes!(rollback))
        .routes(routes!(set_secret, delete_secret))
        .routes(routes!(set_limits))
        .routes(routes!(set_allow))
        .routes(routes!(test_version))
        .routes(routes!(get_flow, put_flow))
        .routes(routes!(get_tenant_limits, put_tenant_limits))
        .routes(routes!(list_traces))
        .routes(routes!(get_trace))
        .routes(routes!(trace_latency))
}

pub(super) fn upload_router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 1024))
}

/// `/t/{tenant}/api/hooks/{name}/versions`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct NamePath {
    /// Tenant name.
    tenant: String,
    /// Hook name.
    name: String,
}

/// `/t/{tenant}/api/hooks/{id}/secrets/{secret}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct SecretPath {
    /// Tenant name.
    tenant: String,
    /// Hook id or name.
    id: String,
    /// Secret name.
    secret: String,
}

/// `/t/{tenant}/api/hooks/{id}/versions/{version}/test`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct VersionPath {
    /// Tenant name.
    tenant: String,
    /// Hook id or name.
    id: String,
    /// Version number.
    version: i64,
}

/// Body of the deploy call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    /// The version to deploy.
    pub version: i64,
}

/// Upload a new immutable version of a hook (the request body is the `.wasm`: a component, or
/// the core module `cargo build --target wasm32-unknown-unknown` produces with the SDK). The
/// hook is created on its first upload. Validated, compiled and checked against the world
/// before anything is stored. Over the tenant's upload rate: `429` `rate_limited`; no compile
/// worker free within the queue limit: `503` `compile_busy`; both with `Retry-After`.
#[utoipa::path(post, path = "/t/{tenant}/api/hooks/{name}/versions", tag = "hooks", params(NamePath),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = Uploaded), (status = "4XX", body = ErrorBody),
        (status = 503, body = ErrorBody)), security(("api_key" = [])))]
async fn upload(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<NamePath>,
    RawBody(body): RawBody,
) -> Res<(StatusCode, Json<Uploaded>)> {
    let _ = &p.tenant;
    Ok((
        StatusCode::CREATED,
        Json(versions::upload(&svc.db, &svc.hooks, &auth.ctx, &p.name, &body).await?),
    ))
}

/// List hooks.
#[utoipa::path(get, path = "/t/{tenant}/api/hooks", tag = "hooks", params(TenantPath, PageParams),
    responses((status = 200, body = Page<Hook>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_hooks(
    State(svc): State<Services>,
    auth: Auth,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Hook>>> {
    Ok(Json(versions::list(&svc.db, &auth.ctx, &page).await?))
}

/// Get a hook (by id or name) with its versions and secret names.
#[utoipa::path(get, path = "/t/{tenant}/api/hooks/{id}", tag = "hooks", params(IdPath),
    responses((status = 200, body = Hook), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_hook(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Hook>> {
    Ok(Json(versions::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Delete a hook (refused with 409 `in_use` while the flow binds it).
#[utoipa::path(delete, path = "/t/{tenant}/api/hooks/{id}", tag = "hooks", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_hook(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    versions::delete(&svc.db, &svc.hooks, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deploy a version.
#[utoipa::path(post, path = "/t/{tenant}/api/hooks/{id}/deploy", tag = "hooks", params(IdPath), request_body = DeployBody,
    responses((status = 200, body = Hook), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn deploy(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(b): Body<DeployBody>,
) -> Res<Json<Hook>> {
    Ok(Json(
        versions::deploy(&svc.db, &svc.hooks, &auth.ctx, &p.id, b.version).await?,
    ))
}

/// Deploy the version before the deployed one.
#[utoipa::path(post, path = "/t/{tenant}/api/hooks/{id}/rollback", tag = "hooks", params(IdPath),
    responses((status = 200, body = Hook), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn rollback(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Hook>> {
    Ok(Json(
        versions::rollback(&svc.db, &svc.hooks, &auth.ctx, &p.id).await?,
    ))
}

/// Set a secret (write-only; encrypted at rest; the hook reads it from its event).
#[utoipa::path(put, path = "/t/{tenant}/api/hooks/{id}/secrets/{secret}", tag = "hooks", params(SecretPath), request_body = SecretValue,
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn set_secret(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<SecretPath>,
    Body(b): Body<SecretValue>,
) -> Res<StatusCode> {
    let _ = &p.tenant;
    secrets::set_secret(&svc.db, &svc.hooks, &auth.ctx, &p.id, &p.secret, &b.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a secret.
#[utoipa::path(delete, path = "/t/{tenant}/api/hooks/{id}/secrets/{secret}", tag = "hooks", params(SecretPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_secret(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<SecretPath>,
) -> Res<StatusCode> {
    secrets::delete_secret(&svc.db, &svc.hooks, &auth.ctx, &p.id, &p.secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set this hook's limits (they can only lower the tenant's).
#[utoipa::path(put, path = "/t/{tenant}/api/hooks/{id}/limits", tag = "hooks", params(IdPath), request_body = LimitOverrides,
    responses((status = 200, body = Hook), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn set_limits(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(b): Body<LimitOverrides>,
) -> Res<Json<Hook>> {
    Ok(Json(
        limits::set_hook_limits(&svc.db, &svc.hooks, &auth.ctx, &p.id, b).await?,
    ))
}

/// Replace this hook's fetch allow-list (contract 0.2.0): hosts (exact or `*.example.com`),
/// optional path prefixes and methods. Anything else the hook requests is denied, naming the
/// rule; an empty list allows nothing.
#[utoipa::path(put, path = "/t/{tenant}/api/hooks/{id}/allow", tag = "hooks", params(IdPath), request_body = Allow,
    responses((status = 200, body = Hook), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn set_allow(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(b): Body<Allow>,
) -> Res<Json<Hook>> {
    Ok(Json(
        allow::set_allow(&svc.db, &svc.hooks, &auth.ctx, &p.id, b).await?,
    ))
}

/// Run a version against an event with the production runtime, without logging in: returns the
/// claims, scopes, denial, metadata writes (not applied), logs, duration and fuel.
#[utoipa::path(post, path = "/t/{tenant}/api/hooks/{id}/versions/{version}/test", tag = "hooks", params(VersionPath), request_body = TestRun,
    responses((status = 200, body = FlowOutcome), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn test_version(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<VersionPath>,
    Body(b): Body<TestRun>,
) -> Res<Json<FlowOutcome>> {
    let _ = &p.tenant;
    Ok(Json(
        test_run::test(&svc.db, &svc.hooks, &auth.ctx, &p.id, p.version, b.event).await?,
    ))
}

/// The post-login flow.
#[utoipa::path(get, path = "/t/{tenant}/api/flows/post-login", tag = "hooks", params(TenantPath),
    responses((status = 200, body = Flow), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_flow(State(svc): State<Services>, auth: Auth) -> Res<Json<Flow>> {
    Ok(Json(flow::flow(&svc.db, &auth.ctx).await?))
}

/// Replace the post-login flow (at most 20 bindings), atomically.
#[utoipa::path(put, path = "/t/{tenant}/api/flows/post-login", tag = "hooks", params(TenantPath), request_body = Flow,
    responses((status = 200, body = Flow), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn put_flow(State(svc): State<Services>, auth: Auth, Body(b): Body<Flow>) -> Res<Json<Flow>> {
    Ok(Json(
        flow::set_flow(&svc.db, &svc.hooks, &auth.ctx, b).await?,
    ))
}

/// The tenant's hook limits (overrides, ceilings, effective).
#[utoipa::path(get, path = "/t/{tenant}/api/hook-limits", tag = "hooks", params(TenantPath),
    responses((status = 200, body = TenantLimits), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_tenant_limits(State(svc): State<Services>, auth: Auth) -> Res<Json<TenantLimits>> {
    Ok(Json(
        limits::tenant_limits(&svc.db, &svc.hooks, &auth.ctx).await?,
    ))
}

/// Lower the tenant's hook limits below the operator's ceilings.
#[utoipa::path(put, path = "/t/{tenant}/api/hook-limits", tag = "hooks", params(TenantPath), request_body = LimitOverrides,
    responses((status = 200, body = TenantLimits), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn put_tenant_limits(
    State(svc): State<Services>,
    auth: Auth,
    Body(b): Body<LimitOverrides>,
) -> Res<Json<TenantLimits>> {
    Ok(Json(
        limits::set_tenant_limits(&svc.db, &svc.hooks, &auth.ctx, b).await?,
    ))
}

/// Execution traces, newest first (the newest 1000 are kept), filtered by user, application,
/// status and hook.
#[utoipa::path(get, path = "/t/{tenant}/api/hook-traces", tag = "hooks", params(TenantPath, TraceQuery, PageParams),
    responses((status = 200, body = Page<Trace>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_traces(
    State(svc): State<Services>,
    auth: Auth,
    Query(query): Query<TraceQuery>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Trace>>> {
    Ok(Json(
        traces::traces(&svc.db, &svc.hooks, &auth.ctx, &query, &page).await?,
    ))
}

/// One trace.
#[utoipa::path(get, path = "/t/{tenant}/api/hook-traces/{id}", tag = "hooks", params(IdPath),
    responses((status = 200, body = Trace), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_trace(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Trace>> {
    Ok(Json(
        traces::trace(&svc.db, &svc.hooks, &auth.ctx, &p.id).await?,
    ))
}

/// Per-hook latency (p50, p99, max) and the flows' outcomes over time, computed from the
/// stored traces the filters match (the same filters as the list).
#[utoipa::path(get, path = "/t/{tenant}/api/hook-traces/latency", tag = "hooks", params(TenantPath, TraceQuery),
    responses((status = 200, body = Latency), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn trace_latency(
    State(svc): State<Services>,
    auth: Auth,
    Query(query): Query<TraceQuery>,
) -> Res<Json<Latency>> {
    Ok(Json(
        latency::latency(&svc.db, &svc.hooks, &auth.ctx, &query).await?,
    ))
}
