//! The `error` codes the authorization endpoint sends to a client's redirect URI, as a closed
//! set: RFC 6749 4.1.2.1 (with `temporarily_unavailable` for a database outage met after the
//! client and its redirect URI were verified), OIDC Core 1.0 3.1.2.6 (`login_required`, `consent_required`) and 6
//! (`request_not_supported`, `request_uri_not_supported`), RFC 8707 2 (`invalid_target`).

use super::OAuthError;

/// One authorization-endpoint error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// The client may not use the code flow.
    UnauthorizedClient,
    /// The user or a hook refused.
    AccessDenied,
    /// Only `response_type=code` is supported.
    UnsupportedResponseType,
    /// A requested scope is not defined.
    InvalidScope,
    /// The `audience` names no API of the tenant.
    InvalidTarget,
    /// A failure on our side (the cause is logged, never sent).
    ServerError,
    /// The database is unreachable or restarting: the client may retry the request later
    /// (RFC 6749 4.1.2.1).
    TemporarilyUnavailable,
    /// `prompt=none` and nobody is signed in (or the session is too old for `max_age`).
    LoginRequired,
    /// `prompt=none` and the user has not consented.
    ConsentRequired,
    /// Request objects (`request`) are not supported.
    RequestNotSupported,
    /// `request_uri` is not supported.
    RequestUriNotSupported,
}

impl AuthorizeError {
    /// The code as sent in the `error` parameter.
    pub fn code(self) -> &'static str {
        match self {
            AuthorizeError::InvalidRequest => "invalid_request",
            AuthorizeError::UnauthorizedClient => "unauthorized_client",
            AuthorizeError::AccessDenied => "access_denied",
            AuthorizeError::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeError::InvalidScope => "invalid_scope",
            AuthorizeError::InvalidTarget => "invalid_target",
            AuthorizeError::ServerError => "server_error",
            AuthorizeError::TemporarilyUnavailable => "temporarily_unavailable",
            AuthorizeError::LoginRequired => "login_required",
            AuthorizeError::ConsentRequired => "consent_required",
            AuthorizeError::RequestNotSupported => "request_not_supported",
            AuthorizeError::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

impl From<&OAuthError> for AuthorizeError {
    /// The redirect code for a protocol error met while checking an authorization request
    /// (the token endpoint's codes that have no meaning here become `invalid_request`).
    fn from(e: &OAuthError) -> Self {
        match e {
            OAuthError::InvalidScope(_) => AuthorizeError::InvalidScope,
            OAuthError::InvalidTarget(_) => AuthorizeError::InvalidTarget,
            OAuthError::AccessDenied(_) => AuthorizeError::AccessDenied,
            OAuthError::UnauthorizedClient(_) => AuthorizeError::UnauthorizedClient,
            OAuthError::Server(_) => AuthorizeError::ServerError,
            OAuthError::Unavailable(_) => AuthorizeError::TemporarilyUnavailable,
            _ => AuthorizeError::InvalidRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_error_redirects_with_invalid_scope_and_a_server_fault_with_server_error() {
        let scope = OAuthError::InvalidScope("x".into());
        assert_eq!(AuthorizeError::from(&scope).code(), "invalid_scope");
        let target = OAuthError::InvalidTarget("x".into());
        assert_eq!(AuthorizeError::from(&target).code(), "invalid_target");
        let server = OAuthError::server(crate::store::StoreError::Conflict("id"));
        assert_eq!(AuthorizeError::from(&server).code(), "server_error");
        let down = OAuthError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(
            AuthorizeError::from(&down).code(),
            "temporarily_unavailable"
        );
        assert_eq!(
            AuthorizeError::from(&OAuthError::InvalidClient).code(),
            "invalid_request"
        );
    }
}
