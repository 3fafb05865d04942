//! Reading token-request parameters (RFC 6749 5.2): a required parameter, the scope list. The
//! HTTP layer has already refused repeated parameters (`http::params`).

use std::collections::HashMap;

use super::OAuthError;

/// A token request parameter that must be present and non-empty (`invalid_request`
/// otherwise, RFC 6749 5.2).
pub fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// Splits a `scope` parameter (RFC 6749 3.3).
pub fn scope_list(form: &HashMap<String, String>) -> Option<Vec<String>> {
    form.get("scope")
        .filter(|s| !s.is_empty())
        .map(|s| crate::scopes::parse(s))
}
