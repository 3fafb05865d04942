//! Prepared hooks: components type-checked against the world once, their entry point
//! resolved, and cached by content hash so a login never compiles or links.

use std::sync::Arc;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use crate::HookError;
use crate::bindings::{v0_1, v0_2};
use crate::host::HostState;
use crate::invoke::ENTRY;
use crate::runtime::HookRuntime;

/// The contract version a hook is built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `sigil:hooks@0.1.0`.
    V0_1,
    /// `sigil:hooks@0.2.0`.
    V0_2,
}

impl Contract {
    /// `0.1.0`, `0.2.0`.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }
}

/// A component ready to instantiate (type-checked against the world once).
pub struct PreparedHook {
    pub(crate) pre: InstancePre<HostState>,
    /// The `on-post-login` export, resolved once.
    pub(crate) entry: ComponentExportIndex,
    /// SHA-256 of the component bytes.
    pub hash: String,
    /// Whether the component imports an asynchronous host function (0.2.0's `fetch`, WASI), so
    /// that it must be instantiated and called on a fiber; the rest run without one.
    pub needs_async: bool,
    /// The contract version it implements.
    pub contract: Contract,
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
            .field("contract", &self.contract)
            .finish()
    }
}

/// Whether an import (a WIT interface name) is linked to asynchronous host functions: WASI's
/// (`runtime` links them with `add_to_linker_async`) and 0.2.0's `http`.
fn is_async_import(name: &str) -> bool {
    name.starts_with("wasi:") || name.starts_with("sigil:hooks/http@")
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
        // The world's type check, done once here so `invoke` can skip it on every login. The
        // version is the one the component's imports name (`sigil:hooks/types@0.2.0`, say); a
        // component that names none is checked against each version, newest first.
        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let names = |v: &str| {
            imports
                .iter()
                .any(|i| i.starts_with("sigil:hooks/") && i.ends_with(&format!("@{v}")))
        };
        let v2 = || v0_2::PostLoginPre::new(pre.clone()).map(|_| Contract::V0_2);
        let v1 = || v0_1::PostLoginPre::new(pre.clone()).map(|_| Contract::V0_1);
        let checked = if names("0.2.0") {
            v2()
        } else if names("0.1.0") {
            v1()
        } else {
            v2().or_else(|_| v1())
        };
        let contract = checked.map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
        let entry = component
            .get_export_index(None, ENTRY)
            .ok_or_else(|| HookError::Instantiate(format!("the hook exports no `{ENTRY}`")))?;
        let needs_async = imports.iter().any(|name| is_async_import(name));
        let hook = Arc::new(PreparedHook {
            pre,
            entry,
            hash: hash.to_string(),
            needs_async,
            contract,
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
