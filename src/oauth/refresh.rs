//! The refresh-token grant (RFC 6749 6), with rotation on every use and reuse detection: a
//! second use of a rotated token revokes its whole family and the family's access tokens
//! (RFC 9700 4.14.2). Rotation commits with issuance, so a refresh that fails on our side (a
//! fail-closed hook, a timeout, the database) or that a hook denies leaves the token valid:
//! reuse detection is about theft, not about our errors. Of two concurrent uses, exactly one
//! rotates; the other gets `invalid_grant` without revoking anything. On every use the
//! user must still exist and be unblocked, the organization membership must still hold, the
//! client must still be allowed the grant, and a requested scope must be within the original.
//! Hooks run again, so changed metadata reaches the tokens without a new login.

use std::collections::HashMap;

use super::Issuing;
use super::OAuthError;
use super::client_auth::{ClientCredentials, client_for_grant};
use super::pipeline::{self, Login, TokenResponse};
use super::token_form::{required, scope_list};
use crate::db::Db;
use crate::flows::event::RequestInfo;
use crate::metrics::{SecurityEvent, security_event};
use crate::store::orgs as org_store;
use crate::store::refresh_tokens as refresh_store;
use crate::store::users as user_store;
use sigil_hooks::event::Protocol;

/// Runs the refresh grant.
pub async fn grant(
    deps: &Issuing<'_>,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
    request: &RequestInfo,
) -> Result<TokenResponse, OAuthError> {
    let tenant_id = tenant.0;
    let app = client_for_grant(
        &deps.db.store,
        deps.secrets,
        tenant_id,
        &creds,
        "refresh_token",
    )
    .await?;
    let token = required(form, "refresh_token")?;
    let invalid =
        || OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into());
    let hash = deps.secrets.hash(token);
    let now = deps.db.now();

    // Nothing is spent here: the token is rotated in the transaction that stores its successor
    // (pipeline::complete), so a refresh that fails on our side, or that a hook denies, leaves
    // it valid for the retry.
    let row = refresh_store::refresh_by_hash(&deps.db.store, tenant_id, &hash)
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != app.client_id || row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        // A rotated token presented again: stolen, or replayed by a confused client. RFC 9700
        // 4.14.2: revoke the family (and its access tokens).
        revoke_family(deps.db, &row.family_id, now).await?;
        security_event!(deps.metrics, SecurityEvent::RefreshReuse,
            tenant = tenant_id, client = %row.client_id, user = %row.user_id,
            family = %row.family_id, "refresh token reuse: family revoked");
        return Err(invalid());
    }
    let original = crate::scopes::parse(&row.scope);
    let scopes = match scope_list(form) {
        None => original.clone(),
        Some(asked) => {
            if let Some(extra) = asked.iter().find(|x| !original.contains(x)) {
                return Err(OAuthError::InvalidScope(format!(
                    "scope `{extra}` was not granted originally"
                )));
            }
            asked
        }
    };

    let user = user_store::get(
        deps.db.store.pool(),
        tenant_id,
        user_store::By::Id(&row.user_id),
    )
    .await?
    .ok_or_else(invalid)?;
    if user.blocked {
        revoke_family(deps.db, &row.family_id, now).await?;
        return Err(OAuthError::InvalidGrant("the user is blocked".into()));
    }
    let org = match &row.org_id {
        None => None,
        Some(id) => {
            let org =
                org_store::get(deps.db.store.pool(), tenant_id, org_store::By::Id(id)).await?;
            let mut conn = deps.db.store.pool().acquire().await?;
            let member = match &org {
                Some(o) => org_store::member(&mut conn, &o.id, &user.id).await?,
                None => None,
            };
            if member.is_none() {
                revoke_family(deps.db, &row.family_id, now).await?;
                return Err(OAuthError::InvalidGrant(
                    "the organization membership has ended".into(),
                ));
            }
            org
        }
    };
    pipeline::complete(
        deps,
        Login {
            tenant,
            app: &app,
            user,
            org,
            protocol: Protocol::RefreshToken,
            scopes,
            audience: row.audience.clone(),
            request,
            rehash_password: None,
            auth_time: row.auth_time,
            family: Some(row.family_id.clone()),
            rotates: Some(hash),
            redirect_uri: None,
            sid: row.sid.clone(),
        },
    )
    .await
}

/// Revokes a refresh-token family (and its access tokens) in a write transaction of its own.
async fn revoke_family(db: &Db, family_id: &str, now: i64) -> Result<(), OAuthError> {
    let mut tx = db.store.begin_write().await?;
    refresh_store::revoke_family(&mut tx, family_id, now).await?;
    tx.commit().await?;
    Ok(())
}
