//! Hooks, their immutable versions, compiled artifacts, secrets and the tenant's hook limits
//! (the flow that binds them is in [`super::flows`], traces in [`super::hook_traces`]).

use serde_json::{Map, Value};
use sqlx::{Any, Executor, FromRow};

use super::types::JsonText;
use super::{Exec, Page, Store, StoreError, WriteTx, to_json, unique};

/// A hook.
#[derive(Debug, Clone, FromRow)]
pub struct HookRow {
    /// `hook_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Unique per tenant.
    pub name: String,
    /// The version "latest deployed" bindings run.
    pub deployed_version: Option<i64>,
    /// Limit overrides (an object of `sigil_hooks::LimitOverrides` fields, which the hook
    /// bridge reads strictly).
    #[sqlx(try_from = "JsonText")]
    pub limits: Map<String, Value>,
    /// The fetch allow-list (an array of `sigil_hooks::fetch::allow::AllowRule`, which the
    /// hook bridge reads strictly).
    #[sqlx(try_from = "JsonText")]
    pub fetch_allow: Value,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// A version's metadata (without the bytes).
#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    /// The hook this version belongs to (`hook_...`).
    pub hook_id: String,
    /// 1, 2, ...
    pub version: i64,
    /// SHA-256 of the component.
    pub hash: String,
    /// Component size.
    pub size: i64,
    /// The component's imports.
    #[sqlx(try_from = "JsonText")]
    pub imports: Vec<String>,
    /// The world it implements: `post-login` or `user-store`.
    pub world: String,
    /// Epoch ms.
    pub created_at: i64,
}

const HOOK_COLS: &str =
    "id, tenant_id, name, deployed_version, limits, fetch_allow, created_at, updated_at";

/// Inserts a hook.
pub async fn insert_hook(tx: &mut WriteTx, h: &HookRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO hooks ({HOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&h.id)
    .bind(&h.tenant_id)
    .bind(&h.name)
    .bind(h.deployed_version)
    .bind(to_json("limits", &h.limits)?)
    .bind(to_json("fetch_allow", &h.fetch_allow)?)
    .bind(h.created_at)
    .bind(h.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes the mutable columns.
pub async fn update_hook(tx: &mut WriteTx, h: &HookRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE hooks SET deployed_version = $1, limits = $2, fetch_allow = $3, updated_at = $4 \
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(h.deployed_version)
    .bind(to_json("limits", &h.limits)?)
    .bind(to_json("fetch_allow", &h.fetch_allow)?)
    .bind(h.updated_at)
    .bind(&h.tenant_id)
    .bind(&h.id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Which column a hook lookup matches.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// `hook_...`
    Id(&'a str),
    /// By the hook's name, unique per tenant.
    Name(&'a str),
}

impl<'a> By<'a> {
    /// A hook named as the API and the CLI take it: its id (`hook_...`) or its name.
    pub fn id_or_name(text: &'a str) -> Self {
        if text.starts_with("hook_") {
            By::Id(text)
        } else {
            By::Name(text)
        }
    }

    fn column(self) -> (&'static str, String) {
        match self {
            By::Id(v) => ("id", v.to_string()),
            By::Name(v) => ("name", v.to_string()),
        }
    }
}

/// One hook of the tenant.
pub async fn get_hook<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<HookRow>, StoreError> {
    let (col, val) = by.column();
    Ok(sqlx::query_as(&format!(
        "SELECT {HOOK_COLS} FROM hooks WHERE tenant_id = $1 AND {col} = $2"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(ex)
    .await?)
}

/// One hook of the tenant, locked until `tx` ends (it is about to be written).
pub async fn get_hook_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<HookRow>, StoreError> {
    let (col, val) = by.column();
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {HOOK_COLS} FROM hooks WHERE tenant_id = $1 AND {col} = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(tx.conn())
    .await?)
}

/// Lists hooks.
pub async fn list_hooks(
    store: &Store,
    tenant_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<HookRow>, StoreError> {
    let rows: Vec<HookRow> = sqlx::query_as(&format!(
        "SELECT {HOOK_COLS} FROM hooks WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Deletes a hook (versions and secrets by cascade).
pub async fn delete_hook(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM hooks WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The next version number of a hook.
pub async fn next_version(conn: Exec<'_>, hook_id: &str) -> Result<i64, StoreError> {
    let (max,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(version) FROM hook_versions WHERE hook_id = $1")
            .bind(hook_id)
            .fetch_one(conn)
            .await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Inserts a version with its component bytes.
pub async fn insert_version(
    tx: &mut WriteTx,
    tenant_id: &str,
    v: &VersionRow,
    component: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO hook_versions (hook_id, version, tenant_id, hash, size, imports, component, \
         created_at, world) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&v.hook_id)
    .bind(v.version)
    .bind(tenant_id)
    .bind(&v.hash)
    .bind(v.size)
    .bind(to_json("imports", &v.imports)?)
    .bind(component.to_vec())
    .bind(v.created_at)
    .bind(&v.world)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A hook's versions, newest first.
pub async fn versions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hook_id: &str,
) -> Result<Vec<VersionRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT hook_id, version, hash, size, imports, world, created_at FROM hook_versions \
         WHERE hook_id = $1 ORDER BY version DESC",
    )
    .bind(hook_id)
    .fetch_all(ex)
    .await?)
}

/// A version with its component bytes.
#[derive(FromRow)]
struct VersionWithComponent {
    #[sqlx(flatten)]
    version: VersionRow,
    component: Vec<u8>,
}

/// One version's component bytes.
pub async fn component<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hook_id: &str,
    version: i64,
) -> Result<Option<(VersionRow, Vec<u8>)>, StoreError> {
    let row: Option<VersionWithComponent> = sqlx::query_as(
        "SELECT hook_id, version, hash, size, imports, world, created_at, component \
         FROM hook_versions \
         WHERE hook_id = $1 AND version = $2",
    )
    .bind(hook_id)
    .bind(version)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| (r.version, r.component)))
}

/// A stored artifact and its MAC.
pub async fn artifact(
    store: &Store,
    hash: &str,
    compat: &str,
) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT artifact, mac FROM hook_artifacts WHERE hash = $1 AND compat = $2")
            .bind(hash)
            .bind(compat)
            .fetch_optional(store.read().await?.conn())
            .await?,
    )
}

/// Whether an artifact of `hash` for engine `compat` is stored.
pub async fn has_artifact(store: &Store, hash: &str, compat: &str) -> Result<bool, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM hook_artifacts WHERE hash = $1 AND compat = $2")
            .bind(hash)
            .bind(compat)
            .fetch_one(store.read().await?.conn())
            .await?;
    Ok(n > 0)
}

/// Stores an artifact (idempotent: the same bytes compile to the same artifact). Called only
/// for a component that passed the world check, in the transaction that stores (or already
/// has) a version referencing it.
pub async fn put_artifact(
    tx: &mut WriteTx,
    hash: &str,
    compat: &str,
    artifact: &[u8],
    mac: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO hook_artifacts (hash, compat, artifact, mac, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (hash, compat) DO NOTHING",
    )
    .bind(hash)
    .bind(compat)
    .bind(artifact.to_vec())
    .bind(mac)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes the artifacts (every engine's) of `hash` if no version references it any more;
/// returns whether any went.
pub async fn delete_unreferenced_artifact(
    tx: &mut WriteTx,
    hash: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM hook_artifacts WHERE hash = $1 \
         AND NOT EXISTS (SELECT 1 FROM hook_versions v WHERE v.hash = $1)",
    )
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes every artifact no version references; returns how many rows went.
pub async fn delete_orphan_artifacts(tx: &mut WriteTx) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM hook_artifacts WHERE NOT EXISTS \
         (SELECT 1 FROM hook_versions v WHERE v.hash = hook_artifacts.hash)",
    )
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Sets (or replaces) a sealed secret.
pub async fn put_secret(
    tx: &mut WriteTx,
    hook_id: &str,
    name: &str,
    sealed: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO hook_secrets (hook_id, name, sealed, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (hook_id, name) DO UPDATE SET sealed = $3, updated_at = $4",
    )
    .bind(hook_id)
    .bind(name)
    .bind(sealed)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes a secret.
pub async fn delete_secret(
    tx: &mut WriteTx,
    hook_id: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM hook_secrets WHERE hook_id = $1 AND name = $2")
        .bind(hook_id)
        .bind(name)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A hook's secrets as (name, sealed value, updated_at), by name.
pub async fn secrets<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hook_id: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, sealed, updated_at FROM hook_secrets WHERE hook_id = $1 ORDER BY name",
    )
    .bind(hook_id)
    .fetch_all(ex)
    .await?)
}

/// The content hash of every stored version (what a node's disk cache of compiled artifacts
/// may keep files for).
pub async fn version_hashes(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT hash FROM hook_versions")
        .fetch_all(store.read().await?.conn())
        .await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// A tenant's stored hook limit overrides.
#[derive(FromRow)]
struct TenantLimits {
    #[sqlx(try_from = "JsonText")]
    hook_limits: Map<String, Value>,
}

/// The tenant's hook limit overrides (an object of `sigil_hooks::LimitOverrides` fields).
pub async fn tenant_limits(
    store: &Store,
    tenant_id: &str,
) -> Result<Map<String, Value>, StoreError> {
    let row: TenantLimits = sqlx::query_as("SELECT hook_limits FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_one(store.read().await?.conn())
        .await?;
    Ok(row.hook_limits)
}

/// Sets the tenant's hook limit overrides.
pub async fn set_tenant_limits(
    tx: &mut WriteTx,
    tenant_id: &str,
    limits: &Map<String, Value>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenants SET hook_limits = $1 WHERE id = $2")
        .bind(to_json("hook_limits", limits)?)
        .bind(tenant_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
