//! `/t/{tenant}/api/dashboard...`: the dashboard client and the tenant's administrators.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::params::{IdPath, TenantPath};
use crate::manage::dashboard::{self, DashboardClient};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(get_dashboard))
        .routes(routes!(grant_admin, revoke_admin))
}

/// The dashboard's OIDC client in this tenant: what to request to sign an administrator in.
#[utoipa::path(get, path = "/t/{tenant}/api/dashboard", tag = "dashboard", params(TenantPath),
    responses((status = 200, body = DashboardClient), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_dashboard(State(svc): State<Services>, auth: Auth) -> Res<Json<DashboardClient>> {
    let issuer = svc.issuers.of(&auth.ctx.tenant_name);
    Ok(Json(dashboard::client(&auth.ctx.tenant_id, &issuer)))
}

/// Make a user an administrator of the tenant (the first one also sets up the dashboard
/// client, the management API audience and the built-in `sigil-admin` role).
#[utoipa::path(put, path = "/t/{tenant}/api/dashboard/admins/{id}", tag = "dashboard", params(IdPath),
    responses((status = 200, body = DashboardClient), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn grant_admin(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<Json<DashboardClient>> {
    let issuer = svc.issuers.of(&auth.ctx.tenant_name);
    Ok(Json(
        dashboard::grant_admin(&svc.db, &auth.ctx, &issuer, &p.id).await?,
    ))
}

/// Take the administrator role from a user; their dashboard access ends at once.
#[utoipa::path(delete, path = "/t/{tenant}/api/dashboard/admins/{id}", tag = "dashboard", params(IdPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn revoke_admin(
    State(svc): State<Services>,
    auth: Auth,
    Path(p): Path<IdPath>,
) -> Res<StatusCode> {
    dashboard::revoke_admin(&svc.db, &auth.ctx, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
