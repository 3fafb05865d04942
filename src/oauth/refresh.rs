//! The refresh-token grant (RFC 6749 6), with rotation on every use and reuse detection: a
//! second use of a rotated token revokes its whole family and the family's access tokens
//! (RFC 9700 4.14.2). Rotation commits with issuance, so a refresh that fails on our side (a
//! fail-closed hook, a timeout, the database) or that a hook denies leaves the token valid:
//! reuse detection is about theft, not about our errors. Of two concurrent uses, exactly one
//! rotates; the other gets `invalid_grant` without revoking anything. On every use the
//! user must still exist and be unblocked, the organization membership must still hold, the
//! client must still be allowed the grant, and a requested scope must be within the original.
//! Hooks run again, so changed metadata reaches the tokens without a new login.
//!
//! A refresh whose answer was lost (the node died after the commit, the connection dropped)
//! would otherwise strand the client: its retry presents a token that is now rotated, which is
//! reuse. So the successor of a token is derived from it (a keyed hash, unguessable without the
//! server's key), and a rotated token presented again within the retry grace window
//! (`--refresh-retry-grace-seconds`, default 5) while its successor is still unused gets that
//! same successor again, with new access and ID tokens. RFC 9700 4.14.2 allows such leeway.
//! Outside it nothing is weaker: after the window, or once the successor has been used, a
//! rotated token coming back is reuse and revokes the family.

use std::collections::HashMap;

use super::Issuing;
use super::OAuthError;
use super::client_auth::{ClientCredentials, client_for_grant};
use super::pipeline::{self, Login, Rotation, TokenResponse};
use super::token_form::{required, scope_list};
use crate::crypto::{Secret, SecretHasher};
use crate::db::Db;
use crate::flows::event::{self, RequestInfo};
use crate::metrics::{SecurityEvent, security_event};
use crate::store::orgs as org_store;
use crate::store::refresh_read::{self, RefreshRead};
use crate::store::refresh_tokens as refresh_store;
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
        deps.db.now(),
    )
    .await?;
    let token = required(form, "refresh_token")?;
    let invalid =
        || OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into());
    let hash = deps.secrets.hash(token);
    let now = deps.db.now();

    // Nothing is spent here: the token is rotated in the transaction that stores its successor
    // (pipeline::complete), so a refresh that fails on our side, or that a hook denies, leaves
    // it valid for the retry. The token, its user and, when the flow runs hooks (the event
    // needs them), the user's roles are one statement; the organization membership is read on
    // the same connection. A flow not in this node's cache decides nothing here: the event
    // reads the roles itself.
    let with_roles = deps.hooks.flows.binds_hooks(tenant_id, now) == Some(true);
    let (mut read, found) =
        refresh_read::read_token_user_roles(&deps.db.store, tenant_id, &hash, with_roles).await?;
    let RefreshRead {
        token: row,
        user,
        roles,
    } = found.ok_or_else(invalid)?;
    if row.client_id != app.client_id || row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    let roles = roles
        .filter(|_| user.is_some())
        .map(event::roles_and_permissions_of);
    let org = match (&row.org_id, &user) {
        (Some(id), Some(user)) => {
            let org = org_store::get(read.conn(), tenant_id, org_store::By::Id(id)).await?;
            let member = match &org {
                Some(o) => org_store::member_roles(read.conn(), &o.id, &user.id).await?,
                None => None,
            };
            Some((org, member))
        }
        _ => None,
    };
    drop(read);
    let successor = successor_of(deps.secrets, token);
    let retry = match row.used_at {
        None => false,
        Some(used) if is_retry(deps, &successor, used, now, &row).await? => {
            security_event!(deps.metrics, SecurityEvent::RefreshRetry,
                tenant = tenant_id, client = %row.client_id, user = %row.user_id,
                family = %row.family_id, "refresh retried within the grace window: its successor is issued again");
            true
        }
        Some(_) => {
            // A rotated token presented again: stolen, or replayed by a confused client. RFC
            // 9700 4.14.2: revoke the family (and its access tokens).
            revoke_family(deps.db, &row.family_id, now).await?;
            security_event!(deps.metrics, SecurityEvent::RefreshReuse,
                tenant = tenant_id, client = %row.client_id, user = %row.user_id,
                family = %row.family_id, "refresh token reuse: family revoked");
            return Err(invalid());
        }
    };
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
    let user = user.ok_or_else(invalid)?;
    if user.blocked {
        revoke_family(deps.db, &row.family_id, now).await?;
        return Err(OAuthError::InvalidGrant("the user is blocked".into()));
    }
    let (org, org_roles) = match org {
        None => (None, None),
        Some((org, member)) => {
            if member.is_none() {
                revoke_family(deps.db, &row.family_id, now).await?;
                return Err(OAuthError::InvalidGrant(
                    "the organization membership has ended".into(),
                ));
            }
            (org, member)
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
            rotates: Some(Rotation {
                hash,
                successor,
                retry,
            }),
            redirect_uri: None,
            sid: row.sid.clone(),
            roles,
            org_roles,
        },
    )
    .await
}

/// The refresh token that succeeds `token`: a keyed hash of it (with its own label, so it is no
/// other stored hash), so the same token always has the same successor.
fn successor_of(secrets: &SecretHasher, token: &str) -> Secret {
    Secret::new(format!(
        "rt_{}",
        secrets.hash(&format!("refresh-token-successor\0{token}"))
    ))
}

/// Whether a rotated token presented again is a retry of a refresh whose answer was lost:
/// within the grace window of its rotation, and its successor (of the same family) is still
/// unused and unrevoked. The grant re-checks the successor under a row lock when it commits.
async fn is_retry(
    deps: &Issuing<'_>,
    successor: &Secret,
    used_at: i64,
    now: i64,
    row: &refresh_store::RefreshRow,
) -> Result<bool, OAuthError> {
    // A grace of 0 is no leeway at all, even for a replay in the millisecond of the rotation
    // (RFC 9700 4.14.2: a rotated token presented again is reuse).
    if deps.refresh_retry_grace_ms == 0 || now.saturating_sub(used_at) > deps.refresh_retry_grace_ms
    {
        return Ok(false);
    }
    let hash = deps.secrets.hash(successor.expose());
    Ok(
        match refresh_store::refresh_by_hash(&deps.db.store, &row.tenant_id, &hash).await? {
            Some(next) => {
                next.family_id == row.family_id
                    && next.used_at.is_none()
                    && next.revoked_at.is_none()
            }
            None => false,
        },
    )
}

/// Revokes a refresh-token family (and its access tokens) in a write transaction of its own.
async fn revoke_family(db: &Db, family_id: &str, now: i64) -> Result<(), OAuthError> {
    let mut tx = db.store.begin_write().await?;
    refresh_store::revoke_family(&mut tx, family_id, now).await?;
    tx.commit().await?;
    Ok(())
}
