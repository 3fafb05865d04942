//! Access tokens for the management API (the dashboard's): an access token of this tenant
//! (verified as [`super::jwt_verify`] does, RFC 8725 and RFC 9068), whose audience is
//! [`MANAGEMENT_AUDIENCE`], which carries [`MANAGE_SCOPE`] and whose grant has not been
//! revoked. Who the bearer is, and whether that user may manage the tenant, is for the caller
//! to decide: this says only that the token is one of ours, for this API, and still live.

use serde_json::Value;

use super::Checking;
use super::OAuthError;
use super::jwt_verify::{audience_includes, live_grant, verify_access_token};
use crate::scopes::{MANAGE_SCOPE, MANAGEMENT_AUDIENCE};

/// Who a valid management token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementBearer {
    /// The user (`sub`).
    pub user_id: String,
    /// The application that obtained it (`client_id`, RFC 9068 2.2).
    pub client_id: String,
}

/// Verifies `token` as an access token of tenant `tenant_name` for the management API.
pub async fn verify(
    c: &Checking<'_>,
    tenant_id: &str,
    tenant_name: &str,
    token: &str,
) -> Result<ManagementBearer, OAuthError> {
    let claims =
        verify_access_token(c.db, c.keys, tenant_id, &c.issuers.of(tenant_name), token).await?;
    let bad = |m: &str| OAuthError::InvalidToken(m.to_string());
    if !audience_includes(&claims, MANAGEMENT_AUDIENCE) {
        return Err(bad("the token is not for the management API"));
    }
    let scopes = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !crate::scopes::parse(scopes)
        .iter()
        .any(|s| s == MANAGE_SCOPE)
    {
        return Err(bad("the token lacks the `manage` scope"));
    }
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("no {name}")))
    };
    live_grant(c.db, tenant_id, &claims).await?;
    Ok(ManagementBearer {
        user_id: text("sub")?,
        client_id: text("client_id")?,
    })
}
