//! Each tenant's post-login flow, loaded once and reused for a few seconds.

use std::collections::HashMap;
use std::sync::Mutex;

use super::runtime::FlowStep;

/// How long a loaded flow is reused before it is read again: a change made on another node
/// takes effect within this time (the node that made it drops its copy at once).
pub const FLOW_TTL_MS: i64 = 5_000;

/// Each tenant's flow, ready to run (prepared components, decrypted secrets, limits), so a
/// login does not read hook rows, components and secrets from the database. Times are the
/// caller's clock (epoch milliseconds), so tests can move them.
#[derive(Debug, Default)]
pub struct FlowCache {
    entries: Mutex<HashMap<String, (i64, Vec<FlowStep>)>>,
}

impl FlowCache {
    /// The tenant's flow as loaded less than [`FLOW_TTL_MS`] before `now`.
    pub fn get(&self, tenant_id: &str, now: i64) -> Option<Vec<FlowStep>> {
        let map = self.entries.lock().ok()?;
        let (at, steps) = map.get(tenant_id)?;
        (*at..*at + FLOW_TTL_MS)
            .contains(&now)
            .then(|| steps.clone())
    }

    /// Keeps the tenant's flow as loaded at `now`.
    pub fn put(&self, tenant_id: &str, steps: &[FlowStep], now: i64) {
        if let Ok(mut map) = self.entries.lock() {
            map.insert(tenant_id.into(), (now, steps.to_vec()));
        }
    }

    /// Forgets a tenant's flow (after any change to its hooks on this node).
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(tenant_id);
        }
    }
}
