//! Path parameters shared by the routers (documented in the OpenAPI output).

use serde::Deserialize;
use utoipa::IntoParams;

/// `/t/{tenant}/...`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// Tenant name.
    pub tenant: String,
}

/// `/t/{tenant}/.../{id}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// Tenant name.
    pub tenant: String,
    /// Resource id.
    pub id: String,
}

/// `/t/{tenant}/.../by-external-id/{external_id}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExternalIdPath {
    /// Tenant name.
    pub tenant: String,
    /// The customer's own id.
    pub external_id: String,
}

/// `/t/{tenant}/api/users/{id}/roles/{role}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RolePath {
    /// Tenant name.
    pub tenant: String,
    /// User id.
    pub id: String,
    /// Role name.
    pub role: String,
}

/// `/t/{tenant}/api/organizations/{id}/members/{user_id}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// Tenant name.
    pub tenant: String,
    /// Organization id.
    pub id: String,
    /// User id.
    pub user_id: String,
}

/// `/api/tenants/{name}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantNamePath {
    /// Tenant name.
    pub name: String,
}
