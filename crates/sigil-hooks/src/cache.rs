//! Contract 0.2.0's `cache`: a small key-value cache per tenant and hook, on this node only and
//! best-effort, so that a hook can skip its customer's API on most logins.
//!
//! Entries are namespaced by tenant and hook (a hook never reads another's, let alone another
//! tenant's), expire after their TTL, and are bounded per tenant (entries and bytes: a set past
//! the quota fails with `quota`, naming it) and for the node (the least recently used entries
//! of any tenant go first). Nothing is shared between nodes or kept across restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LinkedHashMap;

/// Longest key, bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Longest TTL (a day): a cache, not a store.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The cache's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookCacheBounds {
    /// Entries one tenant may hold.
    pub tenant_entries: usize,
    /// Bytes (keys and values) one tenant may hold.
    pub tenant_bytes: usize,
    /// Bytes the node holds for all tenants together.
    pub node_bytes: usize,
}

impl Default for HookCacheBounds {
    fn default() -> Self {
        Self {
            tenant_entries: 1_000,
            tenant_bytes: 1 << 20,
            node_bytes: 64 << 20,
        }
    }
}

/// Why a value was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The key or the value is over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// The tenant's cache is full.
    #[error("{0}")]
    Quota(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant: Arc<str>,
    hook: Arc<str>,
    key: String,
}

impl Key {
    fn bytes(&self) -> usize {
        self.key.len()
    }
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    entries: usize,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    // Least recently used first.
    entries: LinkedHashMap<Key, Entry>,
    tenants: HashMap<Arc<str>, Usage>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        let size = key.bytes() + e.value.len();
        self.bytes -= size;
        if let Some(u) = self.tenants.get_mut(&key.tenant) {
            u.entries -= 1;
            u.bytes -= size;
            if u.entries == 0 {
                self.tenants.remove(&key.tenant);
            }
        }
        Some(e)
    }

    /// Drops `tenant`'s expired entries (only when its quota is reached: a scan of the node's
    /// entries, rare by construction).
    fn purge_expired(&mut self, tenant: &str, now: Instant) {
        let expired: Vec<Key> = self
            .entries
            .iter()
            .filter(|(k, e)| &*k.tenant == tenant && e.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k);
        }
    }
}

/// The node's hook cache.
#[derive(Debug, Default)]
pub struct HookCache {
    bounds: HookCacheBounds,
    inner: Mutex<Inner>,
}

impl HookCache {
    /// An empty cache with `bounds`.
    pub fn new(bounds: HookCacheBounds) -> Self {
        Self {
            bounds,
            inner: Mutex::default(),
        }
    }

    /// The bounds.
    pub fn bounds(&self) -> HookCacheBounds {
        self.bounds
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(tenant: &Arc<str>, hook: &Arc<str>, key: &str) -> Key {
        Key {
            tenant: tenant.clone(),
            hook: hook.clone(),
            key: key.to_string(),
        }
    }

    /// The value under `key` for this tenant's hook, unless absent or expired.
    pub fn get(
        &self,
        tenant: &Arc<str>,
        hook: &Arc<str>,
        key: &str,
        now: Instant,
    ) -> Option<Vec<u8>> {
        let k = Self::key(tenant, hook, key);
        let mut inner = self.lock();
        let fresh = inner.entries.get(&k).map(|e| e.expires > now)?;
        if !fresh {
            inner.remove(&k);
            return None;
        }
        inner.entries.to_back(&k);
        inner.entries.get(&k).map(|e| e.value.clone())
    }

    /// Stores `value` under `key` for `ttl` (at most [`MAX_TTL`]).
    pub fn set(
        &self,
        tenant: &Arc<str>,
        hook: &Arc<str>,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        now: Instant,
    ) -> Result<(), CacheError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(CacheError::TooLarge(format!(
                "the key is {} bytes; the limit is {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(CacheError::TooLarge(format!(
                "the value is {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let k = Self::key(tenant, hook, key);
        let size = k.bytes() + value.len();
        let b = self.bounds;
        let mut inner = self.lock();
        inner.remove(&k);
        let fits = |u: Usage| u.entries < b.tenant_entries && u.bytes + size <= b.tenant_bytes;
        let usage = |inner: &Inner| inner.tenants.get(tenant).copied().unwrap_or_default();
        if !fits(usage(&inner)) {
            inner.purge_expired(tenant, now);
            if !fits(usage(&inner)) {
                return Err(CacheError::Quota(format!(
                    "the tenant's hook cache holds at most {} entries and {} bytes",
                    b.tenant_entries, b.tenant_bytes
                )));
            }
        }
        // The node's bound: the least recently used entries go, whoever's they are.
        while inner.bytes + size > b.node_bytes {
            let Some(oldest) = inner.entries.front().map(|(k, _)| k.clone()) else {
                break;
            };
            inner.remove(&oldest);
        }
        inner.bytes += size;
        let u = inner.tenants.entry(tenant.clone()).or_default();
        u.entries += 1;
        u.bytes += size;
        inner.entries.insert(
            k,
            Entry {
                value,
                expires: now + ttl.min(MAX_TTL),
            },
        );
        Ok(())
    }

    /// Removes `key` for this tenant's hook.
    pub fn delete(&self, tenant: &Arc<str>, hook: &Arc<str>, key: &str) {
        self.lock().remove(&Self::key(tenant, hook, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Arc<str>, Arc<str>, Arc<str>) {
        ("ten_a".into(), "ten_b".into(), "hook_1".into())
    }

    #[test]
    fn entries_are_per_tenant_and_hook_and_expire() {
        let c = HookCache::new(HookCacheBounds::default());
        let (a, b, h) = ids();
        let other: Arc<str> = "hook_2".into();
        let t0 = Instant::now();
        c.set(&a, &h, "plan", b"pro".to_vec(), Duration::from_secs(60), t0)
            .unwrap();
        assert_eq!(c.get(&a, &h, "plan", t0), Some(b"pro".to_vec()));
        assert_eq!(c.get(&b, &h, "plan", t0), None, "another tenant");
        assert_eq!(c.get(&a, &other, "plan", t0), None, "another hook");
        assert_eq!(c.get(&a, &h, "plan", t0 + Duration::from_secs(61)), None);
        c.set(&a, &h, "k", b"v".to_vec(), Duration::from_secs(60), t0)
            .unwrap();
        c.delete(&a, &h, "k");
        assert_eq!(c.get(&a, &h, "k", t0), None);
    }

    #[test]
    fn a_tenant_past_its_quota_is_refused_and_others_are_not() {
        let c = HookCache::new(HookCacheBounds {
            tenant_entries: 3,
            tenant_bytes: 1 << 20,
            node_bytes: 64 << 20,
        });
        let (a, b, h) = ids();
        let t0 = Instant::now();
        for i in 0..3 {
            c.set(
                &a,
                &h,
                &format!("k{i}"),
                vec![0; 10],
                Duration::from_secs(5),
                t0,
            )
            .unwrap();
        }
        assert!(matches!(
            c.set(&a, &h, "k3", vec![0; 10], Duration::from_secs(5), t0),
            Err(CacheError::Quota(_))
        ));
        // Replacing an entry is not growth.
        c.set(&a, &h, "k0", vec![1; 10], Duration::from_secs(5), t0)
            .unwrap();
        c.set(&b, &h, "k0", vec![0; 10], Duration::from_secs(5), t0)
            .unwrap();
        // Once expired, the tenant's entries make room.
        let later = t0 + Duration::from_secs(6);
        c.set(&a, &h, "k3", vec![0; 10], Duration::from_secs(5), later)
            .unwrap();
        assert!(matches!(
            c.set(
                &a,
                &h,
                &"x".repeat(MAX_KEY_BYTES + 1),
                vec![],
                Duration::from_secs(5),
                t0
            ),
            Err(CacheError::TooLarge(_))
        ));
    }

    #[test]
    fn the_node_bound_drops_the_least_recently_used() {
        let c = HookCache::new(HookCacheBounds {
            tenant_entries: 1_000,
            tenant_bytes: 1 << 20,
            node_bytes: 100,
        });
        let (a, b, h) = ids();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        c.set(&a, &h, "a1", vec![0; 40], ttl, t0).unwrap();
        c.set(&b, &h, "b1", vec![0; 40], ttl, t0).unwrap();
        assert!(
            c.get(&a, &h, "a1", t0).is_some(),
            "a1 is now the most recent"
        );
        c.set(&b, &h, "b2", vec![0; 40], ttl, t0).unwrap();
        assert!(
            c.get(&b, &h, "b1", t0).is_none(),
            "the least recently used went"
        );
        assert!(c.get(&a, &h, "a1", t0).is_some());
        assert!(c.get(&b, &h, "b2", t0).is_some());
    }
}
