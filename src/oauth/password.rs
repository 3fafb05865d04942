//! The resource owner password grant (RFC 6749 4.3), for applications with their own login
//! form. Off unless a confidential application enables it (RFC 9700 2.4 discourages it).
//!
//! Unknown users and wrong passwords get byte-identical replies, and both pay one argon2id
//! verification (against a dummy hash for unknown users), so neither the message nor the
//! timing tells whether an account exists.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::event::{self, RequestInfo};
use super::tokens::{self, TokenRequest};
use super::{OAuthError, OIDC_SCOPES};
use crate::hooks::event::Protocol;
use crate::hooks::registry;
use crate::hooks::runtime::FlowStatus;
use crate::manage::validate::normalize_email;
use crate::metadata;
use crate::passwords::Verified;
use crate::services::Services;
use crate::store::apis::{self as api_store};
use crate::store::apps::{self as app_store, AppRow};
use crate::store::keys::{self as key_store, GrantRow};
use crate::store::orgs::{self as org_store, OrgRow};
use crate::store::users::{self as user_store};

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
    /// Granted scopes.
    pub scope: String,
}

const WRONG_CREDENTIALS: &str = "Wrong email or password.";

/// Client credentials as presented (Basic header or form fields).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (never logged).
    pub client_secret: Option<String>,
}

/// Authenticates a confidential client (client_secret_basic / client_secret_post).
pub async fn authenticate_client(
    svc: &Services,
    tenant_id: &str,
    creds: &ClientCredentials,
) -> Result<AppRow, OAuthError> {
    let id = creds
        .client_id
        .as_deref()
        .ok_or(OAuthError::InvalidClient)?;
    let app = app_store::get(svc.store.pool(), tenant_id, id, "")
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    match (&app.secret_hash, &creds.client_secret) {
        (Some(hash), Some(secret)) if svc.secrets.verify(secret, hash) => Ok(app),
        _ => Err(OAuthError::InvalidClient),
    }
}

/// Runs the password grant.
pub async fn grant(
    svc: &Services,
    tenant: (&str, &str),
    creds: ClientCredentials,
    form: &HashMap<String, String>,
    request: &RequestInfo,
) -> Result<TokenResponse, OAuthError> {
    let (tenant_id, tenant_name) = tenant;
    let issuer = svc.issuer(tenant_name);
    let app = authenticate_client(svc, tenant_id, &creds).await?;
    let grants: Vec<String> = serde_json::from_str(&app.grant_types).unwrap_or_default();
    if !grants.iter().any(|g| g == "password") {
        return Err(OAuthError::UnauthorizedClient(
            "the password grant is not enabled for this application".into(),
        ));
    }
    let username = form
        .get("username")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("username is required".into()))?;
    let password = form
        .get("password")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("password is required".into()))?;

    let audience = form.get("audience").filter(|s| !s.is_empty()).cloned();
    let api = match &audience {
        Some(a) => Some(
            api_store::get(
                svc.store.pool(),
                tenant_id,
                api_store::By::Identifier(a),
                "",
            )
            .await?
            .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown audience `{a}`")))?,
        ),
        None => None,
    };
    let api_scopes: Vec<String> = api
        .as_ref()
        .map(|a| {
            serde_json::from_str::<Vec<Value>>(&a.scopes)
                .unwrap_or_default()
                .iter()
                .filter_map(|s| s["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let requested: Vec<String> = form
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for s in &requested {
        if !OIDC_SCOPES.contains(&s.as_str()) && !api_scopes.contains(s) {
            return Err(OAuthError::InvalidScope(format!(
                "scope `{s}` is not defined"
            )));
        }
    }

    // Authenticate the user: one argon2id verification whatever happens.
    let email = normalize_email(username);
    let user = user_store::get(
        svc.store.pool(),
        tenant_id,
        user_store::By::Email(&email),
        "",
    )
    .await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| svc.dummy_hash.clone());
    let hasher = svc.passwords.clone();
    let pw = password.clone();
    let verified = tokio::task::spawn_blocking(move || hasher.verify(&pw, &stored))
        .await
        .map_err(|e| OAuthError::Server(e.to_string()))?;
    let user = match (user, verified) {
        (Some(u), Verified::Yes | Verified::YesRehash) if u.password_hash.is_some() => u,
        _ => return Err(OAuthError::InvalidGrant(WRONG_CREDENTIALS.into())),
    };
    if user.blocked != 0 {
        return Err(OAuthError::InvalidGrant("the user is blocked".into()));
    }

    let org: Option<OrgRow> = match form.get("organization").filter(|s| !s.is_empty()) {
        None => None,
        Some(o) => {
            let by_id =
                org_store::get(svc.store.pool(), tenant_id, org_store::By::Id(o), "").await?;
            let found = match by_id {
                Some(x) => Some(x),
                None => org_store::list(svc.store.pool(), tenant_id, None, Some(o), None, 1)
                    .await?
                    .items
                    .into_iter()
                    .next(),
            };
            let org = found
                .ok_or_else(|| OAuthError::InvalidRequest(format!("unknown organization `{o}`")))?;
            let mut conn = svc.store.pool().acquire().await?;
            if org_store::member(&mut conn, &org.id, &user.id)
                .await?
                .is_none()
            {
                return Err(OAuthError::InvalidGrant(
                    "the user is not a member of the organization".into(),
                ));
            }
            Some(org)
        }
    };

    // The post-login pipeline.
    let ev = event::build(
        svc,
        tenant,
        &user,
        org.as_ref(),
        &app,
        Protocol::Password,
        &requested,
        audience.as_deref(),
        request,
    )
    .await?;
    let steps = registry::load_flow(svc, tenant_id).await?;
    let context = format!("login:password:{}", user.id);
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
    let mut scopes = requested.clone();
    outcome.apply_scopes(&mut scopes);
    scopes.retain(|s| s != "offline_access"); // refresh tokens arrive with the refresh grant

    // Persist in one transaction: metadata writes, the login count, a rehash, the grant.
    let rehash = if verified == Verified::YesRehash {
        let h = svc.passwords.clone();
        let pw = password.clone();
        tokio::task::spawn_blocking(move || h.hash(&pw))
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    let now = svc.now();
    // Sign before taking the write lock: a tenant's first token generates its signing key,
    // which is its own write.
    let issued = tokens::issue(
        svc,
        &TokenRequest {
            issuer: &issuer,
            tenant_id,
            user: &user,
            app: &app,
            scopes: &scopes,
            audience: audience.as_deref(),
            org_id: org.as_ref().map(|o| o.id.as_str()),
            id_claims: &outcome.id_token_claims,
            access_claims: &outcome.access_token_claims,
            auth_time: now / 1000,
        },
    )
    .await?;
    let mut tx = svc.store.begin_write().await?;
    let mut row = user_store::get(
        &mut *tx,
        tenant_id,
        user_store::By::Id(&user.id),
        svc.store.for_update(),
    )
    .await?
    .ok_or_else(|| OAuthError::InvalidGrant(WRONG_CREDENTIALS.into()))?;
    if !outcome.user_metadata.is_empty() {
        let cur: Value = serde_json::from_str(&row.user_metadata).unwrap_or(json!({}));
        row.user_metadata = metadata::merge(&cur, &Value::Object(outcome.user_metadata.clone()))
            .map_err(|e| OAuthError::Server(format!("hook metadata write refused: {e}")))?
            .to_string();
    }
    if !outcome.app_metadata.is_empty() {
        let cur: Value = serde_json::from_str(&row.app_metadata).unwrap_or(json!({}));
        row.app_metadata = metadata::merge(&cur, &Value::Object(outcome.app_metadata.clone()))
            .map_err(|e| OAuthError::Server(format!("hook metadata write refused: {e}")))?
            .to_string();
    }
    if let Some(h) = rehash {
        row.password_hash = Some(h);
    }
    row.last_login = Some(now);
    row.logins_count += 1;
    row.updated_at = now;
    user_store::update(&mut tx, &row).await?;

    key_store::insert_grant(
        &mut tx,
        &GrantRow {
            jti: issued.jti.clone(),
            tenant_id: tenant_id.into(),
            user_id: row.id.clone(),
            client_id: app.client_id.clone(),
            scope: scopes.join(" "),
            id_claims: Value::Object(outcome.id_token_claims.clone()).to_string(),
            expires_at: now + issued.expires_in * 1000,
            revoked_at: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        id_token: issued.id_token,
        scope: scopes.join(" "),
    })
}
