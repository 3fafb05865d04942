//! A tenant's legacy user store: which user-store hook checks the password logins Sigil cannot
//! check itself, in which mode, and how far the migration has come.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sigil_hooks::prepare::World;
use sigil_hooks::user_store::{StoreAnswer, StoreCall};
use utoipa::ToSchema;

use super::{ManageError, Result, TenantCtx, invalid, record};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::legacy::{self, LegacyMode};
use crate::store::hooks::{self as hook_store, By};
use crate::store::legacy::{self as store, LegacyStoreRow};

/// The body of `PUT /t/{tenant}/api/legacy-store`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLegacyStore {
    /// The user-store hook (id or name); its deployed version is asked.
    pub hook: String,
    /// `migrate` (ask at a user's first login, then keep them with a local password) or
    /// `delegate` (ask at every login; no password is kept).
    pub mode: String,
    /// The hook's deadline for one call, ms (at most the operator's
    /// `--hook-fetch-deadline-ms`; default that ceiling).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// A tenant's legacy store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegacyStoreView {
    /// `hook_...`
    pub hook_id: String,
    /// The hook's name.
    pub hook: String,
    /// `migrate` or `delegate`.
    pub mode: String,
    /// The deadline of one call, ms.
    pub deadline_ms: u64,
    /// RFC 3339.
    pub updated_at: String,
}

/// How far a tenant's migration from its legacy store has come.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MigrationStatus {
    /// The legacy store, if the tenant has one.
    pub legacy_store: Option<LegacyStoreView>,
    /// Users created or completed from the legacy store at a login.
    pub migrated: i64,
    /// Users imported in bulk.
    pub imported: i64,
    /// Of those, the ones still without a password, never completed by a login: the legacy
    /// store is asked at their first.
    pub imported_without_password: i64,
    /// Users created through the API or the CLI.
    pub created: i64,
    /// How many users the legacy store holds, when its hook can count them (`user-count`).
    pub legacy_users: Option<u64>,
    /// Of those, how many Sigil does not hold yet (the legacy store's count less the users
    /// migrated from it and imported), when it can count them.
    pub only_in_legacy_store: Option<u64>,
    /// Why the legacy store's count is missing, when it is (its hook failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_error: Option<String>,
}

async fn view(db: &Db, hooks: &Hooks, row: LegacyStoreRow) -> Result<LegacyStoreView> {
    let hook = hook_store::get_hook(
        db.store.read().await?.conn(),
        &row.tenant_id,
        By::Id(&row.hook_id),
    )
    .await?
    .ok_or(ManageError::NotFound("hook"))?;
    Ok(LegacyStoreView {
        hook_id: row.hook_id,
        hook: hook.name,
        mode: row.mode,
        deadline_ms: row
            .deadline_ms
            .map_or(legacy::default_deadline_ms(hooks), |d| d as u64),
        updated_at: rfc3339(row.updated_at),
    })
}

/// The tenant's legacy store.
pub async fn get(db: &Db, hooks: &Hooks, ctx: &TenantCtx) -> Result<LegacyStoreView> {
    let row = store::get(db.store.read().await?.conn(), &ctx.tenant_id)
        .await?
        .ok_or(ManageError::NotFound("legacy store"))?;
    view(db, hooks, row).await
}

/// Sets the tenant's legacy store: the hook must be a deployed user-store hook of the tenant.
pub async fn set(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    input: SetLegacyStore,
) -> Result<LegacyStoreView> {
    let mode = LegacyMode::parse(&input.mode)
        .ok_or_else(|| invalid("mode", "must be `migrate` or `delegate`"))?;
    let most = hooks.fetch_ceilings.deadline_ms;
    if let Some(d) = input.deadline_ms
        && (d == 0 || d > most)
    {
        return Err(invalid(
            "deadline_ms",
            format!("must be from 1 to {most} (the operator's --hook-fetch-deadline-ms)"),
        ));
    }
    let now = db.now();
    let mut tx = db.store.begin_write().await?;
    let by = By::id_or_name(&input.hook);
    let hook = hook_store::get_hook(tx.conn(), &ctx.tenant_id, by)
        .await?
        .ok_or_else(|| invalid("hook", "no such hook"))?;
    let Some(deployed) = hook.deployed_version else {
        return Err(invalid(
            "hook",
            "the hook has no deployed version; deploy one first",
        ));
    };
    let versions = hook_store::versions(tx.conn(), &hook.id).await?;
    let world = versions
        .iter()
        .find(|v| v.version == deployed)
        .map_or(World::PostLogin.name(), |v| v.world.as_str());
    if world != World::UserStore.name() {
        return Err(invalid(
            "hook",
            format!(
                "{} is a {world} hook; a legacy store is a user-store hook (sigil:hooks@0.2.0)",
                hook.name
            ),
        ));
    }
    if crate::store::flows::is_bound(tx.conn(), &hook.id).await? {
        return Err(invalid("hook", "the hook is bound in the post-login flow"));
    }
    let row = LegacyStoreRow {
        tenant_id: ctx.tenant_id.clone(),
        hook_id: hook.id.clone(),
        mode: mode.as_str().into(),
        deadline_ms: input.deadline_ms.map(|d| d as i64),
        updated_at: now,
    };
    store::put(&mut tx, &row).await?;
    let summary = json!({"hook": hook.name, "mode": row.mode, "deadline_ms": row.deadline_ms});
    record(
        &mut tx,
        now,
        ctx,
        "set",
        "legacy_store",
        &ctx.tenant_id,
        summary,
    )
    .await?;
    tx.commit().await?;
    view(db, hooks, row).await
}

/// Removes the tenant's legacy store: from then on only the users Sigil holds can log in.
pub async fn clear(db: &Db, ctx: &TenantCtx) -> Result<()> {
    let now = db.now();
    let mut tx = db.store.begin_write().await?;
    if !store::clear(&mut tx, &ctx.tenant_id).await? {
        return Err(ManageError::NotFound("legacy store"));
    }
    record(
        &mut tx,
        now,
        ctx,
        "clear",
        "legacy_store",
        &ctx.tenant_id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How far the tenant's migration has come: its users by origin and, when the legacy store's
/// hook can count its users, how many are still only there.
pub async fn status(db: &Db, hooks: &Hooks, ctx: &TenantCtx) -> Result<MigrationStatus> {
    let origins = store::origins(db.store.read().await?.conn(), &ctx.tenant_id).await?;
    let row = store::get(db.store.read().await?.conn(), &ctx.tenant_id).await?;
    let legacy_store = match row {
        Some(r) => Some(view(db, hooks, r).await?),
        None => None,
    };
    let (mut legacy_users, mut legacy_error) = (None, None);
    if legacy_store.is_some() {
        let now = db.now();
        match legacy::load(&db.store, hooks, &ctx.tenant_id, now).await {
            Ok(Some(l)) => {
                match legacy::ask(hooks, &ctx.tenant_id, &l, StoreCall::UserCount, now).await {
                    Ok(StoreAnswer::UserCount(n)) => legacy_users = n,
                    Ok(_) => {}
                    Err(e) => legacy_error = Some(e.to_string()),
                }
            }
            Ok(None) => {}
            Err(e) => legacy_error = Some(e.to_string()),
        }
    }
    let held = (origins.created_from_legacy + origins.imported).max(0) as u64;
    Ok(MigrationStatus {
        legacy_store,
        migrated: origins.migrated,
        imported: origins.imported,
        imported_without_password: origins.imported_without_password,
        created: origins.created,
        legacy_users,
        only_in_legacy_store: legacy_users.map(|n| n.saturating_sub(held)),
        legacy_error,
    })
}
