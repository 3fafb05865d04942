//! Preparing a stored component: its artifact from this node's disk cache or the store (MAC
//! checked either way) or from the bounded compile worker, type-checked against the world and
//! kept in the host's prepared cache.

use std::sync::Arc;

use sigil_hooks::compile;
use sigil_hooks::engine::compatibility_hash;
use sigil_hooks::prepare::PreparedHook;

use super::artifact_disk::DiskRead;
use super::{FlowError, Hooks};
use crate::metrics::PrepareSource;
use crate::store::Store;
use crate::store::hooks as store;

/// A compiled artifact that passed the world check and is not stored yet.
#[derive(Debug)]
pub struct NewArtifact {
    /// The engine compatibility hash the artifact was compiled for.
    pub compat: String,
    /// The serialized artifact.
    pub artifact: Vec<u8>,
    /// Its MAC (see [`sigil_hooks::compile::ArtifactSeal`]).
    pub mac: String,
}

impl NewArtifact {
    /// Stores the artifact in `tx` (in an upload, the transaction that stores the version
    /// referencing it).
    pub async fn store(
        &self,
        tx: &mut crate::store::WriteTx,
        hash: &str,
        now: i64,
    ) -> Result<(), FlowError> {
        store::put_artifact(tx, hash, &self.compat, &self.artifact, &self.mac, now).await?;
        Ok(())
    }
}

/// Prepares the component of `hash` from the first place that has it: the host's prepared
/// cache (memory), this node's disk cache, the artifact stored in the database (MAC checked
/// either way), or the bounded compile worker; then type-checks it against the world and
/// caches it. An artifact read from the database, compiled, or serialized for an upload is
/// written to the disk cache once it passed the world check. A fresh artifact is returned, not stored: the caller stores it
/// once the component passed every check (and, for an upload, in the transaction that stores
/// the version referencing it), so a refused upload leaves nothing behind.
///
/// For an upload (`ensure_stored`), an artifact in memory or on disk is not enough: it must be
/// in the database too (another node may have deleted it with the last version that used it),
/// or a version would be stored without one; it is then returned as fresh, not compiled again.
pub async fn load_or_compile(
    db: &Store,
    hooks: &Hooks,
    hash: &str,
    component: Vec<u8>,
    ensure_stored: bool,
) -> Result<(Arc<PreparedHook>, Option<NewArtifact>), FlowError> {
    let compat = compatibility_hash(hooks.runtime.engine());
    if let Some(h) = hooks.runtime.cached(hash) {
        if !ensure_stored || store::has_artifact(db, hash, &compat).await? {
            return Ok((h, None));
        }
        let artifact = h.artifact().map_err(FlowError::Host)?;
        let new = NewArtifact {
            mac: hooks.seal.seal(hash, &compat, &artifact),
            compat,
            artifact,
        };
        if let Some(disk) = &hooks.artifact_disk {
            disk.write(hash, &new.compat, &new.mac, new.artifact.clone())
                .await;
        }
        return Ok((h, Some(new)));
    }
    let (artifact, source) = match from_disk(hooks, hash, &compat).await {
        Some(artifact) => (artifact, PrepareSource::Disk),
        None => from_database_or_compiler(db, hooks, hash, &compat, component).await?,
    };
    let prepared = deserialize(hooks, hash, &artifact)?;
    hooks.metrics.prepared(source);
    let mac = hooks.seal.seal(hash, &compat, &artifact);
    let in_database = match source {
        PrepareSource::Database => true,
        PrepareSource::Compiled => false,
        PrepareSource::Disk => !ensure_stored || store::has_artifact(db, hash, &compat).await?,
    };
    let new = (!in_database).then(|| NewArtifact {
        mac: mac.clone(),
        compat: compat.clone(),
        artifact: artifact.clone(),
    });
    if source != PrepareSource::Disk
        && let Some(disk) = &hooks.artifact_disk
    {
        disk.write(hash, &compat, &mac, artifact).await;
    }
    Ok((prepared, new))
}

/// The artifact of `hash` in this node's disk cache, once its MAC verified (a file that does
/// not verify is deleted and counted).
async fn from_disk(hooks: &Hooks, hash: &str, compat: &str) -> Option<Vec<u8>> {
    let disk = hooks.artifact_disk.as_ref()?;
    match disk.read(&hooks.seal, hash, compat).await {
        DiskRead::Hit(artifact) => Some(artifact),
        DiskRead::Miss => None,
        DiskRead::Rejected => {
            hooks.metrics.artifact_cache_rejected();
            None
        }
    }
}

/// The artifact stored in the database (MAC checked), or a fresh one from the bounded compile
/// worker.
async fn from_database_or_compiler(
    db: &Store,
    hooks: &Hooks,
    hash: &str,
    compat: &str,
    component: Vec<u8>,
) -> Result<(Vec<u8>, PrepareSource), FlowError> {
    match store::artifact(db, hash, compat).await? {
        Some((artifact, mac)) if hooks.seal.verify(hash, compat, &artifact, &mac).is_ok() => {
            return Ok((artifact, PrepareSource::Database));
        }
        Some(_) => tracing::error!(hash, "stored artifact failed authentication; recompiling"),
        None => {}
    }
    // Held until the worker exits: at most `compiler.workers` compile at once.
    let _slot = hooks.compile_gate.enter().await?;
    let compiler = hooks.compiler.clone();
    let engine_settings = hooks.runtime.settings().engine;
    let artifact = tokio::task::spawn_blocking(move || {
        compile::compile_in_child(&compiler, &engine_settings, &component)
    })
    .await
    .map_err(|_| FlowError::Compile("compilation was interrupted".into()))?
    .map_err(|e| FlowError::Compile(e.to_string()))?;
    Ok((artifact, PrepareSource::Compiled))
}

/// Loads an authenticated artifact into the engine and type-checks it against the world
/// (cached in the host's prepared cache when it passes).
fn deserialize(hooks: &Hooks, hash: &str, artifact: &[u8]) -> Result<Arc<PreparedHook>, FlowError> {
    let component = compile::load(hooks.runtime.engine(), artifact)
        .map_err(|e| FlowError::Compile(e.to_string()))?;
    hooks
        .runtime
        .prepare(hash, &component)
        .map_err(FlowError::World)
}

/// Compiles (in the bounded worker) or loads the artifact of a stored version's component
/// and prepares it (a login after the prepared cache dropped it, or after an engine upgrade).
/// A fresh artifact is stored once the component passed the world check.
pub async fn prepare(
    db: &Store,
    hooks: &Hooks,
    hash: &str,
    component: Vec<u8>,
    now: i64,
) -> Result<Arc<PreparedHook>, FlowError> {
    let (prepared, new) = load_or_compile(db, hooks, hash, component, false).await?;
    if let Some(a) = new {
        let mut tx = db.begin_write().await?;
        a.store(&mut tx, hash, now).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
    }
    Ok(prepared)
}
