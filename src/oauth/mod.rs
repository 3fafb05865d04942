//! OAuth 2 / OpenID Connect protocol rules (no axum types): client authentication, grants,
//! the post-login pipeline, token assembly, `/userinfo`, discovery.
//!
//! This slice implements the resource owner password grant (RFC 6749 4.3; off unless a
//! confidential application enables it, RFC 9700 2.4), the refresh-token grant with rotation,
//! the client-credentials grant, discovery, JWKS and `/userinfo`. The authorization-code grant
//! is answered with `unsupported_grant_type` until it lands.

pub mod authorize;
pub mod claims;
pub mod client_credentials;
pub mod code;
pub mod discovery;
pub mod logout;
pub mod metrics;
pub mod password;
pub mod pipeline;
pub mod refresh;
pub mod revocation;
pub mod session;
pub mod tokens;
pub mod userinfo;

use crate::keys::KeyError;
use crate::store::StoreError;

/// OAuth errors (RFC 6749 5.2, RFC 6750 3.1), each with its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 400 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `invalid_client`: unknown client or bad credentials.
    #[error("client authentication failed")]
    InvalidClient,
    /// 400 `invalid_grant`.
    #[error("{0}")]
    InvalidGrant(String),
    /// 400 `unauthorized_client`: the client may not use this grant.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// 400 `unsupported_grant_type`.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// 400 `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// 400 `invalid_target`: the requested resource (`audience`) is unknown (RFC 8707 2).
    #[error("{0}")]
    InvalidTarget(String),
    /// 403 `insufficient_scope`: the token is valid but was not granted what the endpoint
    /// needs (RFC 6750 3.1).
    #[error("{0}")]
    InsufficientScope(String),
    /// 403 `access_denied`: a hook denied the login (the reason is the hook's, for the user).
    #[error("{0}")]
    AccessDenied(String),
    /// 401 `invalid_token` (RFC 6750 3.1).
    #[error("{0}")]
    InvalidToken(String),
    /// 500 `server_error`: the cause is logged, never sent.
    #[error("server error: {0}")]
    Server(String),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::InsufficientScope(_) => "insufficient_scope",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::Server(_) => "server_error",
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl From<crate::flows::FlowError> for OAuthError {
    fn from(e: crate::flows::FlowError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl From<KeyError> for OAuthError {
    fn from(e: KeyError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::Server(e.to_string())
    }
}

/// Longest `error_description` sent to a client, in characters.
pub const MAX_ERROR_DESCRIPTION: usize = 200;

/// `text` as an `error_description` may carry it: RFC 6749 4.1.2.1 and 5.2 allow only
/// %x20-21 / %x23-5B / %x5D-7E (printable ASCII without `"` and `\`). Every other character
/// becomes `?`, and the result is cut at [`MAX_ERROR_DESCRIPTION`] characters. Applied where
/// errors leave the server (the token endpoint's JSON, the authorization redirect), since some
/// descriptions carry text from a hook's deny reason or from the request; the hook trace keeps
/// a deny reason as given.
pub fn error_description(text: &str) -> String {
    text.chars()
        .take(MAX_ERROR_DESCRIPTION)
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => c,
            _ => '?',
        })
        .collect()
}

/// The tenant's `/userinfo` URL (an audience of access tokens granted `openid`).
pub fn userinfo_url(issuer: &str) -> String {
    format!("{issuer}/userinfo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_description_keeps_only_rfc6749_characters() {
        assert_eq!(error_description("ok: fine!"), "ok: fine!");
        assert_eq!(error_description("a\"b\\c\nd\u{e9}\u{7f}"), "a?b?c?d??");
        assert_eq!(
            error_description(&"x".repeat(500)).len(),
            MAX_ERROR_DESCRIPTION
        );
    }
}
