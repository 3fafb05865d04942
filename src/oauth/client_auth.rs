//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 2.3.1):
//! `client_secret_basic` and `client_secret_post` for confidential clients, `none` for public
//! ones, and whether the client may use a grant.

use std::sync::Arc;

use super::OAuthError;
use crate::crypto::Secret;
use crate::crypto::SecretHasher;
use crate::store::ClientType;
use crate::store::Store;
use crate::store::apps::{self as app_store, AppRow};

/// Client credentials as presented (Basic header or form fields).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id`, from the Basic header or the form.
    pub client_id: Option<String>,
    /// `client_secret` (redacted in `Debug`, compared in constant time).
    pub client_secret: Option<Secret>,
}

/// Authenticates a client at `now`: `client_secret_basic` / `client_secret_post` for
/// confidential clients, `none` for public ones. The application comes from this node's copy
/// when fresh ([`app_store::get_hot`]).
pub async fn authenticate_client(
    store: &Store,
    secrets: &SecretHasher,
    tenant_id: &str,
    creds: &ClientCredentials,
    now: i64,
) -> Result<Arc<AppRow>, OAuthError> {
    let id = creds
        .client_id
        .as_deref()
        .ok_or(OAuthError::InvalidClient)?;
    let app = app_store::get_hot(store, tenant_id, id, now)
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    // Public clients (single-page and native apps) have no secret: they authenticate with
    // `none` and rely on PKCE and exact redirect URIs (RFC 6749 2.1, RFC 9700 2.1.1).
    match (&app.secret_hash, &creds.client_secret) {
        (Some(hash), Some(secret)) if secrets.verify(secret.expose(), hash) => Ok(app),
        (None, None) if app.client_type == ClientType::Public => Ok(app),
        _ => Err(OAuthError::InvalidClient),
    }
}

/// Authenticates the client and checks it may use `grant` (`unauthorized_client` otherwise).
pub async fn client_for_grant(
    store: &Store,
    secrets: &SecretHasher,
    tenant_id: &str,
    creds: &ClientCredentials,
    grant: &str,
    now: i64,
) -> Result<Arc<AppRow>, OAuthError> {
    let app = authenticate_client(store, secrets, tenant_id, creds, now).await?;
    if !app.grant_types.iter().any(|g| g.as_str() == grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "the {grant} grant is not enabled for this application"
        )));
    }
    Ok(app)
}
