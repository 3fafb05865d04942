//! Prepared hooks: components type-checked against the world once, their entry point
//! resolved, and cached by content hash so a login never compiles or links.

use std::sync::Arc;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use crate::HookError;
use crate::bindings::{v0_1, v0_2, v0_2_user_store};
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

/// Which world a hook implements: what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Runs in the post-login flow (`on-post-login`).
    PostLogin,
    /// Verifies passwords against a legacy system (`login`, `lookup`, `user-count`; 0.2.0).
    UserStore,
}

impl World {
    /// `post-login`, `user-store`: the world's name in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            World::PostLogin => "post-login",
            World::UserStore => "user-store",
        }
    }
}

/// A world's exports, resolved once.
pub(crate) enum Exports {
    /// The `on-post-login` export.
    PostLogin(ComponentExportIndex),
    /// The user-store exports, type-checked.
    UserStore(v0_2_user_store::UserStorePre<HostState>),
}

/// A component ready to instantiate (type-checked against the world once).
pub struct PreparedHook {
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) exports: Exports,
    /// SHA-256 of the component bytes.
    pub hash: String,
    /// Whether the component imports an asynchronous host function (0.2.0's `fetch`, WASI), so
    /// that it must be instantiated and called on a fiber; the rest run without one.
    pub needs_async: bool,
    /// The contract version it implements.
    pub contract: Contract,
}

impl PreparedHook {
    /// The world it implements.
    pub fn world(&self) -> World {
        match self.exports {
            Exports::PostLogin(_) => World::PostLogin,
            Exports::UserStore(_) => World::UserStore,
        }
    }

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
            .field("world", &self.world())
            .finish()
    }
}

/// The export that makes a component a user-store hook.
pub(crate) const USER_STORE_LOGIN: &str = "login";

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
        // The world is the one whose exports it has: a user-store hook exports `login`.
        let (contract, exports) = if component.get_export_index(None, USER_STORE_LOGIN).is_some() {
            let checked = v0_2_user_store::UserStorePre::new(pre.clone())
                .map_err(|e| HookError::Instantiate(format!("{e:#}")))?;
            (Contract::V0_2, Exports::UserStore(checked))
        } else {
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
            (contract, Exports::PostLogin(entry))
        };
        let needs_async = imports.iter().any(|name| is_async_import(name));
        let hook = Arc::new(PreparedHook {
            pre,
            exports,
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
