//! Each tenant's post-login flow, loaded once and reused until it changes.

use std::collections::HashMap;
use std::sync::Mutex;

use super::runtime::FlowStep;

/// How long a loaded flow is reused before it is read again. Changes reach every node at once
/// through invalidation (the node that made the change, and the others by the server's change
/// feed); this bound is the safety net for a change whose announcement was lost.
pub const FLOW_TTL_MS: i64 = 5_000;

/// Each tenant's flow, ready to run (prepared components, decrypted secrets, limits), so a
/// login does not read hook rows, components and secrets from the database. Times are the
/// caller's clock (epoch milliseconds), so tests can move them.
///
/// A load that read the database before an invalidation must not store what it read after
/// it: the caller takes a [`Self::generation`] before reading and [`Self::put`] refuses the
/// result when an invalidation came in between.
#[derive(Debug, Default)]
pub struct FlowCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    flows: HashMap<String, (i64, Vec<FlowStep>)>,
    /// Counts invalidations.
    generation: u64,
}

impl FlowCache {
    /// The tenant's flow as loaded less than [`FLOW_TTL_MS`] before `now`.
    pub fn get(&self, tenant_id: &str, now: i64) -> Option<Vec<FlowStep>> {
        let map = self.inner.lock().ok()?;
        let (at, steps) = map.flows.get(tenant_id)?;
        (*at..*at + FLOW_TTL_MS)
            .contains(&now)
            .then(|| steps.clone())
    }

    /// Whether the tenant's flow, as loaded less than [`FLOW_TTL_MS`] before `now`, runs any
    /// hook; `None` when no fresh copy is kept. Cheaper than [`Self::get`]: nothing is copied.
    pub fn binds_hooks(&self, tenant_id: &str, now: i64) -> Option<bool> {
        let map = self.inner.lock().ok()?;
        let (at, steps) = map.flows.get(tenant_id)?;
        (*at..*at + FLOW_TTL_MS)
            .contains(&now)
            .then_some(!steps.is_empty())
    }

    /// The invalidation count, taken before reading what [`Self::put`] will store.
    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|m| m.generation).unwrap_or(0)
    }

    /// Keeps the tenant's flow as loaded at `now` from a read that began at `generation`;
    /// nothing when an invalidation happened since (the read may predate the change).
    pub fn put(&self, tenant_id: &str, steps: &[FlowStep], now: i64, generation: u64) {
        if let Ok(mut map) = self.inner.lock()
            && map.generation == generation
        {
            map.flows.insert(tenant_id.into(), (now, steps.to_vec()));
        }
    }

    /// Forgets a tenant's flow (after any change to its hooks).
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.flows.remove(tenant_id);
            map.generation += 1;
        }
    }

    /// Forgets every tenant's flow (changes may have been missed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.inner.lock() {
            map.flows.clear();
            map.generation += 1;
        }
    }
}
