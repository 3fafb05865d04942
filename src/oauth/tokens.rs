//! Token assembly: the ID token (OIDC Core 2) and the JWT access token (RFC 9068), with the
//! hooks' custom claims merged over the base claims (restricted names were already refused by
//! the hook host, so a custom claim can never replace a protocol claim).

use serde_json::{Map, Value, json};

use super::{OAuthError, userinfo_url};
use crate::services::Services;
use crate::store::apps::AppRow;
use crate::store::users::UserRow;

/// Standard claims of the user allowed by `scopes` (OIDC Core 5.4). Every name it can emit is
/// in `hooks::claims::PROFILE_CLAIMS`, so no hook or template claim is ever replaced by one.
pub fn profile_claims(user: &UserRow, scopes: &[String]) -> Map<String, Value> {
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
        m.insert("email_verified".into(), json!(user.email_verified != 0));
    }
    m
}

/// What a grant issues.
#[derive(Debug)]
pub struct Issued {
    /// The access token (JWT, `typ: at+jwt`).
    pub access_token: String,
    /// Its `jti`.
    pub jti: String,
    /// Seconds.
    pub expires_in: i64,
    /// The ID token, when `openid` was granted.
    pub id_token: Option<String>,
}

/// Inputs of token assembly.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// The tenant's issuer.
    pub issuer: &'a str,
    /// The tenant id.
    pub tenant_id: &'a str,
    /// The user.
    pub user: &'a UserRow,
    /// The application.
    pub app: &'a AppRow,
    /// Granted scopes (after hook changes).
    pub scopes: &'a [String],
    /// The API the access token is for.
    pub audience: Option<&'a str>,
    /// The organization of the login.
    pub org_id: Option<&'a str>,
    /// Custom ID-token claims.
    pub id_claims: &'a Map<String, Value>,
    /// Custom access-token claims.
    pub access_claims: &'a Map<String, Value>,
    /// When the user authenticated (epoch seconds).
    pub auth_time: i64,
    /// The access token's `jti` (chosen before the flow ran, so its trace can name it).
    pub jti: &'a str,
    /// The authorization request's `nonce` (OIDC Core 3.1.2.1), echoed in the ID token.
    pub nonce: Option<&'a str>,
    /// The login session (`sid`).
    pub sid: Option<&'a str>,
}

/// `at_hash` (OIDC Core 3.1.3.6): the left half of the access token's hash, with the hash of
/// the signing algorithm (SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519).
pub fn at_hash(alg: &str, access_token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest: Vec<u8> = if alg == "EdDSA" {
        sha2::Sha512::digest(access_token.as_bytes()).to_vec()
    } else {
        sha2::Sha256::digest(access_token.as_bytes()).to_vec()
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// Signs both tokens with the application's algorithm.
pub async fn issue(svc: &Services, r: &TokenRequest<'_>) -> Result<Issued, OAuthError> {
    let now_ms = svc.now();
    let now = now_ms / 1000;
    let key = svc
        .keys
        .signing_key(&svc.store, r.tenant_id, &r.app.signing_alg, now_ms)
        .await?;
    let openid = r.scopes.iter().any(|s| s == "openid");

    // RFC 9068 2.2: aud is the API; the tenant's /userinfo is an audience too when openid was
    // granted, so the same token works there.
    let mut aud: Vec<String> = r.audience.map(|a| vec![a.to_string()]).unwrap_or_default();
    if openid || aud.is_empty() {
        aud.push(userinfo_url(r.issuer));
    }
    let jti = r.jti.to_string();
    let mut at = r.access_claims.clone();
    for (k, v) in [
        ("iss", json!(r.issuer)),
        ("sub", json!(r.user.id)),
        (
            "aud",
            if aud.len() == 1 {
                json!(aud[0])
            } else {
                json!(aud)
            },
        ),
        ("exp", json!(now + r.app.access_token_lifetime)),
        ("iat", json!(now)),
        ("jti", json!(jti)),
        ("client_id", json!(r.app.client_id)),
        ("scope", json!(r.scopes.join(" "))),
    ] {
        at.insert(k.into(), v);
    }
    if let Some(o) = r.org_id {
        at.insert("org_id".into(), json!(o));
    }
    let access_token = key.sign("at+jwt", &Value::Object(at))?;

    let id_token = if openid {
        let mut it = r.id_claims.clone();
        it.extend(profile_claims(r.user, r.scopes));
        for (k, v) in [
            ("iss", json!(r.issuer)),
            ("sub", json!(r.user.id)),
            ("aud", json!(r.app.client_id)),
            ("exp", json!(now + r.app.id_token_lifetime)),
            ("iat", json!(now)),
            ("auth_time", json!(r.auth_time)),
            ("azp", json!(r.app.client_id)),
            ("at_hash", json!(at_hash(&r.app.signing_alg, &access_token))),
        ] {
            it.insert(k.into(), v);
        }
        if let Some(n) = r.nonce {
            it.insert("nonce".into(), json!(n));
        }
        if let Some(sid) = r.sid {
            it.insert("sid".into(), json!(sid));
        }
        if let Some(o) = r.org_id {
            it.insert("org_id".into(), json!(o));
        }
        Some(key.sign("JWT", &Value::Object(it))?)
    } else {
        None
    };
    Ok(Issued {
        access_token,
        jti,
        expires_in: r.app.access_token_lifetime,
        id_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::claims::PROFILE_CLAIMS;

    /// Claim precedence (docs/hooks.md): hooks and templates may not set a profile claim, so
    /// the list must hold every claim the profile can put in a token.
    #[test]
    fn every_profile_claim_is_restricted() {
        let some = |s: &str| Some(s.to_string());
        let user = UserRow {
            id: "usr_1".into(),
            tenant_id: "ten_1".into(),
            email: "ada@example.com".into(),
            email_normalized: "ada@example.com".into(),
            email_verified: 1,
            password_hash: None,
            name: some("Ada Lovelace"),
            given_name: some("Ada"),
            family_name: some("Lovelace"),
            nickname: some("ada"),
            picture: some("https://example.com/a.png"),
            blocked: 0,
            user_metadata: "{}".into(),
            app_metadata: "{}".into(),
            external_id: None,
            created_at: 0,
            updated_at: 0,
            last_login: None,
            logins_count: 0,
        };
        let all = profile_claims(&user, &["profile".into(), "email".into()]);
        for name in all.keys() {
            assert!(PROFILE_CLAIMS.contains(&name.as_str()), "{name}");
        }
        assert!(all.len() >= 8);
    }
}
