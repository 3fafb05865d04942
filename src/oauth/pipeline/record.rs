//! Applying a login to the user record: the hooks' metadata writes, a rehashed password,
//! `last_login` and `logins_count`.

use serde_json::{Value, json};

use super::Login;
use crate::oauth::Issuing;
use crate::oauth::{OAuthError, ServerFault};
use crate::store::Tx;
use crate::store::users::{self as user_store, UserRow};
use sigil_hooks::event::Protocol;
use sigil_hooks::metadata;
use sigil_hooks::outcome::FlowOutcome;

/// Rehashes a password verified against an imported or weaker hash (off the async threads).
pub async fn rehash(deps: &Issuing<'_>, password: Option<crate::crypto::Secret>) -> Option<String> {
    deps.passwords.hash_bounded(password?).await.ok()
}

/// Applies the login to the user record inside `tx`: the hooks' metadata writes (merged once,
/// after the whole flow succeeded), a rehashed password, `last_login` and `logins_count`.
pub async fn record_login(
    deps: &Issuing<'_>,
    tx: &mut Tx,
    l: &Login<'_>,
    outcome: &FlowOutcome,
    rehashed: Option<String>,
) -> Result<UserRow, OAuthError> {
    let now = deps.db.now();
    // A refresh that writes no metadata changes nothing on the user: skip the write.
    if l.protocol == Protocol::RefreshToken
        && rehashed.is_none()
        && outcome.user_metadata.is_empty()
        && outcome.app_metadata.is_empty()
    {
        return Ok(l.user.clone());
    }
    let mut row = user_store::get(
        &mut **tx,
        l.tenant.0,
        user_store::By::Id(&l.user.id),
        deps.db.store.for_update(),
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
                .map_err(|e| OAuthError::server(ServerFault::MetadataWrite(e)))?
                .to_string();
        }
    }
    if let Some(h) = rehashed {
        row.password_hash = Some(h);
    }
    // A refresh is not a new login: it does not count as one.
    if l.protocol != Protocol::RefreshToken {
        row.last_login = Some(now);
        row.logins_count += 1;
    }
    row.updated_at = now;
    user_store::update(tx, &row).await?;
    Ok(row)
}
