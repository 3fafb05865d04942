//! The refresh-token grant (RFC 6749 6), with rotation on every use and reuse detection: a
//! second use of a rotated token revokes its whole family (RFC 9700 4.14.2). On every use the
//! user must still exist and be unblocked, the organization membership must still hold, the
//! client must still be allowed the grant, and a requested scope must be within the original.
//! Hooks run again, so changed metadata reaches the tokens without a new login.

use std::collections::HashMap;

use super::OAuthError;
use super::event::RequestInfo;
use super::login::{self, Login, TokenResponse};
use super::password::{ClientCredentials, client_for_grant, required, scope_list};
use crate::hooks::event::Protocol;
use crate::services::Services;
use crate::store::keys as key_store;
use crate::store::orgs as org_store;
use crate::store::users as user_store;

/// Runs the refresh grant.
pub async fn grant(
    svc: &Services,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
    request: &RequestInfo,
) -> Result<TokenResponse, OAuthError> {
    let tenant_id = tenant.0;
    let app = client_for_grant(svc, tenant_id, &creds, "refresh_token").await?;
    let token = required(form, "refresh_token")?;
    let invalid =
        || OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into());
    let hash = svc.secrets.hash(token);
    let now = svc.now();

    // Rotate under a lock: of two concurrent uses of one token, exactly one succeeds.
    let mut tx = svc.store.begin_write().await?;
    let row = key_store::refresh_for_update(&mut tx, tenant_id, &hash, svc.store.for_update())
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != app.client_id || row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        drop(tx);
        key_store::revoke_family(&svc.store, &row.family_id, now).await?;
        tracing::warn!(family = %row.family_id, "refresh token reuse: family revoked");
        return Err(invalid());
    }
    let original: Vec<String> = row
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
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
    key_store::mark_used(&mut tx, &hash, now).await?;
    tx.commit().await?;

    let user = user_store::get(
        svc.store.pool(),
        tenant_id,
        user_store::By::Id(&row.user_id),
        "",
    )
    .await?
    .ok_or_else(invalid)?;
    if user.blocked != 0 {
        key_store::revoke_family(&svc.store, &row.family_id, now).await?;
        return Err(OAuthError::InvalidGrant("the user is blocked".into()));
    }
    let org = match &row.org_id {
        None => None,
        Some(id) => {
            let org =
                org_store::get(svc.store.pool(), tenant_id, org_store::By::Id(id), "").await?;
            let mut conn = svc.store.pool().acquire().await?;
            let member = match &org {
                Some(o) => org_store::member(&mut conn, &o.id, &user.id).await?,
                None => None,
            };
            if member.is_none() {
                key_store::revoke_family(&svc.store, &row.family_id, now).await?;
                return Err(OAuthError::InvalidGrant(
                    "the organization membership has ended".into(),
                ));
            }
            org
        }
    };
    login::complete(
        svc,
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
            redirect_uri: None,
            sid: row.sid.clone(),
        },
    )
    .await
}
