//! OAuth 2 / OpenID Connect protocol rules (no axum types): client authentication, grants,
//! the post-login pipeline, token assembly, `/userinfo`, discovery.
//!
//! This slice implements the resource owner password grant (RFC 6749 4.3; off unless a
//! confidential application enables it, RFC 9700 2.4), the refresh-token grant with rotation,
//! the client-credentials grant, discovery, JWKS and `/userinfo`. The authorization-code grant
//! is answered with `unsupported_grant_type` until it lands.

pub mod authorize;
pub mod authorize_error;
pub mod claims;
pub mod client_auth;
pub mod client_credentials;
pub mod code;
pub mod consent_text;
pub mod discovery;
pub mod introspection;
pub mod jwt_verify;
pub mod legacy_login;
pub mod legacy_pace;
pub mod logout;
pub mod management_token;
pub mod password;
pub mod pipeline;
pub mod refresh;
pub mod revocation;
pub mod scope_policy;
pub mod session;
pub mod subject;
pub mod token_form;
pub mod tokens;
pub mod user_auth;
pub mod userinfo;

use crate::crypto::SecretHasher;
use crate::db::{Db, Issuers};
use crate::flows::Hooks;
use crate::keys::{KeyError, KeyRing};
use crate::metrics::Metrics;
use crate::passwords::PasswordHasher;
use crate::store::StoreError;
use crate::templates::cache::TemplateCache;

/// What checking a presented token touches: the database and clock, keyed hashes (refresh
/// tokens and client secrets are stored hashed), the signing keys and the issuer names. The
/// introspection, revocation, `/userinfo` and logout endpoints take this.
#[derive(Debug, Clone, Copy)]
pub struct Checking<'a> {
    /// The database and the injected clock.
    pub db: &'a Db,
    /// Keyed hashes of client secrets and refresh tokens.
    pub secrets: &'a SecretHasher,
    /// The tenant's signing keys.
    pub keys: &'a KeyRing,
    /// The `iss` of each tenant.
    pub issuers: &'a Issuers,
}

/// What issuing tokens for a login touches, and nothing more: the grants and the post-login
/// pipeline take this; the steps beneath them take the single parts they use.
#[derive(Debug, Clone, Copy)]
pub struct Issuing<'a> {
    /// The database and the injected clock.
    pub db: &'a Db,
    /// Keyed hashes of codes and refresh tokens (only hashes are stored).
    pub secrets: &'a SecretHasher,
    /// The tenant's signing keys.
    pub keys: &'a KeyRing,
    /// The `iss` of each tenant.
    pub issuers: &'a Issuers,
    /// The tenant's post-login flow.
    pub hooks: &'a Hooks,
    /// The tenant's and the application's JWT templates.
    pub templates: &'a TemplateCache,
    /// argon2id, for upgrading an imported hash after a verified login.
    pub passwords: &'a PasswordHasher,
    /// Where the grants count their security events (refresh reuse, code replay, hooks that
    /// deny or fail).
    pub metrics: &'a Metrics,
    /// How long after a refresh token's rotation presenting it again is taken as a retry of a
    /// lost answer rather than reuse (see [`refresh`]), in milliseconds.
    pub refresh_retry_grace_ms: i64,
}

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
    /// 500 `server_error`: the cause (with its own causes) is logged, never sent.
    #[error("server error")]
    Server(#[source] ServerFault),
    /// 503 `temporarily_unavailable`: the database is unreachable or restarting, or the hook
    /// pool had no room for a fail-closed flow within its deadline (`hook_capacity`: the
    /// node is overloaded right now). The cause is logged, never sent. RFC 6749 4.1.2.1 defines the code for the authorization
    /// endpoint ("temporarily unable to handle the request due to a temporary overloading or
    /// maintenance"); 5.2 lists no such code for the token endpoint, where Sigil sends it too
    /// (with 503 and `Retry-After`, RFC 9110 15.6.4, 10.2.3) so a client can tell "retry
    /// later" from `server_error`.
    #[error("temporarily unavailable")]
    Unavailable(#[source] ServerFault),
}

/// A failure on our side behind a `server_error`, kept whole so the logs show the chain of
/// causes (the response body never does).
#[derive(Debug, thiserror::Error)]
pub enum ServerFault {
    /// The database.
    #[error("store")]
    Store(#[from] StoreError),
    /// Loading or running the tenant's hooks.
    #[error("hook flow")]
    Flow(#[from] crate::flows::FlowError),
    /// The signing keys.
    #[error("signing keys")]
    Keys(#[from] KeyError),
    /// argon2id.
    #[error("password hashing")]
    Password(#[from] crate::passwords::PasswordError),
    /// A hook failed under a `fail_closed` binding.
    #[error("hook {hook} failed ({code}): {message}")]
    HookFailed {
        /// The hook's name.
        hook: String,
        /// The failure's code (`trap`, `timeout`, `fuel`...).
        code: String,
        /// What the host saw.
        message: String,
    },
    /// The tenant's legacy store gave no verdict on a password login.
    #[error("legacy store")]
    Legacy(#[from] crate::flows::legacy::LegacyFailure),
    /// A hook's metadata write was refused when it was applied.
    #[error("hook metadata write refused")]
    MetadataWrite(#[source] sigil_hooks::metadata::MetadataError),
    /// A value that must serialize did not.
    #[error("serializing {0}")]
    Serialize(&'static str, #[source] serde_json::Error),
}

impl OAuthError {
    /// A server error from anything that converts to a [`ServerFault`]:
    /// [`OAuthError::Unavailable`] when the database being unavailable is among its causes
    /// or a fail-closed flow found no room in the hook pool, [`OAuthError::Server`] otherwise. Every failure on our side is made here, so this is
    /// the one place the two are told apart.
    pub fn server(fault: impl Into<ServerFault>) -> Self {
        let fault = fault.into();
        // A full hook pool is the "temporary overloading" RFC 6749 4.1.2.1 describes: the same
        // request a moment later, or on another node, succeeds. So is a hook stopped by a
        // wall-clock limit (its deadline, or the flow's budget, which counts the wait for a
        // pool thread): on a machine short of CPU a sound hook misses it too. Fuel, traps and
        // bad output do not depend on the moment, so they stay server errors.
        // A legacy store that did not answer is the same: its system is down or slow now.
        let overloaded = matches!(
            &fault,
            ServerFault::HookFailed { code, .. }
                if matches!(code.as_str(), "hook_capacity" | "timeout" | "flow_timeout")
        ) || matches!(
            &fault,
            ServerFault::Legacy(crate::flows::legacy::LegacyFailure::Unavailable(_))
        );
        if overloaded || crate::store::unavailable::unavailable_in(&fault) {
            OAuthError::Unavailable(fault)
        } else {
            OAuthError::Server(fault)
        }
    }
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
            OAuthError::Unavailable(_) => "temporarily_unavailable",
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::server(e)
    }
}

impl From<crate::flows::FlowError> for OAuthError {
    fn from(e: crate::flows::FlowError) -> Self {
        OAuthError::server(e)
    }
}

impl From<KeyError> for OAuthError {
    fn from(e: KeyError) -> Self {
        OAuthError::server(e)
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::server(StoreError::from(e))
    }
}

/// The tenant a protocol URL names, as (id, name); `None` when no tenant has that name (a 404,
/// unlike a failing database).
pub async fn tenant(
    store: &crate::store::Store,
    name: &str,
    now: i64,
) -> Result<Option<(String, String)>, OAuthError> {
    Ok(crate::store::tenants::by_name_hot(store, name, now)
        .await?
        .map(|t| (t.id.clone(), t.name.clone())))
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

    #[test]
    fn a_server_error_keeps_its_chain_of_causes_for_the_logs() {
        use std::error::Error;
        let e = OAuthError::from(sqlx::Error::RowNotFound);
        let chain: Vec<String> = std::iter::successors(Some(&e as &dyn Error), |e| (*e).source())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(chain.len(), 4, "{chain:?}");
        assert_eq!(&chain[..2], ["server error", "store"]);
        assert!(chain[3].contains("no rows"), "{chain:?}");
        // What a client sees names none of it.
        assert_eq!(e.code(), "server_error");
    }

    #[test]
    fn a_full_hook_pool_and_wall_clock_limits_are_temporarily_unavailable_and_other_hook_failures_are_server_errors()
     {
        let failed = |code: &str| {
            OAuthError::server(ServerFault::HookFailed {
                hook: "h".into(),
                code: code.into(),
                message: "m".into(),
            })
        };
        for code in ["hook_capacity", "timeout", "flow_timeout"] {
            assert_eq!(failed(code).code(), "temporarily_unavailable", "{code}");
        }
        for code in [
            "trap",
            "out_of_fuel",
            "out_of_memory",
            "panic",
            "invalid_output",
        ] {
            assert_eq!(failed(code).code(), "server_error", "{code}");
        }
    }

    #[test]
    fn a_database_outage_is_temporarily_unavailable_with_its_causes_kept_for_the_logs() {
        use std::error::Error;
        let e = OAuthError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(e, OAuthError::Unavailable(_)), "{e:?}");
        assert_eq!(e.code(), "temporarily_unavailable");
        let chain: Vec<String> = std::iter::successors(Some(&e as &dyn Error), |e| (*e).source())
            .map(|e| e.to_string())
            .collect();
        assert!(
            chain.last().unwrap().contains("pool timed out"),
            "{chain:?}"
        );
        // Through the signing keys too: every failure on our side goes through `server`.
        let keys = OAuthError::from(KeyError::Store(StoreError::from(sqlx::Error::PoolClosed)));
        assert_eq!(keys.code(), "temporarily_unavailable");
    }
}
