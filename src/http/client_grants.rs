//! `/t/{tenant}/api/client-grants...`: which APIs a machine-to-machine application may get
//! tokens for (client credentials, RFC 6749 4.4), and with which scopes.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody};
use super::params::{IdPath, TenantPath};
use crate::manage::client_grants::{
    self, ClientGrant, ClientGrantFilter, CreateClientGrant, UpdateClientGrant,
};
use crate::manage::{Page, PageParams};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_client_grants, create_client_grant))
        .routes(routes!(
            get_client_grant,
            update_client_grant,
            delete_client_grant
        ))
}

/// List client grants (filter by `client_id` and/or `audience`).
#[utoipa::path(get, path = "/t/{tenant}/api/client-grants", tag = "client-grants",
    params(TenantPath, ClientGrantFilter, PageParams),
    responses((status = 200, body = Page<ClientGrant>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_client_grants(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<ClientGrantFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<ClientGrant>>> {
    Ok(Json(
        client_grants::list(&svc.db, &auth.ctx, &filter, &page).await?,
    ))
}

/// Grant a confidential application access to an API, with some of its scopes (one grant per
/// application and API: a second is 409).
#[utoipa::path(post, path = "/t/{tenant}/api/client-grants", tag = "client-grants", params(TenantPath),
    request_body = CreateClientGrant,
    responses((status = 201, body = ClientGrant), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_client_grant(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateClientGrant>,
) -> Res<(StatusCode, Json<ClientGrant>)> {
    Ok((
        StatusCode::CREATED,
        Json(client_grants::create(&svc.db, &auth.ctx, input).await?),
    ))
}

/// Get a client grant.
#[utoipa::path(get, path = "/t/{tenant}/api/client-grants/{id}", tag = "client-grants", params(IdPath),
    responses((status = 200, body = ClientGrant), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_client_grant(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<ClientGrant>> {
    Ok(Json(client_grants::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Replace a client grant's scopes.
#[utoipa::path(patch, path = "/t/{tenant}/api/client-grants/{id}", tag = "client-grants", params(IdPath),
    request_body = UpdateClientGrant,
    responses((status = 200, body = ClientGrant), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_client_grant(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateClientGrant>,
) -> Res<Json<ClientGrant>> {
    Ok(Json(
        client_grants::update(&svc.db, &auth.ctx, &p.id, input).await?,
    ))
}

/// Delete a client grant: the application gets no new token for that API.
#[utoipa::path(delete, path = "/t/{tenant}/api/client-grants/{id}", tag = "client-grants", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_client_grant(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    client_grants::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
