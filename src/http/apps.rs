//! `/t/{tenant}/api/applications...`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{IdPath, TenantPath};
use crate::manage::apps::{
    self, Application, ApplicationCreated, CreateApp, RotatedSecret, UpdateApp,
};
use crate::manage::users::MetadataOp;
use crate::manage::{NameFilter, Page, PageParams};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(get_app, update_app, delete_app))
        .routes(routes!(rotate_secret))
        .routes(routes!(merge_metadata, replace_metadata))
}

/// List applications.
#[utoipa::path(get, path = "/t/{tenant}/api/applications", tag = "applications", params(TenantPath, NameFilter, PageParams),
    responses((status = 200, body = Page<Application>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_apps(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<NameFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Application>>> {
    Ok(Json(apps::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// Register an application. A confidential one's `client_secret` is in this response only.
#[utoipa::path(post, path = "/t/{tenant}/api/applications", tag = "applications", params(TenantPath), request_body = CreateApp,
    responses((status = 201, body = ApplicationCreated), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_app(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateApp>,
) -> Res<(StatusCode, Json<ApplicationCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(apps::create(&svc.db, &svc.secrets, &auth.ctx, input).await?),
    ))
}

/// Get an application by `client_id`.
#[utoipa::path(get, path = "/t/{tenant}/api/applications/{id}", tag = "applications", params(IdPath),
    responses((status = 200, body = Application), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_app(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Application>> {
    Ok(Json(apps::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Update an application (`client_metadata` merges; lists replace).
#[utoipa::path(patch, path = "/t/{tenant}/api/applications/{id}", tag = "applications", params(IdPath), request_body = UpdateApp,
    responses((status = 200, body = Application), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_app(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateApp>,
) -> Res<Json<Application>> {
    Ok(Json(apps::update(&svc.db, &auth.ctx, &p.id, input).await?))
}

/// Delete an application.
#[utoipa::path(delete, path = "/t/{tenant}/api/applications/{id}", tag = "applications", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_app(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    apps::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a confidential application's secret; the new one is shown once.
#[utoipa::path(post, path = "/t/{tenant}/api/applications/{id}/rotate-secret", tag = "applications", params(IdPath),
    responses((status = 200, body = RotatedSecret), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn rotate_secret(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<RotatedSecret>> {
    Ok(Json(
        apps::rotate_secret(&svc.db, &svc.secrets, &auth.ctx, &p.id).await?,
    ))
}

/// Merge into `client_metadata`.
#[utoipa::path(patch, path = "/t/{tenant}/api/applications/{id}/client_metadata", tag = "applications", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn merge_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    Ok(Json(
        apps::write_metadata(&svc.db, &auth.ctx, &p.id, MetadataOp::Merge, patch).await?,
    ))
}

/// Replace `client_metadata`.
#[utoipa::path(put, path = "/t/{tenant}/api/applications/{id}/client_metadata", tag = "applications", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn replace_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    Ok(Json(
        apps::write_metadata(&svc.db, &auth.ctx, &p.id, MetadataOp::Replace, patch).await?,
    ))
}
