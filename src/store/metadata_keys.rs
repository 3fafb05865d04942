//! The metadata key paths a tenant's users, organizations and applications have been given,
//! as the JWT template language names them (`user.user_metadata.address.city`): the
//! template editor's autocomplete. Each write that sets metadata registers the paths of what
//! it wrote ([`register`]), so listing them ([`list`]) reads this table and never the users,
//! however many there are.
//!
//! A path stays once registered (a key removed from every user is still offered): it is a list
//! of suggestions, not of facts. What one tenant can register is bounded ([`MAX_PER_TENANT`]),
//! so a tenant writing random keys fills only its own share.

use serde_json::{Map, Value};
use sqlx::{Any, Executor};

use super::{StoreError, WriteTx};
use crate::fields::{is_template_name_char, is_template_name_start};

/// Most paths kept per tenant; later new ones are not registered (the writes themselves are
/// not refused).
pub const MAX_PER_TENANT: i64 = 1000;

/// Deepest path registered below a metadata root (`a.b.c.d`).
const MAX_DEPTH: usize = 4;

/// The template roots of each metadata object.
pub const USER_METADATA: &str = "user.user_metadata";
/// See [`USER_METADATA`].
pub const APP_METADATA: &str = "user.app_metadata";
/// See [`USER_METADATA`].
pub const ORGANIZATION_METADATA: &str = "organization.metadata";
/// See [`USER_METADATA`].
pub const CLIENT_METADATA: &str = "client.client_metadata";

/// Whether `key` can be a name in a template path (the template parser's rule,
/// [`crate::fields::is_template_name_start`]), and at most 100 characters.
fn is_template_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(is_template_name_start)
        && chars.all(is_template_name_char)
        && key.len() <= 100
}

/// The paths below `root` that `object` holds: every key that is a template name, and the keys
/// of the objects under it, to [`MAX_DEPTH`] levels. Arrays are leaves.
pub fn paths(root: &str, object: &Map<String, Value>) -> Vec<String> {
    fn walk(prefix: &str, object: &Map<String, Value>, depth: usize, out: &mut Vec<String>) {
        for (key, value) in object {
            if !is_template_name(key) {
                continue;
            }
            let path = format!("{prefix}.{key}");
            if let Value::Object(inner) = value
                && depth < MAX_DEPTH
            {
                walk(&path, inner, depth + 1, out);
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(root, object, 1, &mut out);
    out
}

/// Registers the paths of `object` under `root` for the tenant, inside the write that sets it.
pub async fn register(
    tx: &mut WriteTx,
    tenant_id: &str,
    root: &str,
    object: &Map<String, Value>,
) -> Result<(), StoreError> {
    for path in paths(root, object) {
        // A path already there meets its primary key and writes nothing.
        sqlx::query(
            "INSERT INTO metadata_keys (tenant_id, path) SELECT $1, $2 \
             WHERE (SELECT count(*) FROM metadata_keys WHERE tenant_id = $1) < $3 \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&path)
        .bind(MAX_PER_TENANT)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Registers the paths of a user's two metadata objects.
pub async fn register_user(
    tx: &mut WriteTx,
    user: &super::users::UserRow,
) -> Result<(), StoreError> {
    register(tx, &user.tenant_id, USER_METADATA, &user.user_metadata).await?;
    register(tx, &user.tenant_id, APP_METADATA, &user.app_metadata).await
}

/// The tenant's paths that start with `prefix`, in order, at most `limit`.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    prefix: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT path FROM metadata_keys WHERE tenant_id = $1 \
         AND substr(path, 1, length($2)) = $2 ORDER BY path LIMIT $3",
    )
    .bind(tenant_id)
    .bind(prefix)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_template_names_to_four_levels_with_arrays_as_leaves() {
        let Value::Object(o) = json!({
            "department": "eng",
            "address": {"city": "London", "geo": {"lat": {"deg": {"too": "deep"}}}},
            "tags": [{"inside": "an array"}],
            "has space": 1, "a.b": 1, "9lives": 1, "_private": 1,
        }) else {
            unreachable!()
        };
        let mut got = paths("user.user_metadata", &o);
        got.sort();
        assert_eq!(
            got,
            [
                "user.user_metadata._private",
                "user.user_metadata.address",
                "user.user_metadata.address.city",
                "user.user_metadata.address.geo",
                "user.user_metadata.address.geo.lat",
                "user.user_metadata.address.geo.lat.deg",
                "user.user_metadata.department",
                "user.user_metadata.tags",
            ]
        );
    }
}
