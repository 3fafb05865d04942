//! Every claim Sigil puts in a token or answers at `/userinfo`, for every grant (code,
//! password, refresh, client credentials), built here and nowhere else.
//!
//! **Precedence, in one sentence:** protocol claims (`iss`, `sub`, `aud`, `exp`, ...) override
//! the user's profile claims (OIDC Core 5.4, by granted scope), which override the hooks'
//! claims, which override the JWT templates' claims (a later hook over an earlier one).
//!
//! The overrides are the second line of defence: the restricted list ([`RESTRICTED_CLAIMS`],
//! protocol and profile names, canonical matching) is refused when a template is saved and when
//! a hook calls `set-*-claim`, so a custom claim never even reaches a token under a protected
//! name. The list is defined in the hook host (`sigil_hooks::claims`), which enforces it at call
//! time inside the sandbox; this module is where the server reads it.
//!
//! `/userinfo` answers what the ID token said: the custom ID-token claims stored with the grant
//! at issuance (so every node answers the same without running hooks again), then the profile
//! claims as they are now, then `sub`.

use serde_json::{Map, Value, json};

pub use sigil_hooks::claims::{PROFILE_CLAIMS, PROTOCOL_CLAIMS, RESTRICTED_CLAIMS};

use crate::store::apps::AppRow;
use crate::store::users::UserRow;

/// A token's claims (or a set of custom claims).
pub type Claims = Map<String, Value>;

/// The custom claims of one token: the JWT templates' claims, then the hooks' claims of the
/// same name replacing them.
pub fn custom(templates: Claims, hooks: &Claims) -> Claims {
    let mut out = templates;
    out.extend(hooks.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Standard claims of the user allowed by `scopes` (OIDC Core 5.4). Every name it can emit is
/// in [`PROFILE_CLAIMS`], so no hook or template claim is ever replaced by one.
pub fn profile(user: &UserRow, scopes: &[String]) -> Claims {
    let mut m = Map::new();
    if scopes.iter().any(|s| s == "profile") {
        for (k, v) in [
            ("name", &user.name),
            ("given_name", &user.given_name),
            ("family_name", &user.family_name),
            ("nickname", &user.nickname),
            ("picture", &user.picture),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert("updated_at".into(), json!(user.updated_at / 1000));
    }
    if scopes.iter().any(|s| s == "email") {
        m.insert("email".into(), json!(user.email));
        m.insert("email_verified".into(), json!(user.email_verified));
    }
    m
}

/// What a user's tokens are about: everything but the custom claims.
#[derive(Debug)]
pub struct UserGrant<'a> {
    /// The tenant's issuer.
    pub issuer: &'a str,
    /// The user.
    pub user: &'a UserRow,
    /// The application.
    pub app: &'a AppRow,
    /// Granted scopes (after hook changes).
    pub scopes: &'a [String],
    /// The access token's audiences (RFC 9068 2.2), at least one.
    pub audiences: &'a [String],
    /// The organization of the login.
    pub org_id: Option<&'a str>,
    /// When the user authenticated (epoch seconds).
    pub auth_time: i64,
    /// The access token's `jti`.
    pub jti: &'a str,
    /// The authorization request's `nonce` (OIDC Core 3.1.2.1), echoed in the ID token.
    pub nonce: Option<&'a str>,
    /// The login session (`sid`, OIDC Front-Channel Logout 1.0 section 3).
    pub sid: Option<&'a str>,
    /// Issuance time (epoch seconds).
    pub now: i64,
}

/// One audience as a string, several as an array (RFC 7519 4.1.3).
fn audience(auds: &[String]) -> Value {
    match auds {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The JWT access token's claims (RFC 9068 2.2): custom claims, then the protocol claims.
pub fn access_token(g: &UserGrant<'_>, custom: &Claims) -> Claims {
    let mut at = custom.clone();
    for (k, v) in [
        ("iss", json!(g.issuer)),
        ("sub", json!(g.user.id)),
        ("aud", audience(g.audiences)),
        ("exp", json!(g.now + g.app.access_token_lifetime)),
        ("iat", json!(g.now)),
        ("jti", json!(g.jti)),
        ("client_id", json!(g.app.client_id)),
        ("scope", json!(crate::scopes::join(g.scopes))),
    ] {
        at.insert(k.into(), v);
    }
    if let Some(o) = g.org_id {
        at.insert("org_id".into(), json!(o));
    }
    at
}

/// The ID token's claims (OIDC Core 2): custom claims, then the profile claims the scopes
/// allow, then the protocol claims; `at_hash` binds it to the access token (3.1.3.6).
pub fn id_token(g: &UserGrant<'_>, custom: &Claims, at_hash: &str) -> Claims {
    let mut it = custom.clone();
    it.extend(profile(g.user, g.scopes));
    for (k, v) in [
        ("iss", json!(g.issuer)),
        ("sub", json!(g.user.id)),
        ("aud", json!(g.app.client_id)),
        ("exp", json!(g.now + g.app.id_token_lifetime)),
        ("iat", json!(g.now)),
        ("auth_time", json!(g.auth_time)),
        ("azp", json!(g.app.client_id)),
        ("at_hash", json!(at_hash)),
    ] {
        it.insert(k.into(), v);
    }
    for (k, v) in [("nonce", g.nonce), ("sid", g.sid), ("org_id", g.org_id)] {
        if let Some(v) = v {
            it.insert(k.into(), json!(v));
        }
    }
    it
}

/// The access token of the client-credentials grant (RFC 6749 4.4, RFC 9068 2.2): no user, so
/// no custom claims; `sub` is the client.
pub fn machine_access_token(
    issuer: &str,
    app: &AppRow,
    audience: &str,
    scopes: &[String],
    jti: &str,
    now: i64,
) -> Claims {
    let mut at = Map::new();
    for (k, v) in [
        ("iss", json!(issuer)),
        ("sub", json!(app.client_id)),
        ("aud", json!(audience)),
        ("exp", json!(now + app.access_token_lifetime)),
        ("iat", json!(now)),
        ("jti", json!(jti)),
        ("client_id", json!(app.client_id)),
        ("scope", json!(crate::scopes::join(scopes))),
    ] {
        at.insert(k.into(), v);
    }
    at
}

/// The `/userinfo` answer (OIDC Core 5.3.2): the custom ID-token claims stored at issuance,
/// then the profile claims the grant's scopes allow (as the user is now), then `sub`.
pub fn userinfo(stored_id_claims: Claims, user: &UserRow, scopes: &[String]) -> Claims {
    let mut out = stored_id_claims;
    out.extend(profile(user, scopes));
    out.insert("sub".into(), json!(user.id));
    out
}

#[cfg(test)]
mod tests;
