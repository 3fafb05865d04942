//! A node's copies of the rows every token request reads and almost nothing writes: tenants by
//! name and applications by client id. A grant then reads only the user and the token it
//! redeems from the database.
//!
//! They stay true the way the other per-node caches do ([`super::changes`]): a write of an
//! application or a tenant announces the change in its own transaction
//! ([`changes::announce`](super::changes::announce)), and its commit drops this node's copy
//! ([`WriteTx::commit`](super::WriteTx::commit)), so the node that made a change never serves
//! the old row after answering. Other nodes drop theirs when their change feed hears of it, and
//! every copy expires after [`TTL_MS`], the net for a change whose announcement was lost (the
//! CLI writing to the same SQLite file, a feed that was reconnecting). Only rows found are kept:
//! an unknown name or client id is read every time, so a row created a moment ago is never
//! hidden by an earlier miss.

use std::sync::{Arc, Mutex, PoisonError};

use hashlink::LruCache;

use super::apps::AppRow;
use super::changes::{Cached, Change};
use super::tenants::TenantRow;

/// How long a copy is used before it is read again, in milliseconds.
pub const TTL_MS: i64 = 5_000;

/// How many tenants and how many applications a node keeps; the least recently used go first.
pub const MAX_ENTRIES: usize = 10_000;

/// The copies of one kind, with the count of invalidations: a load that read the database
/// before an invalidation does not store what it read.
#[derive(Debug)]
struct Copies<T> {
    map: LruCache<String, (i64, Arc<T>)>,
    generation: u64,
}

impl<T> Copies<T> {
    fn new() -> Self {
        Self {
            map: LruCache::new(MAX_ENTRIES),
            generation: 0,
        }
    }
}

/// Tenants by name and applications by `tenant_id` and `client_id`.
#[derive(Debug)]
pub struct HotRows {
    tenants: Mutex<Copies<TenantRow>>,
    apps: Mutex<Copies<AppRow>>,
}

impl Default for HotRows {
    fn default() -> Self {
        Self {
            tenants: Mutex::new(Copies::new()),
            apps: Mutex::new(Copies::new()),
        }
    }
}

/// The key of an application: tenant ids have no NUL.
fn app_key(tenant_id: &str, client_id: &str) -> String {
    format!("{tenant_id}\0{client_id}")
}

/// A fresh copy under `key`, or the generation a load must still see to store one.
fn lookup<T>(copies: &Mutex<Copies<T>>, key: &str, now: i64) -> Result<Arc<T>, u64> {
    let mut c = copies.lock().unwrap_or_else(PoisonError::into_inner);
    match c.map.get(key) {
        Some((at, row)) if (*at..at.saturating_add(TTL_MS)).contains(&now) => Ok(row.clone()),
        _ => Err(c.generation),
    }
}

fn store<T>(copies: &Mutex<Copies<T>>, key: String, row: Arc<T>, now: i64, generation: u64) {
    let mut c = copies.lock().unwrap_or_else(PoisonError::into_inner);
    if c.generation == generation {
        c.map.insert(key, (now, row));
    }
}

fn drop_where<T>(copies: &Mutex<Copies<T>>, doomed: impl Fn(&str, &T) -> bool) {
    let mut c = copies.lock().unwrap_or_else(PoisonError::into_inner);
    c.generation += 1;
    let keys: Vec<String> = c
        .map
        .iter()
        .filter(|(k, (_, row))| doomed(k, row))
        .map(|(k, _)| k.clone())
        .collect();
    for k in keys {
        c.map.remove(&k);
    }
}

impl HotRows {
    /// The tenant named `name`, if a fresh copy is kept; else the generation to store under.
    pub(super) fn tenant(&self, name: &str, now: i64) -> Result<Arc<TenantRow>, u64> {
        lookup(&self.tenants, name, now)
    }

    /// Keeps a tenant read at `now`, unless an invalidation came after `generation`.
    pub(super) fn keep_tenant(&self, row: Arc<TenantRow>, now: i64, generation: u64) {
        store(&self.tenants, row.name.clone(), row, now, generation);
    }

    /// The application, if a fresh copy is kept; else the generation to store under.
    pub(super) fn app(
        &self,
        tenant_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Arc<AppRow>, u64> {
        lookup(&self.apps, &app_key(tenant_id, client_id), now)
    }

    /// Keeps an application read at `now`, unless an invalidation came after `generation`.
    pub(super) fn keep_app(&self, row: Arc<AppRow>, now: i64, generation: u64) {
        let key = app_key(&row.tenant_id, &row.client_id);
        store(&self.apps, key, row, now, generation);
    }

    /// Drops what `change` made stale: a tenant's applications, or the tenant itself and
    /// everything of it. Other kinds are cached elsewhere.
    pub fn forget(&self, change: &Change) {
        let tenant = change.tenant_id.as_str();
        match change.what {
            Cached::Apps => drop_where(&self.apps, |_, a| a.tenant_id == tenant),
            Cached::Tenant => {
                drop_where(&self.tenants, |_, t| t.id == tenant);
                drop_where(&self.apps, |_, a| a.tenant_id == tenant);
            }
            Cached::Flow | Cached::Templates | Cached::Keys => {}
        }
    }

    /// Drops every copy (changes may have been missed).
    pub fn clear(&self) {
        drop_where(&self.tenants, |_, _| true);
        drop_where(&self.apps, |_, _| true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str, name: &str) -> Arc<TenantRow> {
        Arc::new(TenantRow {
            id: id.into(),
            name: name.into(),
            created_at: 0,
        })
    }

    fn change(what: Cached, tenant_id: &str) -> Change {
        Change {
            what,
            tenant_id: tenant_id.into(),
        }
    }

    #[test]
    fn a_copy_is_served_until_its_ttl_and_read_again_after() {
        let hot = HotRows::default();
        let generation = hot.tenant("acme", 1_000).unwrap_err();
        hot.keep_tenant(tenant("ten_1", "acme"), 1_000, generation);
        assert_eq!(hot.tenant("acme", 1_000 + TTL_MS - 1).unwrap().id, "ten_1");
        assert!(hot.tenant("acme", 1_000 + TTL_MS).is_err());
        // A clock that went back does not make an old copy fresh for longer.
        assert!(hot.tenant("acme", 999).is_err());
    }

    #[test]
    fn a_load_that_began_before_a_change_does_not_keep_what_it_read() {
        let hot = HotRows::default();
        let generation = hot.tenant("acme", 0).unwrap_err();
        // The tenant is deleted while the load is reading it.
        hot.forget(&change(Cached::Tenant, "ten_1"));
        hot.keep_tenant(tenant("ten_1", "acme"), 0, generation);
        assert!(hot.tenant("acme", 0).is_err(), "the stale read was kept");
    }

    #[test]
    fn a_tenant_change_drops_that_tenant_only_and_other_kinds_drop_nothing() {
        let hot = HotRows::default();
        for (id, name) in [("ten_1", "acme"), ("ten_2", "globex")] {
            let generation = hot.tenant(name, 0).unwrap_err();
            hot.keep_tenant(tenant(id, name), 0, generation);
        }
        hot.forget(&change(Cached::Flow, "ten_1"));
        hot.forget(&change(Cached::Apps, "ten_1"));
        assert!(hot.tenant("acme", 0).is_ok());
        hot.forget(&change(Cached::Tenant, "ten_1"));
        assert!(hot.tenant("acme", 0).is_err());
        assert!(hot.tenant("globex", 0).is_ok());
        hot.clear();
        assert!(hot.tenant("globex", 0).is_err());
    }
}
