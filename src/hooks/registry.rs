//! Managing hooks: upload, versions, deploy, rollback, delete, secrets and limits. The
//! per-tenant flow, test runs and traces are in [`super::flows`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::admission::{CompileGate, UploadLimiter};
use super::compile::{self, ArtifactSeal, CompilerSettings};
use super::metrics::Metrics;
use super::runtime::{HookRuntime, PreparedHook};
use super::upload;
use super::{LimitOverrides, Limits};
use crate::clock::rfc3339;
use crate::crypto::Sealer;
use crate::ids::{IdKind, new_id};
use crate::manage::{ManageError, Page, PageParams, Result, TenantCtx, invalid, record, validate};
use crate::services::Services;
use crate::store::Tx;
use crate::store::hooks::{self as store, By, HookRow, VersionRow};

/// Everything the hook side of Sigil shares.
#[derive(Debug)]
pub struct HookServices {
    /// The runtime.
    pub runtime: Arc<HookRuntime>,
    /// The compile worker.
    pub compiler: CompilerSettings,
    /// The cap on compile workers running at once.
    pub compile_gate: CompileGate,
    /// Per-tenant upload rate.
    pub uploads: UploadLimiter,
    /// MACs on stored artifacts.
    pub seal: ArtifactSeal,
    /// Encryption of hook secrets.
    pub secrets: Sealer,
    /// Operator ceilings; tenants and hooks can only lower them.
    pub ceilings: Limits,
    /// Prometheus counters.
    pub metrics: Metrics,
    /// Loaded flows per tenant.
    pub flows: super::flow_cache::FlowCache,
    /// Stores flow traces in batches.
    pub traces: super::traces::TraceWriter,
}

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

fn version_view(v: VersionRow) -> HookVersion {
    HookVersion {
        imports: serde_json::from_str(&v.imports).unwrap_or_default(),
        version: v.version,
        hash: v.hash,
        size: v.size,
        created_at: rfc3339(v.created_at),
    }
}

fn upload_error(e: upload::UploadError) -> ManageError {
    invalid("wasm", e.to_string())
}

/// A compiled artifact that passed the world check and is not stored yet.
#[derive(Debug)]
struct NewArtifact {
    compat: String,
    artifact: Vec<u8>,
    mac: String,
}

/// Loads the stored artifact of `hash` (MAC checked) or compiles `component` in the bounded
/// worker, then type-checks it against the world and caches it. A fresh artifact is returned,
/// not stored: the caller stores it once the component passed every check (and, for an
/// upload, in the transaction that stores the version referencing it), so a refused upload
/// leaves nothing behind.
///
/// For an upload (`ensure_stored`), a prepared component in memory is not enough: its
/// artifact must be in the database too (another node may have deleted it with the last
/// version that used it), or a version would be stored without one; it is then serialized
/// from memory, not compiled again.
async fn load_or_compile(
    svc: &Services,
    hash: &str,
    component: Vec<u8>,
    ensure_stored: bool,
) -> Result<(Arc<PreparedHook>, Option<NewArtifact>)> {
    let hooks = &svc.hooks;
    let compat = super::engine::compatibility_hash(hooks.runtime.engine());
    if let Some(h) = hooks.runtime.cached(hash) {
        if !ensure_stored || store::has_artifact(&svc.store, hash, &compat).await? {
            return Ok((h, None));
        }
        let artifact = h
            .artifact()
            .map_err(|e| ManageError::Internal(e.to_string()))?;
        let new = NewArtifact {
            mac: hooks.seal.seal(hash, &compat, &artifact),
            compat,
            artifact,
        };
        return Ok((h, Some(new)));
    }
    let stored = store::artifact(&svc.store, hash, &compat).await?;
    let (artifact, fresh) = match stored {
        Some((artifact, mac)) if hooks.seal.verify(hash, &compat, &artifact, &mac).is_ok() => {
            (artifact, false)
        }
        other => {
            if other.is_some() {
                tracing::error!(hash, "stored artifact failed authentication; recompiling");
            }
            // Held until the worker exits: at most `compiler.workers` compile at once.
            let _slot = hooks.compile_gate.enter().await?;
            let compiler = hooks.compiler.clone();
            let engine_settings = hooks.runtime.settings().engine;
            let artifact = tokio::task::spawn_blocking(move || {
                compile::compile_in_child(&compiler, &engine_settings, &component)
            })
            .await
            .map_err(|_| invalid("wasm", "compilation was interrupted"))?
            .map_err(|e| invalid("wasm", e.to_string()))?;
            (artifact, true)
        }
    };
    let component = compile::load(hooks.runtime.engine(), &artifact)
        .map_err(|e| invalid("wasm", e.to_string()))?;
    let prepared = hooks.runtime.prepare(hash, &component).map_err(|e| {
        invalid(
            "wasm",
            format!("the component does not implement the world sigil:hooks/post-login@0.1.0: {e}"),
        )
    })?;
    let new = fresh.then(|| NewArtifact {
        mac: hooks.seal.seal(hash, &compat, &artifact),
        compat,
        artifact,
    });
    Ok((prepared, new))
}

/// Compiles (in the bounded worker) or loads the artifact of a stored version's component
/// and prepares it (a login after the prepared cache dropped it, or after an engine upgrade).
/// A fresh artifact is stored once the component passed the world check.
pub async fn prepare(svc: &Services, hash: &str, component: Vec<u8>) -> Result<Arc<PreparedHook>> {
    let (prepared, new) = load_or_compile(svc, hash, component, false).await?;
    if let Some(a) = new {
        let mut tx = svc.store.begin_write().await?;
        store::put_artifact(&mut tx, hash, &a.compat, &a.artifact, &a.mac, svc.now()).await?;
        tx.commit().await?;
    }
    Ok(prepared)
}

/// Uploads a new immutable version of hook `name` (creating the hook on first upload).
/// Admission first (the tenant's upload rate), then everything is validated, compiled and
/// checked against the world before anything is stored; the version and its artifact are
/// stored in one transaction.
pub async fn upload(svc: &Services, ctx: &TenantCtx, name: &str, bytes: &[u8]) -> Result<Uploaded> {
    svc.hooks.uploads.take(&ctx.tenant_id, svc.now())?;
    validate::token("name", name, 100)?;
    let v = upload::validate(bytes).map_err(upload_error)?;
    let (_, artifact) = load_or_compile(svc, &v.hash, v.component.clone(), true).await?;
    let now = svc.now();
    let mut tx = svc.store.begin_write().await?;
    let hook = match store::get_hook(
        &mut **tx,
        &ctx.tenant_id,
        By::Name(name),
        svc.store.for_update(),
    )
    .await?
    {
        Some(h) => h,
        None => {
            let h = HookRow {
                id: new_id(IdKind::Hook, now),
                tenant_id: ctx.tenant_id.clone(),
                name: name.to_string(),
                deployed_version: None,
                limits: "{}".into(),
                created_at: now,
                updated_at: now,
            };
            store::insert_hook(&mut tx, &h).await?;
            h
        }
    };
    let version = store::next_version(&mut tx, &hook.id).await?;
    let row = VersionRow {
        hook_id: hook.id.clone(),
        version,
        hash: v.hash.clone(),
        size: v.component.len() as i64,
        imports: serde_json::to_string(&v.imports).unwrap_or_else(|_| "[]".into()),
        created_at: now,
    };
    store::insert_version(&mut tx, &ctx.tenant_id, &row, &v.component).await?;
    if let Some(a) = artifact {
        store::put_artifact(&mut tx, &v.hash, &a.compat, &a.artifact, &a.mac, now).await?;
    }
    let summary = json!({"name": name, "version": version, "hash": v.hash});
    record(&mut tx, svc, ctx, "upload", "hook", &hook.id, summary).await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    Ok(Uploaded {
        hook_id: hook.id,
        name: name.to_string(),
        version: version_view(row),
    })
}

/// Deletes every stored artifact that no version references (left by versions deleted on an
/// older release, or a version deleted while a login stored its artifact). Runs at start-up;
/// returns how many went.
pub async fn sweep_orphan_artifacts(svc: &Services) -> Result<u64> {
    let mut tx = svc.store.begin_write().await?;
    let n = store::delete_orphan_artifacts(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

pub(super) async fn find(svc: &Services, ctx: &TenantCtx, id_or_name: &str) -> Result<HookRow> {
    let by = if id_or_name.starts_with("hook_") {
        By::Id(id_or_name)
    } else {
        By::Name(id_or_name)
    };
    store::get_hook(svc.store.pool(), &ctx.tenant_id, by, "")
        .await?
        .ok_or(ManageError::NotFound("hook"))
}

async fn view(svc: &Services, h: HookRow) -> Result<Hook> {
    let versions = store::versions(svc.store.pool(), &h.id).await?;
    let secrets = store::secrets(svc.store.pool(), &h.id).await?;
    Ok(Hook {
        limits: serde_json::from_str(&h.limits).unwrap_or_default(),
        id: h.id,
        name: h.name,
        deployed_version: h.deployed_version,
        versions: versions.into_iter().map(version_view).collect(),
        secrets: secrets.into_iter().map(|(n, _, _)| n).collect(),
        created_at: rfc3339(h.created_at),
    })
}

/// A hook by id or name.
pub async fn get(svc: &Services, ctx: &TenantCtx, id_or_name: &str) -> Result<Hook> {
    let h = find(svc, ctx, id_or_name).await?;
    view(svc, h).await
}

/// Lists hooks.
pub async fn list(svc: &Services, ctx: &TenantCtx, page: &PageParams) -> Result<Page<Hook>> {
    let rows = store::list_hooks(&svc.store, &ctx.tenant_id, page.cursor(), page.limit()?).await?;
    let mut data = Vec::new();
    for h in rows.items {
        data.push(view(svc, h).await?);
    }
    Ok(Page {
        data,
        next_cursor: rows.next_cursor,
    })
}

/// Reads and locks a hook (by id or name) for a read-modify-write.
async fn lock(svc: &Services, tx: &mut Tx, ctx: &TenantCtx, id_or_name: &str) -> Result<HookRow> {
    let h = find(svc, ctx, id_or_name).await?;
    store::get_hook(
        &mut **tx,
        &ctx.tenant_id,
        By::Id(&h.id),
        svc.store.for_update(),
    )
    .await?
    .ok_or(ManageError::NotFound("hook"))
}

async fn set_deployed(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    pick: impl Fn(&HookRow, &[VersionRow]) -> Result<i64>,
) -> Result<Hook> {
    let mut tx = svc.store.begin_write().await?;
    let mut row = lock(svc, &mut tx, ctx, id_or_name).await?;
    let versions = store::versions(&mut **tx, &row.id).await?;
    let version = pick(&row, &versions)?;
    let previous = row.deployed_version;
    row.deployed_version = Some(version);
    row.updated_at = svc.now();
    store::update_hook(&mut tx, &row).await?;
    let summary = json!({"version": version, "previous": previous});
    record(&mut tx, svc, ctx, "deploy", "hook", &row.id, summary).await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    view(svc, row).await
}

/// Deploys `version` (what "latest deployed" bindings run from now on).
pub async fn deploy(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    version: i64,
) -> Result<Hook> {
    set_deployed(svc, ctx, id_or_name, |_, vs| {
        if vs.iter().any(|v| v.version == version) {
            Ok(version)
        } else {
            Err(invalid("version", format!("no version {version}")))
        }
    })
    .await
}

/// Deploys the version before the deployed one.
pub async fn rollback(svc: &Services, ctx: &TenantCtx, id_or_name: &str) -> Result<Hook> {
    set_deployed(svc, ctx, id_or_name, |h, vs| {
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
pub async fn delete(svc: &Services, ctx: &TenantCtx, id_or_name: &str) -> Result<()> {
    let h = find(svc, ctx, id_or_name).await?;
    let mut tx = svc.store.begin_write().await?;
    if store::is_bound(&mut tx, &h.id).await? {
        return Err(ManageError::InUse(
            "the hook is bound in the post-login flow; unbind it first",
        ));
    }
    let mut hashes: Vec<String> = store::versions(&mut **tx, &h.id)
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
        svc,
        ctx,
        "delete",
        "hook",
        &h.id,
        json!({"name": h.name}),
    )
    .await?;
    tx.commit().await?;
    for hash in &gone {
        svc.hooks.runtime.forget(hash);
    }
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}

/// Body of `PUT /hooks/{id}/secrets/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// The value (write-only: it is never returned).
    pub value: String,
}

fn secret_aad(hook_id: &str, name: &str) -> String {
    format!("{hook_id}/{name}")
}

/// Sets a secret (encrypted at rest).
pub async fn set_secret(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    validate::token("name", name, 100)?;
    if value.len() > 4096 {
        return Err(invalid("value", "at most 4096 bytes"));
    }
    let h = find(svc, ctx, id_or_name).await?;
    let sealed = svc
        .hooks
        .secrets
        .seal(value.as_bytes(), &secret_aad(&h.id, name));
    let mut tx = svc.store.begin_write().await?;
    store::put_secret(&mut tx, &h.id, name, &sealed, svc.now()).await?;
    record(
        &mut tx,
        svc,
        ctx,
        "set_secret",
        "hook",
        &h.id,
        json!({"secret": name}),
    )
    .await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}

/// Deletes a secret.
pub async fn delete_secret(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    name: &str,
) -> Result<()> {
    let h = find(svc, ctx, id_or_name).await?;
    let mut tx = svc.store.begin_write().await?;
    if !store::delete_secret(&mut tx, &h.id, name).await? {
        return Err(ManageError::NotFound("secret"));
    }
    record(
        &mut tx,
        svc,
        ctx,
        "delete_secret",
        "hook",
        &h.id,
        json!({"secret": name}),
    )
    .await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    Ok(())
}

pub(super) async fn open_secrets(svc: &Services, hook_id: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (name, sealed, _) in store::secrets(svc.store.pool(), hook_id).await? {
        let plain = svc
            .hooks
            .secrets
            .open(&sealed, &secret_aad(hook_id, &name))
            .ok_or_else(|| {
                ManageError::Internal(format!("secret {name} of {hook_id} does not decrypt"))
            })?;
        out.push((name, String::from_utf8_lossy(&plain).into_owned()));
    }
    Ok(out)
}

fn check_overrides(o: &LimitOverrides) -> Result<()> {
    let fields = [
        ("deadline_ms", o.deadline_ms),
        ("flow_deadline_ms", o.flow_deadline_ms),
        ("fuel", o.fuel),
        ("memory_bytes", o.memory_bytes.map(|v| v as u64)),
        ("event_bytes", o.event_bytes.map(|v| v as u64)),
        ("claim_bytes", o.claim_bytes.map(|v| v as u64)),
        ("log_bytes", o.log_bytes.map(|v| v as u64)),
    ];
    for (f, v) in fields {
        if v == Some(0) {
            return Err(invalid(format!("limits.{f}"), "must be positive"));
        }
    }
    Ok(())
}

/// Sets a hook's limit overrides (they only ever lower the tenant's limits).
pub async fn set_hook_limits(
    svc: &Services,
    ctx: &TenantCtx,
    id_or_name: &str,
    o: LimitOverrides,
) -> Result<Hook> {
    check_overrides(&o)?;
    let mut tx = svc.store.begin_write().await?;
    let mut row = lock(svc, &mut tx, ctx, id_or_name).await?;
    row.limits = serde_json::to_string(&o).unwrap_or_else(|_| "{}".into());
    row.updated_at = svc.now();
    store::update_hook(&mut tx, &row).await?;
    record(
        &mut tx,
        svc,
        ctx,
        "set_limits",
        "hook",
        &row.id,
        json!({"limits": o}),
    )
    .await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    view(svc, row).await
}

/// The tenant's effective limits and its overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantLimits {
    /// What the tenant asked for.
    pub overrides: LimitOverrides,
    /// The operator's ceilings.
    pub ceilings: Limits,
    /// What hooks of this tenant run with (before per-hook overrides).
    pub effective: Limits,
}

/// The tenant's limits.
pub async fn tenant_limits(svc: &Services, ctx: &TenantCtx) -> Result<TenantLimits> {
    let o: LimitOverrides =
        serde_json::from_str(&store::tenant_limits(&svc.store, &ctx.tenant_id).await?)
            .unwrap_or_default();
    Ok(TenantLimits {
        overrides: o,
        ceilings: svc.hooks.ceilings,
        effective: svc.hooks.ceilings.lowered(&o),
    })
}

/// Sets the tenant's overrides.
pub async fn set_tenant_limits(
    svc: &Services,
    ctx: &TenantCtx,
    o: LimitOverrides,
) -> Result<TenantLimits> {
    check_overrides(&o)?;
    let mut tx = svc.store.begin_write().await?;
    store::set_tenant_limits(
        &mut tx,
        &ctx.tenant_id,
        &serde_json::to_string(&o).unwrap_or_else(|_| "{}".into()),
    )
    .await?;
    record(
        &mut tx,
        svc,
        ctx,
        "set_hook_limits",
        "tenant",
        &ctx.tenant_id,
        json!({"limits": o}),
    )
    .await?;
    tx.commit().await?;
    svc.hooks.flows.invalidate(&ctx.tenant_id);
    tenant_limits(svc, ctx).await
}
