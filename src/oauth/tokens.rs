//! Token signing: the ID token (OIDC Core 2) and the JWT access token (RFC 9068) of a user's
//! grant, with the claims [`super::claims`] builds, signed with the application's algorithm
//! (RFC 8725 3.1: one algorithm per key, never taken from the token).

use serde_json::{Map, Value};

use super::claims::{self, UserGrant};
use super::{OAuthError, userinfo_url};
use crate::db::Db;
use crate::keys::KeyRing;
use crate::store::apps::AppRow;
use crate::store::users::UserRow;

/// What a grant issues.
#[derive(Debug)]
pub struct Issued {
    /// The access token (JWT, `typ: at+jwt`).
    pub access_token: String,
    /// Its `jti`.
    pub jti: String,
    /// Lifetime of the access token in seconds.
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

/// Signs both tokens with the application's algorithm; their claims come from
/// [`super::claims`].
pub async fn issue(db: &Db, keys: &KeyRing, r: &TokenRequest<'_>) -> Result<Issued, OAuthError> {
    let now_ms = db.now();
    let key = keys
        .signing_key(&db.store, r.tenant_id, r.app.signing_alg.as_str(), now_ms)
        .await?;
    let openid = r.scopes.iter().any(|s| s == "openid");
    // RFC 9068 2.2: aud is the API; the tenant's /userinfo is an audience too when openid was
    // granted, so the same token works there.
    let mut audiences: Vec<String> = r.audience.map(|a| vec![a.to_string()]).unwrap_or_default();
    if openid || audiences.is_empty() {
        audiences.push(userinfo_url(r.issuer));
    }
    let grant = UserGrant {
        issuer: r.issuer,
        user: r.user,
        app: r.app,
        scopes: r.scopes,
        audiences: &audiences,
        org_id: r.org_id,
        auth_time: r.auth_time,
        jti: r.jti,
        nonce: r.nonce,
        sid: r.sid,
        now: now_ms / 1000,
    };
    let at = claims::access_token(&grant, r.access_claims);
    let access_token = key.sign("at+jwt", &Value::Object(at))?;
    let id_token = if openid {
        let at_hash = at_hash(r.app.signing_alg.as_str(), &access_token);
        let it = claims::id_token(&grant, r.id_claims, &at_hash);
        Some(key.sign("JWT", &Value::Object(it))?)
    } else {
        None
    };
    Ok(Issued {
        access_token,
        jti: r.jti.to_string(),
        expires_in: r.app.access_token_lifetime,
        id_token,
    })
}
