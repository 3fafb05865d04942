//! `/t/{tenant}/api/roles...`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{IdPath, TenantPath};
use crate::manage::roles::{self, CreateRole, Role, UpdateRole};
use crate::manage::{NameFilter, Page, PageParams};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

/// List roles.
#[utoipa::path(get, path = "/t/{tenant}/api/roles", tag = "roles", params(TenantPath, NameFilter, PageParams),
    responses((status = 200, body = Page<Role>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_roles(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<NameFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Role>>> {
    Ok(Json(roles::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// Create a role.
#[utoipa::path(post, path = "/t/{tenant}/api/roles", tag = "roles", params(TenantPath), request_body = CreateRole,
    responses((status = 201, body = Role), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_role(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateRole>,
) -> Res<(StatusCode, Json<Role>)> {
    Ok((
        StatusCode::CREATED,
        Json(roles::create(&svc.db, &auth.ctx, input).await?),
    ))
}

/// Get a role.
#[utoipa::path(get, path = "/t/{tenant}/api/roles/{id}", tag = "roles", params(IdPath),
    responses((status = 200, body = Role), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_role(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Role>> {
    Ok(Json(roles::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Update a role's description or permissions.
#[utoipa::path(patch, path = "/t/{tenant}/api/roles/{id}", tag = "roles", params(IdPath), request_body = UpdateRole,
    responses((status = 200, body = Role), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_role(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateRole>,
) -> Res<Json<Role>> {
    Ok(Json(roles::update(&svc.db, &auth.ctx, &p.id, input).await?))
}

/// Delete a role (it is removed from every user and membership).
#[utoipa::path(delete, path = "/t/{tenant}/api/roles/{id}", tag = "roles", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_role(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    roles::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
