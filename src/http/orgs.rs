//! `/t/{tenant}/api/organizations...`

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query};
use super::params::{ExternalIdPath, IdPath, MemberPath, TenantPath};
use crate::manage::orgs::{
    self, AddMember, CreateOrg, Membership, OrgFilter, Organization, UpdateMember, UpdateOrg,
};
use crate::manage::users::MetadataOp;
use crate::manage::{Page, PageParams};
use crate::services::Services;
use crate::store::orgs::Members;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org, delete_org))
        .routes(routes!(get_org_by_external_id))
        .routes(routes!(merge_metadata, replace_metadata))
        .routes(routes!(list_members, add_member))
        .routes(routes!(get_member, update_member, remove_member))
}

/// List organizations (filter by `external_id` or `name`).
#[utoipa::path(get, path = "/t/{tenant}/api/organizations", tag = "organizations", params(TenantPath, OrgFilter, PageParams),
    responses((status = 200, body = Page<Organization>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_orgs(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<OrgFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Organization>>> {
    Ok(Json(orgs::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// Create an organization.
#[utoipa::path(post, path = "/t/{tenant}/api/organizations", tag = "organizations", params(TenantPath), request_body = CreateOrg,
    responses((status = 201, body = Organization), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_org(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateOrg>,
) -> Res<(StatusCode, Json<Organization>)> {
    Ok((
        StatusCode::CREATED,
        Json(orgs::create(&svc.db, &auth.ctx, input).await?),
    ))
}

/// Get an organization.
#[utoipa::path(get, path = "/t/{tenant}/api/organizations/{id}", tag = "organizations", params(IdPath),
    responses((status = 200, body = Organization), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_org(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Organization>> {
    Ok(Json(orgs::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Get an organization by the customer's external id.
#[utoipa::path(get, path = "/t/{tenant}/api/organizations/by-external-id/{external_id}", tag = "organizations", params(ExternalIdPath),
    responses((status = 200, body = Organization), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_org_by_external_id(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<ExternalIdPath>,
) -> Res<Json<Organization>> {
    Ok(Json(
        orgs::get_by_external_id(&svc.db, &auth.ctx, &p.external_id).await?,
    ))
}

/// Update an organization (`metadata` merges).
#[utoipa::path(patch, path = "/t/{tenant}/api/organizations/{id}", tag = "organizations", params(IdPath), request_body = UpdateOrg,
    responses((status = 200, body = Organization), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_org(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateOrg>,
) -> Res<Json<Organization>> {
    Ok(Json(orgs::update(&svc.db, &auth.ctx, &p.id, input).await?))
}

/// Delete an organization and its memberships.
#[utoipa::path(delete, path = "/t/{tenant}/api/organizations/{id}", tag = "organizations", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_org(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    orgs::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Merge into the organization's `metadata`.
#[utoipa::path(patch, path = "/t/{tenant}/api/organizations/{id}/metadata", tag = "organizations", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn merge_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    Ok(Json(
        orgs::write_metadata(&svc.db, &auth.ctx, &p.id, MetadataOp::Merge, patch).await?,
    ))
}

/// Replace the organization's `metadata`.
#[utoipa::path(put, path = "/t/{tenant}/api/organizations/{id}/metadata", tag = "organizations", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn replace_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    Ok(Json(
        orgs::write_metadata(&svc.db, &auth.ctx, &p.id, MetadataOp::Replace, patch).await?,
    ))
}

/// List members with their roles.
#[utoipa::path(get, path = "/t/{tenant}/api/organizations/{id}/members", tag = "organizations", params(IdPath, PageParams),
    responses((status = 200, body = Page<Membership>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_members(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Membership>>> {
    Ok(Json(
        orgs::memberships(&svc.db, &auth.ctx, Members::OfOrg(&p.id), &page).await?,
    ))
}

/// Add a member, with roles for this organization.
#[utoipa::path(post, path = "/t/{tenant}/api/organizations/{id}/members", tag = "organizations", params(IdPath), request_body = AddMember,
    responses((status = 201, body = Membership), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn add_member(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<AddMember>,
) -> Res<(StatusCode, Json<Membership>)> {
    Ok((
        StatusCode::CREATED,
        Json(orgs::add_member(&svc.db, &auth.ctx, &p.id, input).await?),
    ))
}

/// Get one membership.
#[utoipa::path(get, path = "/t/{tenant}/api/organizations/{id}/members/{user_id}", tag = "organizations", params(MemberPath),
    responses((status = 200, body = Membership), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_member(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<MemberPath>,
) -> Res<Json<Membership>> {
    Ok(Json(
        orgs::member(&svc.db, &auth.ctx, &p.id, &p.user_id).await?,
    ))
}

/// Replace a member's roles.
#[utoipa::path(put, path = "/t/{tenant}/api/organizations/{id}/members/{user_id}", tag = "organizations", params(MemberPath),
    request_body = UpdateMember, responses((status = 200, body = Membership), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_member(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<MemberPath>,
    Body(input): Body<UpdateMember>,
) -> Res<Json<Membership>> {
    Ok(Json(
        orgs::update_member(&svc.db, &auth.ctx, &p.id, &p.user_id, input).await?,
    ))
}

/// Remove a member.
#[utoipa::path(delete, path = "/t/{tenant}/api/organizations/{id}/members/{user_id}", tag = "organizations", params(MemberPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn remove_member(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<MemberPath>,
) -> Res<StatusCode> {
    orgs::remove_member(&svc.db, &auth.ctx, &p.id, &p.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
