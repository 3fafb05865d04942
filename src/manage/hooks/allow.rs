//! A hook's fetch allow-list (contract 0.2.0): where its requests may go, set with the hook and
//! never by it. Replaced whole; an empty list lets the hook fetch nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sigil_hooks::fetch::allow::{AllowList, AllowRule};
use utoipa::ToSchema;

use super::{Hook, lock, save};
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::{ManageError, Result, TenantCtx, invalid};

/// The body of `PUT /t/{tenant}/api/hooks/{id}/allow`, and how a hook shows its list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The rules, in order (at most 32).
    pub rules: Vec<AllowRule>,
}

/// Replaces a hook's allow-list, after checking every rule (the error names the field).
pub async fn set_allow(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    allow: Allow,
) -> Result<Hook> {
    let list = AllowList::new(allow.rules).map_err(|e| invalid(e.field, e.message))?;
    let rules = serde_json::to_value(list.rules())
        .map_err(|e| ManageError::Internal(format!("serializing an allow-list: {e}").into()))?;
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(db, &mut tx, ctx, id_or_name).await?;
    row.fetch_allow = rules.clone();
    save(
        db,
        hooks,
        ctx,
        tx,
        row,
        "set_allow",
        json!({"rules": rules}),
    )
    .await
}
