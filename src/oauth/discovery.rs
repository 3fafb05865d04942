//! OpenID Connect Discovery 1.0 metadata for a tenant.

use serde_json::{Value, json};

use crate::keys::SIGNING_ALGS;
use crate::scopes::OIDC_SCOPES;

/// The discovery document. Only what works is advertised: the grants listed are the ones the
/// token endpoint implements today.
pub fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": super::userinfo_url(issuer),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SIGNING_ALGS,
        "grant_types_supported": [
            "authorization_code", "password", "refresh_token", "client_credentials"
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "none"
        ],
        "scopes_supported": OIDC_SCOPES,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "azp", "nonce", "at_hash", "sid", "org_id", "name", "given_name",
            "family_name", "nickname", "picture", "updated_at", "email", "email_verified"
        ],
        "authorization_response_iss_parameter_supported": true,
    })
}
