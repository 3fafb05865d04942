//! The post-login pipeline every grant that logs a user in shares: build the event, run the
//! tenant's flow, apply its outcome (claims, scopes, metadata writes), sign the tokens, and
//! persist the grant (and a rotated refresh token) in one transaction.

use serde::Serialize;
use serde_json::{Value, json};

use super::OAuthError;
use super::event::{self, RequestInfo};
use super::tokens::{self, TokenRequest};
use crate::crypto::random_secret;
use crate::hooks::event::Protocol;
use crate::hooks::registry;
use crate::hooks::runtime::FlowStatus;
use crate::ids::{IdKind, new_id};
use crate::metadata;
use crate::services::Services;
use crate::store::apps::AppRow;
use crate::store::keys::{self as key_store, GrantRow, RefreshRow};
use crate::store::orgs::OrgRow;
use crate::store::users::{self as user_store, UserRow};

/// A successful token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// The ID token when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes.
    pub scope: String,
}

/// One login to complete.
#[derive(Debug)]
pub struct Login<'a> {
    /// (tenant id, tenant name).
    pub tenant: (&'a str, &'a str),
    /// The application.
    pub app: &'a AppRow,
    /// The authenticated user.
    pub user: UserRow,
    /// The organization of the login.
    pub org: Option<OrgRow>,
    /// How the user logged in.
    pub protocol: Protocol,
    /// Scopes requested (and allowed).
    pub scopes: Vec<String>,
    /// The API.
    pub audience: Option<String>,
    /// The request.
    pub request: &'a RequestInfo,
    /// A password to rehash into argon2id (an imported or weaker hash verified).
    pub rehash_password: Option<String>,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// The refresh-token family being rotated (refresh grant).
    pub family: Option<String>,
}

/// Runs the pipeline and issues the tokens.
pub async fn complete(svc: &Services, l: Login<'_>) -> Result<TokenResponse, OAuthError> {
    let (tenant_id, tenant_name) = l.tenant;
    let issuer = svc.issuer(tenant_name);
    let ev = event::build(
        svc,
        l.tenant,
        &l.user,
        l.org.as_ref(),
        l.app,
        l.protocol,
        &l.scopes,
        l.audience.as_deref(),
        l.request,
    )
    .await?;
    let steps = registry::load_flow(svc, tenant_id).await?;
    let protocol = match l.protocol {
        Protocol::Password => "password",
        Protocol::AuthorizationCode => "authorization_code",
        Protocol::RefreshToken => "refresh_token",
    };
    let context = format!("login:{protocol}:{}", l.user.id);
    let outcome = registry::run_flow(svc, tenant_id, steps, &ev, &context).await?;
    match &outcome.status {
        FlowStatus::Success => {}
        FlowStatus::Denied { reason, .. } => return Err(OAuthError::AccessDenied(reason.clone())),
        FlowStatus::Failed {
            hook,
            code,
            message,
        } => {
            return Err(OAuthError::Server(format!(
                "hook {hook} failed ({code}): {message}"
            )));
        }
    }
    let mut scopes = l.scopes.clone();
    outcome.apply_scopes(&mut scopes);
    let grants: Vec<String> = serde_json::from_str(&l.app.grant_types).unwrap_or_default();
    let refresh =
        scopes.iter().any(|s| s == "offline_access") && grants.iter().any(|g| g == "refresh_token");
    if !refresh {
        scopes.retain(|s| s != "offline_access");
    }

    let rehash = match l.rehash_password.clone() {
        Some(pw) => {
            let h = svc.passwords.clone();
            tokio::task::spawn_blocking(move || h.hash(&pw))
                .await
                .ok()
                .and_then(Result::ok)
        }
        None => None,
    };
    // Sign before taking the write lock: a tenant's first token generates its signing key,
    // which is its own write.
    let issued = tokens::issue(
        svc,
        &TokenRequest {
            issuer: &issuer,
            tenant_id,
            user: &l.user,
            app: l.app,
            scopes: &scopes,
            audience: l.audience.as_deref(),
            org_id: l.org.as_ref().map(|o| o.id.as_str()),
            id_claims: &outcome.id_token_claims,
            access_claims: &outcome.access_token_claims,
            auth_time: l.auth_time,
        },
    )
    .await?;
    let now = svc.now();
    let refresh_token = refresh.then(|| random_secret("rt_"));
    let mut tx = svc.store.begin_write().await?;
    let mut row = user_store::get(
        &mut *tx,
        tenant_id,
        user_store::By::Id(&l.user.id),
        svc.store.for_update(),
    )
    .await?
    .ok_or_else(|| OAuthError::InvalidGrant("the user no longer exists".into()))?;
    for (writes, slot) in [
        (&outcome.user_metadata, &mut row.user_metadata),
        (&outcome.app_metadata, &mut row.app_metadata),
    ] {
        if !writes.is_empty() {
            let cur: Value = serde_json::from_str(slot).unwrap_or(json!({}));
            *slot = metadata::merge(&cur, &Value::Object(writes.clone()))
                .map_err(|e| OAuthError::Server(format!("hook metadata write refused: {e}")))?
                .to_string();
        }
    }
    if let Some(h) = rehash {
        row.password_hash = Some(h);
    }
    // A refresh is not a new login: it does not count as one.
    if l.protocol != Protocol::RefreshToken {
        row.last_login = Some(now);
        row.logins_count += 1;
    }
    row.updated_at = now;
    user_store::update(&mut tx, &row).await?;
    key_store::insert_grant(
        &mut tx,
        &GrantRow {
            jti: issued.jti.clone(),
            tenant_id: tenant_id.into(),
            user_id: row.id.clone(),
            client_id: l.app.client_id.clone(),
            scope: scopes.join(" "),
            id_claims: Value::Object(outcome.id_token_claims.clone()).to_string(),
            expires_at: now + issued.expires_in * 1000,
            revoked_at: None,
        },
    )
    .await?;
    if let Some(rt) = &refresh_token {
        key_store::insert_refresh(
            &mut tx,
            &RefreshRow {
                token_hash: svc.secrets.hash(rt.expose()),
                family_id: l
                    .family
                    .clone()
                    .unwrap_or_else(|| new_id(IdKind::AccessToken, now)),
                tenant_id: tenant_id.into(),
                user_id: row.id.clone(),
                client_id: l.app.client_id.clone(),
                org_id: l.org.as_ref().map(|o| o.id.clone()),
                scope: scopes.join(" "),
                audience: l.audience.clone(),
                auth_time: l.auth_time,
                created_at: now,
                expires_at: now + l.app.refresh_token_lifetime * 1000,
                used_at: None,
                revoked_at: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        id_token: issued.id_token,
        refresh_token: refresh_token.map(|t| t.expose().to_string()),
        scope: scopes.join(" "),
    })
}
