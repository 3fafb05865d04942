//! Authentication of management API calls: `Authorization: Bearer sk_...` (an API key), or
//! `Authorization: Bearer <access token>` of a tenant administrator signed in to the dashboard.
//!
//! A key belongs to one tenant. It may act on that tenant only; another tenant's path answers
//! 403 (whether or not that tenant exists, so keys cannot probe for tenant names). Operator keys
//! may also manage tenants and act on any tenant.
//!
//! An access token is accepted for the tenant that issued it, when it is for the management API
//! ([`crate::oauth::management_token`]), was issued to that tenant's dashboard client, and its
//! user is an administrator of the tenant now ([`dashboard::is_admin`]: blocking the user or
//! taking the role ends their access at once, not when the token expires). It never acts as an
//! operator.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::manage::api_keys::{Caller, authenticate};
use crate::manage::{ManageError, TenantCtx, dashboard, tenants};
use crate::oauth::{OAuthError, management_token};
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

/// The bearer credential of the request.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized());
    }
    Ok(credential.trim())
}

/// Whether the credential is an API key (`sk_...`) rather than an access token.
fn is_api_key(credential: &str) -> bool {
    credential.starts_with("sk_")
}

async fn caller(credential: &str, svc: &Services) -> Result<Caller, ApiError> {
    authenticate(&svc.db, &svc.secrets, credential)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// A tenant administrator's access token, for the tenant named `tenant` in the path.
async fn administrator(token: &str, tenant: &str, svc: &Services) -> Result<Auth, ApiError> {
    let t = match tenants::get(&svc.db, &svc.issuers, tenant).await {
        Ok(t) => t,
        // Not naming which: an unknown tenant looks like a token it did not issue.
        Err(ManageError::NotFound(_)) => return Err(ApiError::unauthorized()),
        Err(e) => return Err(e.into()),
    };
    let bearer = match management_token::verify(&svc.checking(), &t.id, &t.name, token).await {
        Ok(b) => b,
        Err(OAuthError::InvalidToken(_)) => return Err(ApiError::unauthorized()),
        Err(e) => return Err(ManageError::Internal(Box::new(e)).into()),
    };
    if bearer.client_id != dashboard::client_id(&t.id) {
        return Err(ApiError::forbidden(
            "this access token was not issued to the dashboard",
        ));
    }
    if !dashboard::is_admin(&svc.db, &t.id, &bearer.user_id).await? {
        return Err(ApiError::forbidden(
            "the signed-in user is not an administrator of this tenant",
        ));
    }
    Ok(Auth {
        ctx: TenantCtx {
            tenant_id: t.id.clone(),
            tenant_name: t.name.clone(),
            actor: bearer.user_id.clone(),
        },
        caller: Caller {
            key_id: bearer.user_id,
            tenant_id: t.id,
            tenant_name: t.name,
            operator: false,
        },
    })
}

impl FromRequestParts<Services> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Services) -> Result<Self, ApiError> {
        let credential = bearer(parts)?.to_string();
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, svc)
            .await
            .map_err(|_| ApiError::unauthorized())?;
        let tenant = params.get("tenant").cloned().unwrap_or_default();
        if !is_api_key(&credential) {
            return administrator(&credential, &tenant, svc).await;
        }
        let caller = caller(&credential, svc).await?;
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
        let credential = bearer(parts)?;
        if !is_api_key(credential) {
            return Err(ApiError::forbidden("an operator key is required"));
        }
        let caller = caller(credential, svc).await?;
        if !caller.operator {
            return Err(ApiError::forbidden("an operator key is required"));
        }
        Ok(Operator(caller))
    }
}
