//! Managing hooks: upload, versions, deploy and rollback ([`versions`]), secrets
//! ([`secrets`]), limits ([`limits`]), the post-login flow ([`flow`]), test runs
//! ([`test_run`]) and stored traces ([`traces`]). Running them is `crate::flows` and the
//! `sigil_hooks` host.

pub mod allow;
pub mod flow;
pub mod latency;
pub mod limits;
pub mod secrets;
pub mod test_run;
pub mod traces;
pub mod versions;

use serde::Serialize;
use utoipa::ToSchema;

use sigil_hooks::LimitOverrides;

use super::{ManageError, Result, TenantCtx, record};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::store::WriteTx;
use crate::store::changes::{self, Cached};
use crate::store::hooks::{self as store, By, HookRow, VersionRow};

/// One version of a hook.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookVersion {
    /// 1, 2, ...
    pub version: i64,
    /// SHA-256 of the component.
    pub hash: String,
    /// Component size, bytes.
    pub size: i64,
    /// The component's imports.
    pub imports: Vec<String>,
    /// The world it implements: `post-login` (bound in the flow) or `user-store` (a legacy
    /// store).
    pub world: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A hook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hook {
    /// `hook_...`
    pub id: String,
    /// Unique per tenant.
    pub name: String,
    /// The version "latest deployed" bindings run.
    pub deployed_version: Option<i64>,
    /// Versions, newest first.
    pub versions: Vec<HookVersion>,
    /// Secret names (values are write-only).
    pub secrets: Vec<String>,
    /// This hook's limit overrides.
    pub limits: LimitOverrides,
    /// Where its fetches may go (contract 0.2.0).
    pub allow: allow::Allow,
    /// RFC 3339.
    pub created_at: String,
}

/// A new version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    /// `hook_...`
    pub hook_id: String,
    /// Hook name.
    pub name: String,
    /// The new version.
    pub version: HookVersion,
}

pub(super) fn version_view(v: VersionRow) -> HookVersion {
    HookVersion {
        imports: v.imports,
        world: v.world,
        version: v.version,
        hash: v.hash,
        size: v.size,
        created_at: rfc3339(v.created_at),
    }
}

/// A hook of the tenant by id (`hook_...`) or name.
pub(super) async fn find(db: &Db, ctx: &TenantCtx, id_or_name: &str) -> Result<HookRow> {
    let by = By::id_or_name(id_or_name);
    store::get_hook(db.store.read().await?.conn(), &ctx.tenant_id, by)
        .await?
        .ok_or(ManageError::NotFound("hook"))
}

pub(super) async fn view(db: &Db, h: HookRow) -> Result<Hook> {
    let versions = store::versions(db.store.read().await?.conn(), &h.id).await?;
    let secrets = store::secrets(db.store.read().await?.conn(), &h.id).await?;
    Ok(Hook {
        limits: crate::flows::load::overrides("hooks.limits", &h.limits)?,
        allow: allow::Allow {
            rules: crate::flows::load::allow_list("hooks.fetch_allow", &h.fetch_allow)?
                .rules()
                .to_vec(),
        },
        id: h.id,
        name: h.name,
        deployed_version: h.deployed_version,
        versions: versions.into_iter().map(version_view).collect(),
        secrets: secrets.into_iter().map(|(n, _, _)| n).collect(),
        created_at: rfc3339(h.created_at),
    })
}

/// Stores a hook row changed under [`lock`], records `action` with `detail` in the audit log,
/// announces the flow change to the other nodes, commits, and drops this node's copy of the
/// tenant's flow: how every hook setting is saved.
pub(super) async fn save(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    mut tx: WriteTx,
    mut row: HookRow,
    action: &str,
    detail: serde_json::Value,
) -> Result<Hook> {
    row.updated_at = db.now();
    store::update_hook(&mut tx, &row).await?;
    record(&mut tx, db.now(), ctx, action, "hook", &row.id, detail).await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    view(db, row).await
}

/// Reads and locks a hook (by id or name) for a read-modify-write.
pub(super) async fn lock(
    db: &Db,
    tx: &mut WriteTx,
    ctx: &TenantCtx,
    id_or_name: &str,
) -> Result<HookRow> {
    let h = find(db, ctx, id_or_name).await?;
    store::get_hook_for_update(tx, &ctx.tenant_id, By::Id(&h.id))
        .await?
        .ok_or(ManageError::NotFound("hook"))
}
