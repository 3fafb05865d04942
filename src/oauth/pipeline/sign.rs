//! The token half of the pipeline: signing the tokens and recording the grant and the
//! refresh token.

use super::{Decision, TokenResponse};
use crate::crypto::{Secret, random_secret};
use crate::ids::{IdKind, new_id};
use crate::oauth::Issuing;
use crate::oauth::OAuthError;
use crate::oauth::tokens::{self, TokenRequest};
use crate::store::WriteTx;
use crate::store::apps::AppRow;
use crate::store::grants::{self as grant_store, GrantRow};
use crate::store::refresh_tokens::{self as refresh_store, RefreshRow};
use crate::store::users::UserRow;

/// Everything needed to sign and record one issuance.
#[derive(Debug)]
pub struct Issue<'a> {
    /// (tenant id, tenant name).
    pub tenant: (&'a str, &'a str),
    /// The application.
    pub app: &'a AppRow,
    /// The user.
    pub user: &'a UserRow,
    /// The organization of the login.
    pub org_id: Option<&'a str>,
    /// The API.
    pub audience: Option<&'a str>,
    /// The flow's decision.
    pub decision: &'a Decision,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// OIDC `nonce` (code flow).
    pub nonce: Option<&'a str>,
    /// The login session.
    pub sid: Option<&'a str>,
    /// The family a rotated refresh token continues.
    pub family: Option<String>,
    /// The rotation of a refresh grant: its successor is the new refresh token.
    pub rotation: Option<&'a super::Rotation>,
}

/// Signed tokens, not yet recorded.
#[derive(Debug)]
pub struct Signed {
    issued: tokens::Issued,
    refresh_token: Option<Secret>,
    /// The refresh-token family, when a refresh token was issued.
    pub family_id: Option<String>,
}

/// Signs the tokens. Done before the write transaction: a tenant's first token generates its
/// signing key, which is a write of its own.
pub async fn sign(deps: &Issuing<'_>, i: &Issue<'_>) -> Result<Signed, OAuthError> {
    let issuer = deps.issuers.of(i.tenant.1);
    let d = i.decision;
    let issued = tokens::issue(
        deps.db,
        deps.keys,
        &TokenRequest {
            issuer: &issuer,
            tenant_id: i.tenant.0,
            user: i.user,
            app: i.app,
            scopes: &d.scopes,
            audience: i.audience,
            org_id: i.org_id,
            id_claims: &d.id_claims,
            access_claims: &d.access_claims,
            auth_time: i.auth_time,
            jti: &d.jti,
            nonce: i.nonce,
            sid: i.sid,
        },
    )
    .await?;
    let refresh_token = d.refresh.then(|| match i.rotation {
        Some(r) => r.successor.clone(),
        None => random_secret("rt_"),
    });
    let family_id = d.refresh.then(|| {
        i.family
            .clone()
            .unwrap_or_else(|| new_id(IdKind::RefreshFamily, deps.db.now()))
    });
    Ok(Signed {
        issued,
        refresh_token,
        family_id,
    })
}

/// The rows an issuance stores: the grant (what `/userinfo` answers) and the new refresh
/// token, unless this is a retry that re-issues a successor stored already.
pub fn rows(deps: &Issuing<'_>, i: &Issue<'_>, s: &Signed) -> (GrantRow, Option<RefreshRow>) {
    let now = deps.db.now();
    let d = i.decision;
    let grant = GrantRow {
        jti: s.issued.jti.clone(),
        tenant_id: i.tenant.0.into(),
        user_id: i.user.id.clone(),
        client_id: i.app.client_id.clone(),
        scope: d.scopes.join(" "),
        id_claims: d.id_claims.clone(),
        expires_at: now + s.issued.expires_in * 1000,
        revoked_at: None,
        family_id: s.family_id.clone().or_else(|| i.family.clone()),
    };
    let stored = i.rotation.is_some_and(|r| r.retry);
    let refresh = match (&s.refresh_token, &s.family_id, stored) {
        (Some(rt), Some(family), false) => Some(RefreshRow {
            token_hash: deps.secrets.hash(rt.expose()),
            family_id: family.clone(),
            tenant_id: i.tenant.0.into(),
            user_id: i.user.id.clone(),
            client_id: i.app.client_id.clone(),
            org_id: i.org_id.map(str::to_string),
            scope: d.scopes.join(" "),
            audience: i.audience.map(str::to_string),
            auth_time: i.auth_time,
            created_at: now,
            expires_at: now + i.app.refresh_token_lifetime * 1000,
            used_at: None,
            revoked_at: None,
            sid: i.sid.map(str::to_string),
        }),
        _ => None,
    };
    (grant, refresh)
}

/// Records the grant and the refresh token ([`rows`]) inside `tx`.
pub async fn persist(
    deps: &Issuing<'_>,
    tx: &mut WriteTx,
    i: &Issue<'_>,
    s: &Signed,
) -> Result<(), OAuthError> {
    let (grant, refresh) = rows(deps, i, s);
    grant_store::insert_grant(tx, &grant).await?;
    if let Some(r) = refresh {
        refresh_store::insert_refresh(tx, &r).await?;
    }
    Ok(())
}

/// The token response for signed tokens.
pub fn response(s: Signed, d: &Decision) -> TokenResponse {
    TokenResponse {
        access_token: s.issued.access_token,
        token_type: "Bearer",
        expires_in: s.issued.expires_in,
        id_token: s.issued.id_token,
        refresh_token: s.refresh_token.map(|t| t.expose().to_string()),
        scope: d.scopes.join(" "),
    }
}
