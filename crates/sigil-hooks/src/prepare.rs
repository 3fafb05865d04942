//! Prepared hooks: components type-checked against the world once, their entry point
//! resolved, and cached by content hash so a login never compiles or links.

use std::sync::Arc;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use crate::HookError;
use crate::bindings::v0_1::PostLoginPre;
use crate::host::HostState;
use crate::invoke::ENTRY;
use crate::runtime::HookRuntime;

/// A component ready to instantiate (type-checked against the world once).
pub struct PreparedHook {
    pub(crate) pre: InstancePre<HostState>,
    /// The `on-post-login` export, resolved once.
    pub(crate) entry: ComponentExportIndex,
    /// SHA-256 of the component bytes.
    pub hash: String,
}

impl PreparedHook {
    /// The compiled artifact of this component, as the compile worker produced it: stored for
    /// an upload of a component this node has prepared but whose artifact is not stored.
    pub fn artifact(&self) -> Result<Vec<u8>, HookError> {
        self.pre
            .component()
            .serialize()
            .map_err(|e| HookError::Internal(format!("serializing a component: {e:#}")))
    }
}

impl std::fmt::Debug for PreparedHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedHook")
            .field("hash", &self.hash)
            .finish()
    }
}

impl HookRuntime {
    /// Type-checks a compiled component against the world and caches it by content hash.
    pub fn prepare(
        &self,
        hash: &str,
        component: &Component,
    ) -> Result<Arc<PreparedHook>, HookError> {
        if let Some(h) = self.cached(hash) {
            return Ok(h);
        }
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
        // The world's type check, done once here so `invoke` can skip it on every login.
        PostLoginPre::new(pre.clone()).map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
        let entry = component
            .get_export_index(None, ENTRY)
            .ok_or_else(|| HookError::Instantiate(format!("the hook exports no `{ENTRY}`")))?;
        let hook = Arc::new(PreparedHook {
            pre,
            entry,
            hash: hash.to_string(),
        });
        if let Ok(mut c) = self.cache.lock() {
            c.insert(hash.to_string(), hook.clone());
        }
        Ok(hook)
    }

    /// A prepared hook from the cache.
    pub fn cached(&self, hash: &str) -> Option<Arc<PreparedHook>> {
        self.cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(hash).cloned())
    }

    /// Drops a prepared component from the cache (its stored artifact was deleted).
    pub fn forget(&self, hash: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(hash);
        }
    }

    /// How many prepared components the cache holds (at most `caches.prepared`).
    pub fn cached_len(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }
}
