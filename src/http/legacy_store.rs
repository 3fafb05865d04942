//! `/t/{tenant}/api/legacy-store`: the tenant's legacy user store and its migration's progress.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Body, ErrorBody};
use super::params::TenantPath;
use crate::manage::legacy_store::{self, LegacyStoreView, MigrationStatus, SetLegacyStore};
use crate::services::Services;

type Res<T> = Result<T, ApiError>;

pub(super) fn router() -> OpenApiRouter<Services> {
    OpenApiRouter::new()
        .routes(routes!(
            get_legacy_store,
            put_legacy_store,
            delete_legacy_store
        ))
        .routes(routes!(migration_status))
}

/// The tenant's legacy store (404 when it has none).
#[utoipa::path(get, path = "/t/{tenant}/api/legacy-store", tag = "legacy-store", params(TenantPath),
    responses((status = 200, body = LegacyStoreView), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn get_legacy_store(State(svc): State<Services>, auth: Auth) -> Res<Json<LegacyStoreView>> {
    Ok(Json(
        legacy_store::get(&svc.db, &svc.hooks, &auth.ctx).await?,
    ))
}

/// Set the tenant's legacy store: a deployed user-store hook, asked at the password logins Sigil
/// cannot check itself, in `migrate` or `delegate` mode (see docs/legacy-store.md).
#[utoipa::path(put, path = "/t/{tenant}/api/legacy-store", tag = "legacy-store", params(TenantPath), request_body = SetLegacyStore,
    responses((status = 200, body = LegacyStoreView), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn put_legacy_store(
    State(svc): State<Services>,
    auth: Auth,
    Body(b): Body<SetLegacyStore>,
) -> Res<Json<LegacyStoreView>> {
    Ok(Json(
        legacy_store::set(&svc.db, &svc.hooks, &auth.ctx, b).await?,
    ))
}

/// Remove the tenant's legacy store: from then on only users Sigil holds can log in.
#[utoipa::path(delete, path = "/t/{tenant}/api/legacy-store", tag = "legacy-store", params(TenantPath),
    responses((status = 204), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn delete_legacy_store(State(svc): State<Services>, auth: Auth) -> Res<StatusCode> {
    legacy_store::clear(&svc.db, &auth.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How far the migration from the legacy store has come: users migrated lazily, imported,
/// imported and still without a password, and (when the hook can count them) still only in the
/// legacy store.
#[utoipa::path(get, path = "/t/{tenant}/api/legacy-store/status", tag = "legacy-store", params(TenantPath),
    responses((status = 200, body = MigrationStatus), (status = "4XX", body = ErrorBody)), security(("api_key" = [])))]
async fn migration_status(State(svc): State<Services>, auth: Auth) -> Res<Json<MigrationStatus>> {
    Ok(Json(
        legacy_store::status(&svc.db, &svc.hooks, &auth.ctx).await?,
    ))
}
