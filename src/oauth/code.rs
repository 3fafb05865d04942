//! The authorization-code grant (RFC 6749 4.1.3) with PKCE (RFC 7636).
//!
//! The post-login flow already ran when the code was issued; the exchange checks the code, the
//! client, the redirect URI and the verifier, then signs. A code works once: a second exchange
//! is refused and revokes what the first one issued (RFC 6749 4.1.2, RFC 9700 4.5).

use std::collections::HashMap;

use base64::Engine as _;
use sha2::Digest as _;

use super::Issuing;
use super::OAuthError;
use super::client_auth::{ClientCredentials, client_for_grant};
use super::pipeline::{self, Decision, Issue, TokenResponse};
use super::token_form::required;
use crate::crypto::constant_time_eq;
use crate::metrics::{SecurityEvent, security_event};
use crate::store::codes as store;
use crate::store::grants as grant_store;
use crate::store::orgs as org_store;
use crate::store::refresh_tokens as refresh_store;
use crate::store::users as user_store;

/// RFC 7636 4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn verifier_ok(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 transformation (RFC 7636 4.2).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// Revokes what a code issued (its access grant and refresh-token family, with the family's
/// access tokens). Reads the code again first: a caller that lost a race read the row before
/// the winner committed the family it issued, and revoking from that stale row would let the
/// winner's refresh family live (RFC 6749 4.1.2, RFC 9700 4.5). The winner's commit is
/// visible by now: the loser's conditional update waited for its row lock (PostgreSQL) or
/// for the writer slot (SQLite).
async fn revoke_issued(deps: &Issuing<'_>, tenant_id: &str, hash: &str) -> Result<(), OAuthError> {
    let Some(row) = store::code(&deps.db.store, tenant_id, hash).await? else {
        return Ok(());
    };
    let now = deps.db.now();
    let mut tx = deps.db.store.begin_write().await?;
    grant_store::revoke_grant(&mut tx, &row.tenant_id, &row.jti, &row.client_id, now).await?;
    if let Some(f) = &row.family_id {
        refresh_store::revoke_family(&mut tx, f, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Runs the authorization-code grant.
pub async fn grant(
    deps: &Issuing<'_>,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let tenant_id = tenant.0;
    let app = client_for_grant(
        &deps.db.store,
        deps.secrets,
        tenant_id,
        &creds,
        "authorization_code",
        deps.db.now(),
    )
    .await?;
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let verifier = form.get("code_verifier").filter(|s| !s.is_empty());
    if let Some(v) = verifier
        && !verifier_ok(v)
    {
        return Err(OAuthError::InvalidRequest(
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]".into(),
        ));
    }
    let invalid = || OAuthError::InvalidGrant("the code is invalid, expired or used".into());
    let hash = deps.secrets.hash(code);
    let now = deps.db.now();
    let row = store::code(&deps.db.store, tenant_id, &hash)
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != app.client_id {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        security_event!(deps.metrics, SecurityEvent::CodeReplay,
            tenant = tenant_id, client = %row.client_id, user = %row.user_id,
            "authorization code replayed: revoking its tokens");
        revoke_issued(deps, tenant_id, &hash).await?;
        return Err(invalid());
    }
    if row.expires_at <= now {
        return Err(invalid());
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri does not match the authorization request".into(),
        ));
    }
    // PKCE (RFC 7636 4.6); a verifier for a code issued without a challenge is a downgrade
    // attempt (RFC 9700 2.1.1) and refused too.
    match (&row.code_challenge, verifier) {
        (Some(challenge), Some(v)) => {
            if !constant_time_eq(s256(v).as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::InvalidGrant(
                    "code_verifier does not match the code_challenge".into(),
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::InvalidGrant("code_verifier is required".into()));
        }
        (None, Some(_)) => {
            return Err(OAuthError::InvalidGrant(
                "a code_verifier was sent for a code issued without a code_challenge".into(),
            ));
        }
        (None, None) => {}
    }

    let user = user_store::get(
        deps.db.store.read().await?.conn(),
        tenant_id,
        user_store::By::Id(&row.user_id),
    )
    .await?
    .filter(|u| !u.blocked)
    .ok_or_else(|| OAuthError::InvalidGrant("the user is blocked or was deleted".into()))?;
    if let Some(org_id) = &row.org_id
        && org_store::member_roles(deps.db.store.read().await?.conn(), org_id, &user.id)
            .await?
            .is_none()
    {
        return Err(OAuthError::InvalidGrant(
            "the organization membership has ended".into(),
        ));
    }

    let scopes = crate::scopes::parse(&row.scope);
    let decision = Decision {
        jti: row.jti.clone(),
        refresh: scopes.iter().any(|s| s == "offline_access"),
        scopes,
        id_claims: row.id_claims.clone(),
        access_claims: row.access_claims.clone(),
        trace: None,
        trace_routine: false,
    };
    let issue = Issue {
        tenant,
        app: &app,
        user: &user,
        org_id: row.org_id.as_deref(),
        audience: row.audience.as_deref(),
        decision: &decision,
        auth_time: row.auth_time,
        nonce: row.nonce.as_deref(),
        sid: row.sid.as_deref(),
        family: None,
        rotation: None,
    };
    let signed = pipeline::sign(deps, &issue).await?;
    let mut tx = deps.db.store.begin_write().await?;
    if !store::consume_code(&mut tx, &hash, signed.family_id.as_deref(), now).await? {
        // Another exchange won the race: this one is a replay.
        drop(tx);
        security_event!(deps.metrics, SecurityEvent::CodeReplay,
            tenant = tenant_id, client = %row.client_id, user = %row.user_id,
            "authorization code exchanged concurrently: revoking its tokens");
        revoke_issued(deps, tenant_id, &hash).await?;
        return Err(invalid());
    }
    pipeline::persist(deps, &mut tx, &issue, &signed).await?;
    tx.commit().await?;
    Ok(pipeline::response(signed, &decision))
}
