//! Each tenant's post-login flow, loaded once and reused for a few seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::runtime::FlowStep;

/// How long a loaded flow is reused before it is read again: a change made on another node
/// takes effect within this time (the node that made it drops its copy at once).
pub const FLOW_TTL: Duration = Duration::from_secs(5);

/// Each tenant's flow, ready to run (prepared components, decrypted secrets, limits), so a
/// login does not read hook rows, components and secrets from the database.
#[derive(Debug, Default)]
pub struct FlowCache {
    entries: Mutex<HashMap<String, (Instant, Vec<FlowStep>)>>,
}

impl FlowCache {
    pub(super) fn get(&self, tenant_id: &str) -> Option<Vec<FlowStep>> {
        let map = self.entries.lock().ok()?;
        let (at, steps) = map.get(tenant_id)?;
        (at.elapsed() < FLOW_TTL).then(|| steps.clone())
    }

    pub(super) fn put(&self, tenant_id: &str, steps: &[FlowStep]) {
        if let Ok(mut map) = self.entries.lock() {
            map.insert(tenant_id.into(), (Instant::now(), steps.to_vec()));
        }
    }

    /// Forgets a tenant's flow (after any change to its hooks on this node).
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(tenant_id);
        }
    }
}
