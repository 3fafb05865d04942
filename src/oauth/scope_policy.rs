//! Which scopes a user grant may request (RFC 6749 3.3): the OpenID Connect scopes, and those
//! the audience API defines; an unknown audience is `invalid_target` (RFC 8707 2).

use super::OAuthError;
use crate::scopes::OIDC_SCOPES;
use crate::store::Store;
use crate::store::apis::{self as api_store};

/// Checks the audience names an API of the tenant and every requested scope is an OIDC scope
/// or one the API defines (`invalid_scope` otherwise, RFC 6749 5.2).
pub async fn check_scopes(
    store: &Store,
    tenant_id: &str,
    audience: Option<&str>,
    requested: &[String],
) -> Result<(), OAuthError> {
    let api_scopes = match audience {
        Some(a) => api_store::scope_values(store.read().await?.conn(), tenant_id, a)
            .await?
            .ok_or_else(|| OAuthError::InvalidTarget(format!("unknown audience `{a}`")))?,
        None => Vec::new(),
    };
    for s in requested {
        if !OIDC_SCOPES.contains(&s.as_str()) && !api_scopes.contains(s) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{s}` is not defined"
            )));
        }
    }
    Ok(())
}
