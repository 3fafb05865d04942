//! Tenants (operator keys), API keys and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Auth, Operator};
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{IdPath, TenantNamePath, TenantPath};
use crate::manage::api_keys::{self, ApiKey, ApiKeyCreated, CreateApiKey};
use crate::manage::audit::{self, AuditEntry, AuditFilter};
use crate::manage::signing_keys::{self, Rotate, SigningKeyView};
use crate::manage::tenants::{self, CreateTenant, Tenant, TenantCreated};
use crate::manage::{Page, PageParams};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, delete_tenant))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(list_audit))
        .routes(routes!(list_signing_keys))
        .routes(routes!(rotate_signing_keys))
}

/// List tenants (operator keys only).
#[utoipa::path(get, path = "/api/tenants", tag = "tenants", params(PageParams),
    responses((status = 200, body = Page<Tenant>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_tenants(
    State(svc): State<Services>,
    _op: Operator,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Tenant>>> {
    Ok(Json(tenants::list(&svc.db, &svc.issuers, &page).await?))
}

/// Create a tenant; the response holds its first API key, shown once.
#[utoipa::path(post, path = "/api/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = TenantCreated), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_tenant(
    State(svc): State<Services>,
    Operator(op): Operator,
    Body(input): Body<CreateTenant>,
) -> Res<(StatusCode, Json<TenantCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(tenants::create(&svc.db, &svc.secrets, &svc.issuers, &op.key_id, input).await?),
    ))
}

/// Get a tenant.
#[utoipa::path(get, path = "/api/tenants/{name}", tag = "tenants", params(TenantNamePath),
    responses((status = 200, body = Tenant), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_tenant(
    State(svc): State<Services>,
    _op: Operator,
    Path(p): Path<TenantNamePath>,
) -> Res<Json<Tenant>> {
    Ok(Json(tenants::get(&svc.db, &svc.issuers, &p.name).await?))
}

/// Delete a tenant and everything in it.
#[utoipa::path(delete, path = "/api/tenants/{name}", tag = "tenants", params(TenantNamePath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_tenant(
    State(svc): State<Services>,
    _op: Operator,
    Path(p): Path<TenantNamePath>,
) -> Res<StatusCode> {
    tenants::delete(&svc.db, &p.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the tenant's API keys (never the keys themselves).
#[utoipa::path(get, path = "/t/{tenant}/api/api-keys", tag = "api-keys", params(TenantPath, PageParams),
    responses((status = 200, body = Page<ApiKey>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_keys(
    State(svc): State<Services>,
    auth: Auth,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<ApiKey>>> {
    Ok(Json(api_keys::list(&svc.db, &auth.ctx, &page).await?))
}

/// Create an API key; the key is in this response only.
#[utoipa::path(post, path = "/t/{tenant}/api/api-keys", tag = "api-keys", params(TenantPath), request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyCreated), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_key(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateApiKey>,
) -> Res<(StatusCode, Json<ApiKeyCreated>)> {
    let key = api_keys::create(
        &svc.db,
        &svc.secrets,
        &auth.ctx,
        auth.caller.operator,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/t/{tenant}/api/api-keys/{id}", tag = "api-keys", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn revoke_key(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    api_keys::revoke(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's audit log, newest first.
#[utoipa::path(get, path = "/t/{tenant}/api/audit-log", tag = "audit", params(TenantPath, AuditFilter, PageParams),
    responses((status = 200, body = Page<AuditEntry>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_audit(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<AuditFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<AuditEntry>>> {
    Ok(Json(audit::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// The tenant's published signing keys (next, current, previous).
#[utoipa::path(get, path = "/t/{tenant}/api/signing-keys", tag = "signing-keys", params(TenantPath),
    responses((status = 200, body = Vec<SigningKeyView>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_signing_keys(
    State(svc): State<Services>,
    auth: Auth,
) -> Res<Json<Vec<SigningKeyView>>> {
    Ok(Json(
        signing_keys::list(&svc.db, &svc.keys, &auth.ctx).await?,
    ))
}

/// Rotate the keys of one algorithm: next becomes current, current stays published as
/// previous, a new next is published. Tokens signed before keep verifying.
#[utoipa::path(post, path = "/t/{tenant}/api/signing-keys/rotate", tag = "signing-keys", params(TenantPath), request_body = Rotate,
    responses((status = 200, body = Vec<SigningKeyView>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn rotate_signing_keys(
    State(svc): State<Services>,
    auth: Auth,
    Body(b): Body<Rotate>,
) -> Res<Json<Vec<SigningKeyView>>> {
    Ok(Json(
        signing_keys::rotate(&svc.db, &svc.keys, &auth.ctx, b).await?,
    ))
}
