//! The resource owner password grant (RFC 6749 4.3), for applications with their own login
//! form. Off unless a confidential application enables it (RFC 9700 2.4 discourages it).
//!
//! Unknown users and wrong passwords get byte-identical replies, and both pay one argon2id
//! verification (against a dummy hash for unknown users), so neither the message nor the
//! timing tells whether an account exists.

use std::collections::HashMap;

use super::client_auth::{ClientCredentials, client_for_grant};
use super::legacy_login::LegacyDeps;
use super::scope_policy::check_scopes;
use super::subject::member_org;
use super::token_form::{required, scope_list};
use super::user_auth::{PasswordLogin, authenticate_user};

use super::Issuing;
use super::OAuthError;
use super::pipeline::{self, Login, TokenResponse};
use crate::flows::event::RequestInfo;
use sigil_hooks::event::Protocol;

/// Runs the password grant.
pub async fn grant(
    deps: &Issuing<'_>,
    login: &PasswordLogin,
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
        "password",
        deps.db.now(),
    )
    .await?;
    let username = required(form, "username")?;
    let password = required(form, "password")?;

    let audience = form.get("audience").filter(|s| !s.is_empty()).cloned();
    let requested = scope_list(form).unwrap_or_default();
    check_scopes(&deps.db.store, tenant_id, audience.as_deref(), &requested).await?;

    let legacy = LegacyDeps {
        hooks: deps.hooks,
        secrets: deps.secrets,
    };
    let (user, rehash) = authenticate_user(
        deps.db,
        login,
        &legacy,
        tenant,
        username,
        password,
        &request.ip,
    )
    .await
    .map_err(OAuthError::from)?;

    let org = match form.get("organization").filter(|s| !s.is_empty()) {
        None => None,
        Some(o) => Some(
            member_org(&deps.db.store, tenant_id, o, &user.id)
                .await
                .map_err(|e| match e {
                    OAuthError::AccessDenied(m) => OAuthError::InvalidGrant(m),
                    other => other,
                })?,
        ),
    };

    pipeline::complete(
        deps,
        Login {
            tenant,
            app: &app,
            user,
            org,
            protocol: Protocol::Password,
            scopes: requested,
            audience,
            request,
            rehash_password: rehash.then(|| crate::crypto::Secret::new(password.to_string())),
            auth_time: deps.db.now() / 1000,
            family: None,
            rotates: None,
            redirect_uri: None,
            sid: None,
            roles: None,
            org_roles: None,
        },
    )
    .await
}
