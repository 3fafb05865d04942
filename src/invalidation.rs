//! Keeping a node's caches true to the database: each change another node (or the CLI)
//! announces drops this node's copy of that tenant's state, and a reconnect of the change
//! listener drops every copy (announcements made while it was away are lost). See
//! [`crate::store::changes`] for the announcing side.

use crate::keys::KeyRing;
use crate::store::changes::{Cached, Change, Heard};
use crate::store::hot::HotRows;
use crate::templates::cache::TemplateCache;
use sigil_hooks::flow_cache::FlowCache;

/// The per-tenant caches of one node.
#[derive(Debug, Clone, Copy)]
pub struct Caches<'a> {
    /// Post-login flows.
    pub flows: &'a FlowCache,
    /// Parsed JWT templates.
    pub templates: &'a TemplateCache,
    /// Parsed signing keys.
    pub keys: &'a KeyRing,
    /// Tenants and applications.
    pub rows: &'a HotRows,
}

impl Caches<'_> {
    /// Drops what `change` made stale.
    pub fn forget(&self, change: &Change) {
        match change.what {
            Cached::Flow => self.flows.invalidate(&change.tenant_id),
            Cached::Templates => self.templates.invalidate(&change.tenant_id),
            Cached::Keys => self.keys.forget(&change.tenant_id),
            Cached::Apps => self.rows.forget(change),
            Cached::Tenant => {
                self.rows.forget(change);
                self.flows.invalidate(&change.tenant_id);
                self.templates.invalidate(&change.tenant_id);
                self.keys.forget(&change.tenant_id);
            }
        }
    }

    /// Drops everything.
    pub fn forget_everything(&self) {
        self.flows.clear();
        self.templates.clear();
        self.keys.clear();
        self.rows.clear();
    }

    /// Applies what the feed heard.
    pub fn apply(&self, heard: &Heard) {
        match heard {
            Heard::Change(c) => {
                tracing::debug!(tenant = %c.tenant_id, what = ?c.what, "change announced");
                self.forget(c);
            }
            Heard::Reconnected => {
                tracing::info!("listening for changes; dropped every cached copy");
                self.forget_everything();
            }
        }
    }
}
