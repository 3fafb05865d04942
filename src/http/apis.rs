//! `/t/{tenant}/api/apis...` (resource servers)

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{IdPath, TenantPath};
use crate::manage::apis::{self, Api, CreateApi, UpdateApi};
use crate::manage::{NameFilter, Page, PageParams};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_apis, create_api))
        .routes(routes!(get_api, update_api, delete_api))
}

/// List APIs.
#[utoipa::path(get, path = "/t/{tenant}/api/apis", tag = "apis", params(TenantPath, NameFilter, PageParams),
    responses((status = 200, body = Page<Api>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_apis(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<NameFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Api>>> {
    Ok(Json(apis::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// Create an API.
#[utoipa::path(post, path = "/t/{tenant}/api/apis", tag = "apis", params(TenantPath), request_body = CreateApi,
    responses((status = 201, body = Api), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_api(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateApi>,
) -> Res<(StatusCode, Json<Api>)> {
    Ok((
        StatusCode::CREATED,
        Json(apis::create(&svc.db, &auth.ctx, input).await?),
    ))
}

/// Get an API.
#[utoipa::path(get, path = "/t/{tenant}/api/apis/{id}", tag = "apis", params(IdPath),
    responses((status = 200, body = Api), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_api(State(svc): State<Services>, auth: Auth, Path(p): Path<IdPath>) -> Res<Json<Api>> {
    Ok(Json(apis::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Update an API (name, scopes; the identifier is fixed).
#[utoipa::path(patch, path = "/t/{tenant}/api/apis/{id}", tag = "apis", params(IdPath), request_body = UpdateApi,
    responses((status = 200, body = Api), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_api(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateApi>,
) -> Res<Json<Api>> {
    Ok(Json(apis::update(&svc.db, &auth.ctx, &p.id, input).await?))
}

/// Delete an API.
#[utoipa::path(delete, path = "/t/{tenant}/api/apis/{id}", tag = "apis", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_api(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    apis::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
