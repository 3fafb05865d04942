//! A user's two metadata objects: merged into or replaced under the row lock.

use super::*;
use sigil_hooks::metadata;

/// Which metadata object of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataKind {
    /// `user_metadata`: the user may edit it through the application.
    User,
    /// `app_metadata`: only the tenant (API, hooks) writes it.
    App,
}

impl MetadataKind {
    /// The field name.
    pub fn field(self) -> &'static str {
        match self {
            MetadataKind::User => "user_metadata",
            MetadataKind::App => "app_metadata",
        }
    }
}

/// Merge into, or replace, a metadata object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataOp {
    /// Top-level merge; null deletes a key.
    Merge,
    /// Replace the whole object.
    Replace,
}

/// Applies `op` with `patch` to the stored object `current` (decoded by the store: a corrupt
/// stored object failed the read, so it is never merged into as if it were `{}`).
pub(crate) fn apply_metadata(
    field: &str,
    current: &Map<String, Value>,
    patch: &Value,
    op: MetadataOp,
) -> Result<Map<String, Value>> {
    let out = match op {
        MetadataOp::Merge => metadata::merge(&Value::Object(current.clone()), patch),
        MetadataOp::Replace => metadata::replace(patch),
    };
    out.map_err(|e| validate::metadata_error(field, e))
        .and_then(|v| validate::object(field, v))
}

/// Merges into or replaces one metadata object under the row lock, so concurrent merges of
/// different keys all land.
pub async fn write_metadata(
    db: &Db,
    ctx: &TenantCtx,
    id: &str,
    kind: MetadataKind,
    op: MetadataOp,
    patch: Value,
) -> Result<Value> {
    let field = kind.field();
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    let slot = match kind {
        MetadataKind::User => &mut row.user_metadata,
        MetadataKind::App => &mut row.app_metadata,
    };
    *slot = apply_metadata(field, slot, &patch, op)?;
    let out = Value::Object(slot.clone());
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    crate::store::metadata_keys::register_user(&mut tx, &row).await?;
    let keys: Vec<&String> = patch
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let action = match op {
        MetadataOp::Merge => "merge_metadata",
        MetadataOp::Replace => "replace_metadata",
    };
    record(
        &mut tx,
        db.now(),
        ctx,
        action,
        "user",
        id,
        json!({"field": field, "keys": keys}),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}
