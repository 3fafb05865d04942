//! Authentication of management API calls: `Authorization: Bearer sk_...`.
//!
//! A key belongs to one tenant. It may act on that tenant only; another tenant's path answers
//! 403 (whether or not that tenant exists, so keys cannot probe for tenant names). Operator keys
//! may also manage tenants and act on any tenant.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::manage::TenantCtx;
use crate::manage::api_keys::{Caller, authenticate};
use crate::manage::tenants;
use crate::services::Services;

/// A caller authenticated for the tenant named in the path.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The tenant acted on, and the actor for the audit log.
    pub ctx: TenantCtx,
    /// The key.
    pub caller: Caller,
}

/// A caller holding an operator key.
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

async fn caller(parts: &Parts, svc: &Services) -> Result<Caller, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let (scheme, key) = value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized());
    }
    authenticate(&svc.db, &svc.secrets, key.trim())
        .await?
        .ok_or_else(ApiError::unauthorized)
}

impl FromRequestParts<Services> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Services) -> Result<Self, ApiError> {
        let caller = caller(parts, svc).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, svc)
            .await
            .map_err(|_| ApiError::unauthorized())?;
        let tenant = params.get("tenant").cloned().unwrap_or_default();
        let ctx = if tenant == caller.tenant_name {
            TenantCtx {
                tenant_id: caller.tenant_id.clone(),
                tenant_name: caller.tenant_name.clone(),
                actor: caller.key_id.clone(),
            }
        } else if caller.operator {
            let t = tenants::get(&svc.db, &svc.issuers, &tenant).await?;
            TenantCtx {
                tenant_id: t.id,
                tenant_name: t.name,
                actor: caller.key_id.clone(),
            }
        } else {
            return Err(ApiError::forbidden(
                "this API key belongs to another tenant",
            ));
        };
        Ok(Auth { ctx, caller })
    }
}

impl FromRequestParts<Services> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Services) -> Result<Self, ApiError> {
        let caller = caller(parts, svc).await?;
        if !caller.operator {
            return Err(ApiError::forbidden("an operator key is required"));
        }
        Ok(Operator(caller))
    }
}
