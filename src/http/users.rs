//! `/t/{tenant}/api/users...`

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody, Query, parse};
use super::params::{ExternalIdPath, IdPath, RolePath, TenantPath};
use crate::manage::import::{ImportMode, ImportReport, import_lines};
use crate::manage::orgs::{self, Membership};
use crate::manage::users::{
    self, CreateUser, LiftLock, LockStatus, MetadataKind, MetadataOp, RoleNames, RoleOp,
    SetPassword, UpdateUser, User, UserFilter,
};
use crate::manage::{Page, PageParams};
use crate::services::Services;
use crate::store::orgs::Members;

type Res<T> = Result<T, ApiError>;

/// Largest import body: about ten thousand users.
pub const IMPORT_LIMIT: usize = 10 * 1024 * 1024;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(get_user_by_external_id))
        .routes(routes!(set_password))
        .routes(routes!(revoke_sessions))
        .routes(routes!(get_lock, lift_lock))
        .routes(routes!(merge_user_metadata, replace_user_metadata))
        .routes(routes!(merge_app_metadata, replace_app_metadata))
        .routes(routes!(get_roles, add_roles, set_roles))
        .routes(routes!(remove_role))
        .routes(routes!(user_organizations))
}

pub(super) fn import_router() -> OpenApiRouter<Services> {
    OpenApiRouter::new().routes(routes!(import_users))
}

/// List users (filter by `email` or `external_id`).
#[utoipa::path(get, path = "/t/{tenant}/api/users", tag = "users", params(TenantPath, UserFilter, PageParams),
    responses((status = 200, body = Page<User>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn list_users(
    State(svc): State<Services>,
    auth: Auth,
    Query(filter): Query<UserFilter>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<User>>> {
    Ok(Json(users::list(&svc.db, &auth.ctx, &filter, &page).await?))
}

/// Create a user.
#[utoipa::path(post, path = "/t/{tenant}/api/users", tag = "users", params(TenantPath), request_body = CreateUser,
    responses((status = 201, body = User), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn create_user(
    State(svc): State<Services>,
    auth: Auth,
    Body(input): Body<CreateUser>,
) -> Res<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(users::create(&svc.db, &svc.passwords, &auth.ctx, input).await?),
    ))
}

/// Get a user.
#[utoipa::path(get, path = "/t/{tenant}/api/users/{id}", tag = "users", params(IdPath),
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_user(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<User>> {
    Ok(Json(users::get(&svc.db, &auth.ctx, &p.id).await?))
}

/// Get a user by the customer's external id.
#[utoipa::path(get, path = "/t/{tenant}/api/users/by-external-id/{external_id}", tag = "users", params(ExternalIdPath),
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_user_by_external_id(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<ExternalIdPath>,
) -> Res<Json<User>> {
    Ok(Json(
        users::get_by_external_id(&svc.db, &auth.ctx, &p.external_id).await?,
    ))
}

/// Update a user: profile fields, `blocked`, and metadata merges.
#[utoipa::path(patch, path = "/t/{tenant}/api/users/{id}", tag = "users", params(IdPath), request_body = UpdateUser,
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn update_user(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<UpdateUser>,
) -> Res<Json<User>> {
    Ok(Json(users::update(&svc.db, &auth.ctx, &p.id, input).await?))
}

/// Delete a user.
#[utoipa::path(delete, path = "/t/{tenant}/api/users/{id}", tag = "users", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_user(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    users::delete(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a user's password.
#[utoipa::path(put, path = "/t/{tenant}/api/users/{id}/password", tag = "users", params(IdPath), request_body = SetPassword,
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn set_password(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<SetPassword>,
) -> Res<StatusCode> {
    users::set_password(&svc.db, &svc.passwords, &auth.ctx, &p.id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign the user out everywhere: end every login session and revoke their refresh tokens and
/// access grants.
#[utoipa::path(delete, path = "/t/{tenant}/api/users/{id}/sessions", tag = "users", params(IdPath),
    responses((status = 200, body = Object, description = "`{\"sessions_ended\": n}`"), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn revoke_sessions(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<Value>> {
    let n = users::revoke_sessions(&svc.db, &auth.ctx, &p.id).await?;
    Ok(Json(serde_json::json!({ "sessions_ended": n })))
}

/// The user's brute-force lock: per IP, the password attempts in the current window, when it
/// ends and whether that IP is locked out now (a locked login answers like a wrong password,
/// so this is where a lock shows).
#[utoipa::path(get, path = "/t/{tenant}/api/users/{id}/lock", tag = "users", params(IdPath),
    responses((status = 200, body = LockStatus), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_lock(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<LockStatus>> {
    Ok(Json(
        users::lock_status(&svc.db, &svc.password_login.lock, &auth.ctx, &p.id).await?,
    ))
}

/// Lift the user's brute-force lock (every IP's, or `ip`'s only): the next password attempt
/// is compared again.
#[utoipa::path(delete, path = "/t/{tenant}/api/users/{id}/lock", tag = "users", params(IdPath, LiftLock),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn lift_lock(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Query(q): Query<LiftLock>,
) -> Res<StatusCode> {
    if users::lift_lock(&svc.db, &auth.ctx, &p.id, q.ip.as_deref()).await? > 0 {
        svc.metrics
            .security(&crate::metrics::SecurityEvent::LockLifted);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn metadata(
    svc: Services,
    auth: Auth,
    id: String,
    kind: MetadataKind,
    op: MetadataOp,
    patch: Value,
) -> Res<Json<Value>> {
    Ok(Json(
        users::write_metadata(&svc.db, &auth.ctx, &id, kind, op, patch).await?,
    ))
}

/// Merge into `user_metadata` (top-level keys replace; null deletes). Returns the result.
#[utoipa::path(patch, path = "/t/{tenant}/api/users/{id}/user_metadata", tag = "users", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn merge_user_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    metadata(
        svc,
        auth,
        p.id,
        MetadataKind::User,
        MetadataOp::Merge,
        patch,
    )
    .await
}

/// Replace `user_metadata` whole.
#[utoipa::path(put, path = "/t/{tenant}/api/users/{id}/user_metadata", tag = "users", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn replace_user_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    metadata(
        svc,
        auth,
        p.id,
        MetadataKind::User,
        MetadataOp::Replace,
        patch,
    )
    .await
}

/// Merge into `app_metadata`.
#[utoipa::path(patch, path = "/t/{tenant}/api/users/{id}/app_metadata", tag = "users", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn merge_app_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    metadata(svc, auth, p.id, MetadataKind::App, MetadataOp::Merge, patch).await
}

/// Replace `app_metadata` whole.
#[utoipa::path(put, path = "/t/{tenant}/api/users/{id}/app_metadata", tag = "users", params(IdPath),
    request_body = Object, responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn replace_app_metadata(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(patch): Body<Value>,
) -> Res<Json<Value>> {
    metadata(
        svc,
        auth,
        p.id,
        MetadataKind::App,
        MetadataOp::Replace,
        patch,
    )
    .await
}

/// The user's tenant-wide roles.
#[utoipa::path(get, path = "/t/{tenant}/api/users/{id}/roles", tag = "users", params(IdPath),
    responses((status = 200, body = RoleNames), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_roles(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<RoleNames>> {
    let roles = users::roles(&svc.db, &auth.ctx, &p.id).await?;
    Ok(Json(RoleNames { roles }))
}

/// Grant roles (by name) in addition to those held.
#[utoipa::path(post, path = "/t/{tenant}/api/users/{id}/roles", tag = "users", params(IdPath), request_body = RoleNames,
    responses((status = 200, body = RoleNames), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn add_roles(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<RoleNames>,
) -> Res<Json<RoleNames>> {
    let roles = users::change_roles(&svc.db, &auth.ctx, &p.id, RoleOp::Add, input.roles).await?;
    Ok(Json(RoleNames { roles }))
}

/// Replace the user's roles.
#[utoipa::path(put, path = "/t/{tenant}/api/users/{id}/roles", tag = "users", params(IdPath), request_body = RoleNames,
    responses((status = 200, body = RoleNames), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn set_roles(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Body(input): Body<RoleNames>,
) -> Res<Json<RoleNames>> {
    let roles = users::change_roles(&svc.db, &auth.ctx, &p.id, RoleOp::Set, input.roles).await?;
    Ok(Json(RoleNames { roles }))
}

/// Revoke one role from the user.
#[utoipa::path(delete, path = "/t/{tenant}/api/users/{id}/roles/{role}", tag = "users", params(RolePath),
    responses((status = 200, body = RoleNames), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn remove_role(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<RolePath>,
) -> Res<Json<RoleNames>> {
    let roles =
        users::change_roles(&svc.db, &auth.ctx, &p.id, RoleOp::Remove, vec![p.role]).await?;
    Ok(Json(RoleNames { roles }))
}

/// The organizations the user belongs to, with the roles in each.
#[utoipa::path(get, path = "/t/{tenant}/api/users/{id}/organizations", tag = "users", params(IdPath, PageParams),
    responses((status = 200, body = Page<Membership>), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn user_organizations(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
    Query(page): Query<PageParams>,
) -> Res<Json<Page<Membership>>> {
    Ok(Json(
        orgs::memberships(&svc.db, &auth.ctx, Members::OfUser(&p.id), &page).await?,
    ))
}

/// Import users from JSON lines (one `ImportUser` per line; at most 10 MiB). Users that already
/// exist (matched by external id, else email) are left as they are unless `update=true`; bad
/// lines are reported and skipped.
#[utoipa::path(post, path = "/t/{tenant}/api/users/import", tag = "users", params(TenantPath, ImportMode),
    request_body(content = String, content_type = "application/x-ndjson"),
    responses((status = 200, body = ImportReport), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn import_users(
    State(svc): State<Services>,
    auth: Auth,
    Query(mode): Query<ImportMode>,
    body: Bytes,
) -> Res<Json<ImportReport>> {
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "body must be UTF-8 JSON lines",
        )
    })?;
    // Surface a JSON-document body (a common mistake) as what it is.
    if text.trim_start().starts_with('[') {
        let _: Vec<Value> = parse(text.as_bytes())?;
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "send JSON lines (one user object per line), not a JSON array",
        ));
    }
    Ok(Json(
        import_lines(&svc.db, &auth.ctx, mode, text.lines(), || {}).await?,
    ))
}
