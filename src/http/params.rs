//! Path parameters shared by the routers (documented in the OpenAPI output), and the one
//! parser of OAuth query strings and form bodies.

use std::collections::HashMap;

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

/// Parses a query string or an `application/x-www-form-urlencoded` body into its parameters,
/// refusing a repeated one: "Request and response parameters MUST NOT be included more than
/// once" (RFC 6749 3.1, 3.2), and silently taking either value would let two parties read one
/// request differently. The error names the parameter.
pub fn unique_params(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("the parameter `{k}` is repeated"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_by_name() {
        assert_eq!(
            unique_params("a=1&b=2&a=3"),
            Err("the parameter `a` is repeated".to_string())
        );
        let ok = unique_params("a=1&b=x+y%21").unwrap();
        assert_eq!(ok["b"], "x y!");
    }
}
