//! Preparing a stored component: its artifact from the store (MAC checked) or from the bounded
//! compile worker, type-checked against the world and kept in the host's prepared cache.

use std::sync::Arc;

use sigil_hooks::compile;
use sigil_hooks::engine::compatibility_hash;
use sigil_hooks::prepare::PreparedHook;

use super::{FlowError, Hooks};
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
        return Ok((h, Some(new)));
    }
    let stored = store::artifact(db, hash, &compat).await?;
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
            .map_err(|_| FlowError::Compile("compilation was interrupted".into()))?
            .map_err(|e| FlowError::Compile(e.to_string()))?;
            (artifact, true)
        }
    };
    let component = compile::load(hooks.runtime.engine(), &artifact)
        .map_err(|e| FlowError::Compile(e.to_string()))?;
    let prepared = hooks
        .runtime
        .prepare(hash, &component)
        .map_err(FlowError::World)?;
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
