//! What the consent page says each requested scope allows, in words the user can judge: the
//! scopes OpenID Connect defines (OIDC Core 5.4, 11) described here, an API's scopes with the
//! description the tenant registered for them (RFC 6749 3.3 leaves a scope's meaning to the
//! server that defines it).

use crate::store::apis::{self as api_store, By};
use crate::store::{Store, StoreError};

/// One line of the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLine {
    /// The scope value, as requested.
    pub scope: String,
    /// What granting it allows, for people.
    pub description: String,
}

/// The consent page's lines for `scopes` requested for `audience` (an API identifier).
/// A scope without a registered description is named with its API, so the user still sees
/// who it is for.
pub async fn describe(
    store: &Store,
    tenant_id: &str,
    audience: Option<&str>,
    scopes: &[String],
) -> Result<Vec<ScopeLine>, StoreError> {
    let api = match audience {
        Some(a) => api_store::get(store.read().await?.conn(), tenant_id, By::Identifier(a)).await?,
        None => None,
    };
    Ok(scopes
        .iter()
        .map(|scope| {
            let description = oidc_words(scope)
                .map(str::to_string)
                .or_else(|| {
                    let api = api.as_ref()?;
                    let registered = api.scopes.iter().find(|s| &s.value == scope)?;
                    Some(
                        registered
                            .description
                            .clone()
                            .filter(|d| !d.trim().is_empty())
                            .unwrap_or_else(|| format!("{scope} on {}", api.name)),
                    )
                })
                .unwrap_or_else(|| scope.clone());
            ScopeLine {
                scope: scope.clone(),
                description,
            }
        })
        .collect())
}

/// OpenID Connect's own scopes in words.
fn oidc_words(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Sign you in with your account",
        "profile" => "See your name, nickname and picture",
        "email" => "See your email address",
        "offline_access" => "Keep access when you are not using the application",
        _ => return None,
    })
}
