//! Hook versions: upload (validated, compiled and world-checked before anything is stored),
//! deploy, rollback, listing and deletion.

use serde_json::json;
use sigil_hooks::prepare::World;
use sigil_hooks::upload;

use super::{Hook, Uploaded, find, lock, version_view, view};
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::prepare::load_or_compile;
use crate::ids::{IdKind, new_id};
use crate::manage::{ManageError, Page, PageParams, Result, TenantCtx, invalid, record, validate};
use crate::store::changes::{self, Cached};
use crate::store::hooks::{self as store, By, HookRow, VersionRow};

fn upload_error(e: upload::UploadError) -> ManageError {
    invalid("wasm", e.to_string())
}

/// Uploads a new immutable version of hook `name` (creating the hook on first upload).
/// Admission first (the tenant's upload rate), then everything is validated, compiled and
/// checked against the world before anything is stored; the version and its artifact are
/// stored in one transaction.
pub async fn upload(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    name: &str,
    bytes: &[u8],
) -> Result<Uploaded> {
    hooks.uploads.take(&ctx.tenant_id, db.now())?;
    validate::token("name", name, 100)?;
    let v = upload::validate(bytes).map_err(upload_error)?;
    let (_, artifact) =
        load_or_compile(&db.store, hooks, &v.hash, v.component.clone(), true).await?;
    let now = db.now();
    let mut tx = db.store.begin_write().await?;
    let hook = match store::get_hook_for_update(&mut tx, &ctx.tenant_id, By::Name(name)).await? {
        Some(h) => h,
        None => {
            let h = HookRow {
                id: new_id(IdKind::Hook, now),
                tenant_id: ctx.tenant_id.clone(),
                name: name.to_string(),
                deployed_version: None,
                limits: Default::default(),
                fetch_allow: serde_json::Value::Array(Vec::new()),
                created_at: now,
                updated_at: now,
            };
            store::insert_hook(&mut tx, &h).await?;
            h
        }
    };
    let version = store::next_version(tx.conn(), &hook.id).await?;
    let row = VersionRow {
        hook_id: hook.id.clone(),
        version,
        hash: v.hash.clone(),
        size: v.component.len() as i64,
        imports: v.imports.clone(),
        world: v.world.name().into(),
        created_at: now,
    };
    store::insert_version(&mut tx, &ctx.tenant_id, &row, &v.component).await?;
    if let Some(a) = artifact {
        a.store(&mut tx, &v.hash, now).await?;
    }
    let summary = json!({"name": name, "version": version, "hash": v.hash});
    record(&mut tx, now, ctx, "upload", "hook", &hook.id, summary).await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    Ok(Uploaded {
        hook_id: hook.id,
        name: name.to_string(),
        version: version_view(row),
    })
}

/// A hook by id or name.
pub async fn get(db: &Db, ctx: &TenantCtx, id_or_name: &str) -> Result<Hook> {
    let h = find(db, ctx, id_or_name).await?;
    view(db, h).await
}

/// Lists hooks.
pub async fn list(db: &Db, ctx: &TenantCtx, page: &PageParams) -> Result<Page<Hook>> {
    let rows = store::list_hooks(&db.store, &ctx.tenant_id, page.cursor(), page.limit()?).await?;
    let mut data = Vec::new();
    for h in rows.items {
        data.push(view(db, h).await?);
    }
    Ok(Page {
        data,
        next_cursor: rows.next_cursor,
    })
}

async fn set_deployed(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    pick: impl Fn(&HookRow, &[VersionRow]) -> Result<i64>,
) -> Result<Hook> {
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(db, &mut tx, ctx, id_or_name).await?;
    let versions = store::versions(tx.conn(), &row.id).await?;
    let version = pick(&row, &versions)?;
    // A hook in use keeps its kind: the flow runs post-login hooks, a legacy store is a
    // user-store hook.
    let world = versions
        .iter()
        .find(|v| v.version == version)
        .map_or(World::PostLogin.name(), |v| v.world.as_str());
    let needed = if crate::store::legacy::is_legacy_store(tx.conn(), &row.id).await? {
        Some(World::UserStore.name())
    } else if crate::store::flows::is_bound(tx.conn(), &row.id).await? {
        Some(World::PostLogin.name())
    } else {
        None
    };
    if let Some(needed) = needed.filter(|n| *n != world) {
        return Err(invalid(
            "version",
            format!(
                "version {version} is a {world} hook, and this hook is in use as a {needed} hook"
            ),
        ));
    }
    let previous = row.deployed_version;
    row.deployed_version = Some(version);
    row.updated_at = db.now();
    store::update_hook(&mut tx, &row).await?;
    let summary = json!({"version": version, "previous": previous});
    record(&mut tx, db.now(), ctx, "deploy", "hook", &row.id, summary).await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    hooks.flows.invalidate(&ctx.tenant_id);
    view(db, row).await
}

/// Deploys `version` (what "latest deployed" bindings run from now on).
pub async fn deploy(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    version: i64,
) -> Result<Hook> {
    set_deployed(db, hooks, ctx, id_or_name, |_, vs| {
        if vs.iter().any(|v| v.version == version) {
            Ok(version)
        } else {
            Err(invalid("version", format!("no version {version}")))
        }
    })
    .await
}

/// Deploys the version before the deployed one.
pub async fn rollback(db: &Db, hooks: &Hooks, ctx: &TenantCtx, id_or_name: &str) -> Result<Hook> {
    set_deployed(db, hooks, ctx, id_or_name, |h, vs| {
        let current = h
            .deployed_version
            .ok_or_else(|| invalid("version", "nothing is deployed"))?;
        vs.iter()
            .map(|v| v.version)
            .filter(|v| *v < current)
            .max()
            .ok_or_else(|| invalid("version", "no earlier version to roll back to"))
    })
    .await
}

/// Deletes a hook; refused while the flow binds it.
pub async fn delete(db: &Db, hooks: &Hooks, ctx: &TenantCtx, id_or_name: &str) -> Result<()> {
    let h = find(db, ctx, id_or_name).await?;
    let mut tx = db.store.begin_write().await?;
    if crate::store::flows::is_bound(tx.conn(), &h.id).await? {
        return Err(ManageError::InUse {
            field: "bindings",
            why: "the hook is bound in the post-login flow; unbind it first",
        });
    }
    if crate::store::legacy::is_legacy_store(tx.conn(), &h.id).await? {
        return Err(ManageError::InUse {
            field: "legacy_store",
            why: "the hook is the tenant's legacy store; clear the legacy store first",
        });
    }
    let mut hashes: Vec<String> = store::versions(tx.conn(), &h.id)
        .await?
        .into_iter()
        .map(|v| v.hash)
        .collect();
    hashes.sort();
    hashes.dedup();
    store::delete_hook(&mut tx, &ctx.tenant_id, &h.id).await?;
    // Its artifacts go with it, unless another version (of any tenant: artifacts are
    // content-addressed) still references them.
    let mut gone = Vec::new();
    for hash in hashes {
        if store::delete_unreferenced_artifact(&mut tx, &hash).await? {
            gone.push(hash);
        }
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete",
        "hook",
        &h.id,
        json!({"name": h.name}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Flow, &ctx.tenant_id).await?;
    tx.commit().await?;
    for hash in &gone {
        hooks.runtime.forget(hash);
    }
    hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}
