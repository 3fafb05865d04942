//! The runtime's in-memory maps, bounded: prepared components by content hash, and each
//! tenant's admission semaphore.
//!
//! Both grow with what tenants do (every uploaded version is prepared once; every tenant that
//! logs in gets a semaphore), so without a bound thousands of uploads or tenants would grow the
//! server's memory without limit. Both are least-recently-used maps (`hashlink::LruCache`,
//! already in the dependency tree through sqlx). Evicting a prepared component is always safe:
//! whoever still runs it holds its `Arc`, and the next login that needs it prepares it again
//! from the stored artifact. A tenant's semaphore is only evicted while nobody holds or waits
//! for one of its permits, or a tenant could get a fresh semaphore, and twice its cap, by
//! having itself evicted.

use std::sync::Arc;

use hashlink::LruCache;
use tokio::sync::Semaphore;

/// Bounds of the runtime's maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    /// Prepared components kept (each holds its compiled code mapped in memory).
    pub prepared: usize,
    /// Tenants whose admission semaphore is kept.
    pub tenants: usize,
}

impl CacheBounds {
    /// Default number of prepared components kept.
    pub const PREPARED: usize = 256;
    /// Default number of tenant semaphores kept.
    pub const TENANTS: usize = 10_000;
}

impl Default for CacheBounds {
    fn default() -> Self {
        CacheBounds {
            prepared: Self::PREPARED,
            tenants: Self::TENANTS,
        }
    }
}

/// A least-recently-used map of at most `capacity` values; the oldest is dropped on insert.
pub type Lru<V> = LruCache<String, V>;

/// A bounded LRU for `capacity` values (at least one).
pub fn lru<V>(capacity: usize) -> Lru<V> {
    LruCache::new(capacity.max(1))
}

/// Each tenant's admission semaphore, at most `capacity` of them unless more are busy at once.
#[derive(Debug)]
pub struct TenantSlots {
    map: LruCache<String, Share>,
    capacity: usize,
    per_tenant: usize,
    in_flight: usize,
}

/// One tenant's share of the hook pool.
#[derive(Debug, Clone)]
pub struct Share {
    /// Flows of the tenant running guest code (a flow waiting on a fetch gives its permit back).
    pub run: Arc<Semaphore>,
    /// Flows of the tenant admitted, running or waiting (each holds an instance slot).
    pub in_flight: Arc<Semaphore>,
}

impl Share {
    fn idle(&self) -> bool {
        Arc::strong_count(&self.run) == 1 && Arc::strong_count(&self.in_flight) == 1
    }
}

impl TenantSlots {
    /// An empty map keeping `capacity` tenants, each with `per_tenant` running flows and
    /// `in_flight` admitted ones.
    pub fn new(capacity: usize, per_tenant: usize, in_flight: usize) -> Self {
        TenantSlots {
            // Eviction is ours (below): only idle semaphores may go.
            map: LruCache::new_unbounded(),
            capacity: capacity.max(1),
            per_tenant,
            in_flight: in_flight.max(per_tenant),
        }
    }

    /// The tenant's semaphore, created on first use. Evicts least-recently-used idle
    /// semaphores beyond the bound.
    pub fn get(&mut self, tenant: &str) -> Share {
        if let Some(s) = self.map.get(tenant) {
            return s.clone();
        }
        let s = Share {
            run: Arc::new(Semaphore::new(self.per_tenant)),
            in_flight: Arc::new(Semaphore::new(self.in_flight)),
        };
        self.map.insert(tenant.to_string(), s.clone());
        while self.map.len() > self.capacity {
            // Idle: only the map holds it, so no permit is out and no task waits for one
            // (both hold a clone of the `Arc`). Busy ones stay; the map shrinks back as they
            // finish. There can be at most as many busy tenants as flows in flight.
            let idle = self
                .map
                .iter()
                .find(|(_, s)| s.idle())
                .map(|(k, _)| k.clone());
            match idle {
                Some(k) => {
                    self.map.remove(&k);
                }
                None => break,
            }
        }
        s
    }

    /// Tenants currently kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no tenant is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_lru_keeps_the_bound_and_the_recently_used() {
        let mut c = lru::<u32>(2);
        c.insert("a".into(), 1);
        c.insert("b".into(), 2);
        assert_eq!(c.get("a"), Some(&1));
        c.insert("c".into(), 3);
        assert_eq!(c.len(), 2);
        assert!(c.contains_key("a"), "recently used stays");
        assert!(!c.contains_key("b"), "least recently used goes");
    }

    #[test]
    fn busy_tenant_semaphores_are_never_evicted() {
        let mut t = TenantSlots::new(2, 1, 4);
        // Busy while it has a flow in flight, even one that gave its running permit back.
        let busy = t.get("busy").in_flight.try_acquire_owned().unwrap();
        for i in 0..10 {
            t.get(&format!("t{i}"));
        }
        assert_eq!(t.len(), 2, "bounded");
        assert_eq!(
            t.get("busy").in_flight.available_permits(),
            3,
            "the busy tenant kept its semaphore (and its cap)"
        );
        drop(busy);
        for i in 0..10 {
            t.get(&format!("u{i}"));
        }
        assert_eq!(t.len(), 2);
    }
}
