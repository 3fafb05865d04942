//! `/t/{tenant}/api/jwt-templates...` and `/t/{tenant}/api/applications/{id}/jwt-templates...`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{IdPath, TenantPath};
use crate::manage::metadata_keys::{self, KeyQuery, MetadataKeys};
use crate::manage::templates::{self, Preview, PreviewInput, Templates, TokenKind};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(get_tenant_templates))
        .routes(routes!(put_tenant_template, delete_tenant_template))
        .routes(routes!(preview))
        .routes(routes!(metadata_keys))
        .routes(routes!(get_app_templates))
        .routes(routes!(put_app_template, delete_app_template))
}

/// `/t/{tenant}/api/jwt-templates/{token}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct TokenPath {
    /// Tenant name.
    tenant: String,
    /// `access_token` or `id_token`.
    token: String,
}

/// `/t/{tenant}/api/applications/{id}/jwt-templates/{token}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct AppTokenPath {
    /// Tenant name.
    tenant: String,
    /// The application's client_id.
    id: String,
    /// `access_token` or `id_token`.
    token: String,
}

/// The tenant's JWT templates (defaults for every application).
#[utoipa::path(get, path = "/t/{tenant}/api/jwt-templates", tag = "jwt-templates", params(TenantPath),
    responses((status = 200, body = Templates), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_tenant_templates(State(svc): State<Services>, auth: Auth) -> Res<Json<Templates>> {
    Ok(Json(templates::get(&svc.db, &auth.ctx, None).await?))
}

/// Save the tenant's template for one token. Invalid templates are refused with
/// `invalid_template` and every error's JSON pointer and offset; nothing changes.
#[utoipa::path(put, path = "/t/{tenant}/api/jwt-templates/{token}", tag = "jwt-templates", params(TokenPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn put_tenant_template(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<TokenPath>,
    Body(t): Body<Value>,
) -> Res<Json<Value>> {
    let _ = p.tenant;
    let kind = TokenKind::parse(&p.token)?;
    Ok(Json(
        templates::set(&svc.db, &svc.templates, &auth.ctx, None, kind, t).await?,
    ))
}

/// Delete the tenant's template for one token.
#[utoipa::path(delete, path = "/t/{tenant}/api/jwt-templates/{token}", tag = "jwt-templates", params(TokenPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_tenant_template(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<TokenPath>,
) -> Res<StatusCode> {
    let kind = TokenKind::parse(&p.token)?;
    templates::delete(&svc.db, &svc.templates, &auth.ctx, None, kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Render templates without issuing a token: a given (unsaved) template or the saved ones,
/// against a user (+ organization, client), an event, or the sample event.
#[utoipa::path(post, path = "/t/{tenant}/api/jwt-templates/preview", tag = "jwt-templates", params(TenantPath),
    request_body = PreviewInput, responses((status = 200, body = Preview), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn preview(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<PreviewInput>,
) -> Res<Json<Preview>> {
    Ok(Json(
        templates::preview(&svc.db, &svc.templates, &auth.ctx, input).await?,
    ))
}

/// An application's template overrides.
#[utoipa::path(get, path = "/t/{tenant}/api/applications/{id}/jwt-templates", tag = "jwt-templates", params(IdPath),
    responses((status = 200, body = Templates), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_app_templates(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Templates>> {
    Ok(Json(templates::get(&svc.db, &auth.ctx, Some(&p.id)).await?))
}

/// Override the tenant's template for one application and token.
#[utoipa::path(put, path = "/t/{tenant}/api/applications/{id}/jwt-templates/{token}", tag = "jwt-templates", params(AppTokenPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn put_app_template(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<AppTokenPath>,
    Body(t): Body<Value>,
) -> Res<Json<Value>> {
    let _ = p.tenant;
    let kind = TokenKind::parse(&p.token)?;
    Ok(Json(
        templates::set(&svc.db, &svc.templates, &auth.ctx, Some(&p.id), kind, t).await?,
    ))
}

/// Remove an application's override (the tenant's template applies again).
#[utoipa::path(delete, path = "/t/{tenant}/api/applications/{id}/jwt-templates/{token}", tag = "jwt-templates", params(AppTokenPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_app_template(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<AppTokenPath>,
) -> Res<StatusCode> {
    let kind = TokenKind::parse(&p.token)?;
    templates::delete(&svc.db, &svc.templates, &auth.ctx, Some(&p.id), kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The metadata key paths this tenant's users, organizations and applications have been given,
/// as template paths (what the template editor offers inside `{{ }}`).
#[utoipa::path(get, path = "/t/{tenant}/api/metadata-keys", tag = "jwt-templates", params(TenantPath, KeyQuery),
    responses((status = 200, body = MetadataKeys), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn metadata_keys(
    State(svc): State<Services>,
    auth: Auth,
    Query(q): Query<KeyQuery>,
) -> Res<Json<MetadataKeys>> {
    Ok(Json(metadata_keys::list(&svc.db, &auth.ctx, &q).await?))
}
