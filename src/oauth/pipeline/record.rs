//! Applying a login to the user record: the hooks' metadata writes, a rehashed password,
//! `last_login` and `logins_count`.

use serde_json::Value;

use super::Login;
use crate::oauth::Issuing;
use crate::oauth::{OAuthError, ServerFault};
use crate::store::users::{self as user_store, UserRow};
use crate::store::{WriteTx, metadata_keys};
use sigil_hooks::event::Protocol;
use sigil_hooks::metadata;
use sigil_hooks::outcome::FlowOutcome;

/// Rehashes a password verified against an imported or weaker hash (off the async threads).
pub async fn rehash(deps: &Issuing<'_>, password: Option<crate::crypto::Secret>) -> Option<String> {
    deps.passwords.hash_bounded(password?).await.ok()
}

/// Whether the login changes the user record. A refresh that writes no metadata (and rehashes
/// no password) changes nothing on the user: it is not a new login, so `last_login` and
/// `logins_count` stay.
pub fn changes_user(l: &Login<'_>, outcome: &FlowOutcome, rehashed: Option<&str>) -> bool {
    l.protocol != Protocol::RefreshToken
        || rehashed.is_some()
        || !outcome.user_metadata.is_empty()
        || !outcome.app_metadata.is_empty()
}

/// Applies the login to the user record inside `tx`: the hooks' metadata writes (merged once,
/// after the whole flow succeeded), a rehashed password, `last_login` and `logins_count`.
pub async fn record_login(
    deps: &Issuing<'_>,
    tx: &mut WriteTx,
    l: &Login<'_>,
    outcome: &FlowOutcome,
    rehashed: Option<String>,
) -> Result<UserRow, OAuthError> {
    let now = deps.db.now();
    if !changes_user(l, outcome, rehashed.as_deref()) {
        return Ok(l.user.clone());
    }
    // A stored metadata object that does not decode fails here (the store refuses the row),
    // so a corrupt object is never replaced by the hooks' writes alone.
    let mut row = user_store::get_for_update(tx, l.tenant.0, user_store::By::Id(&l.user.id))
        .await?
        .ok_or_else(|| OAuthError::InvalidGrant("the user no longer exists".into()))?;
    for (writes, slot) in [
        (&outcome.user_metadata, &mut row.user_metadata),
        (&outcome.app_metadata, &mut row.app_metadata),
    ] {
        if !writes.is_empty() {
            let cur = Value::Object(std::mem::take(slot));
            *slot = match metadata::merge(&cur, &Value::Object(writes.clone())) {
                Ok(Value::Object(merged)) => merged,
                Ok(_) => {
                    return Err(OAuthError::server(ServerFault::MetadataWrite(
                        sigil_hooks::metadata::MetadataError::NotAnObject,
                    )));
                }
                Err(e) => return Err(OAuthError::server(ServerFault::MetadataWrite(e))),
            };
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
    // The keys the hooks wrote (not deleted) join the template editor's suggestions; only
    // those, so a login that writes nothing registers nothing.
    for (writes, root) in [
        (&outcome.user_metadata, metadata_keys::USER_METADATA),
        (&outcome.app_metadata, metadata_keys::APP_METADATA),
    ] {
        let set: serde_json::Map<String, Value> = writes
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !set.is_empty() {
            metadata_keys::register(tx, &row.tenant_id, root, &set).await?;
        }
    }
    Ok(row)
}
