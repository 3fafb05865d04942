//! Scope values (RFC 6749 section 3.3): the one parser and printer of space-delimited scope
//! strings, and the scopes OpenID Connect itself defines.

/// The audience (RFC 8707 resource) of the access tokens the management API accepts besides its
/// API keys: those the dashboard gets for a tenant administrator. A URN rather than a URL, so
/// that it stays the same when the operator moves the public URL.
pub const MANAGEMENT_AUDIENCE: &str = "urn:sigil:management";

/// The one scope of [`MANAGEMENT_AUDIENCE`]: an access token without it cannot call the
/// management API.
pub const MANAGE_SCOPE: &str = "manage";

/// Scopes that belong to OpenID Connect itself rather than to an API (OIDC Core 5.4 and 11).
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The scopes of a `scope` parameter or a stored scope string, in order. RFC 6749 3.3 says
/// they are delimited by single spaces; empty entries (doubled or trailing spaces) are skipped
/// rather than refused, as every deployed client library expects.
pub fn parse(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `scopes` as one space-delimited string (the `scope` response parameter and stored form).
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Whether `scope` is one OpenID Connect defines.
pub fn is_oidc(scope: &str) -> bool {
    OIDC_SCOPES.contains(&scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_skips_empty_entries_and_keeps_order() {
        assert_eq!(parse("openid  email "), vec!["openid", "email"]);
        assert_eq!(parse(""), Vec::<String>::new());
        assert_eq!(join(&parse("b a")), "b a");
    }

    #[test]
    fn only_the_four_oidc_scopes_are_oidc() {
        assert!(is_oidc("offline_access"));
        assert!(!is_oidc("read:reports"));
    }
}
