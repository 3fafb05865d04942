//! The time a legacy store takes to answer, replayed where a refused login did not ask it.
//!
//! In a tenant with a legacy store, a refused password login normally asks the legacy store
//! (an unknown name, or one only the legacy store knows) and pays its round trip; a wrong
//! password for a user Sigil already migrated does not, and neither does a locked name. Left
//! alone, that difference (a network round trip, tens of milliseconds against a real legacy
//! system) would tell an attacker which names belong to migrated users. So those refusals wait
//! for a duration taken in turn from the tenant's last [`SAMPLES`] legacy calls: the same
//! distribution, not only the same mean.
//!
//! Per node and in memory, bounded to [`TENANTS`] tenants (the least recently asked is
//! forgotten; until a tenant's first legacy call on this node, there is nothing to replay).

use std::sync::Mutex;
use std::time::Duration;

use hashlink::LruCache;

/// Durations kept per tenant.
pub const SAMPLES: usize = 32;
/// Tenants kept per node.
pub const TENANTS: usize = 10_000;
/// The longest wait replayed: a legacy call is bounded by its hook's deadline anyway.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// The last legacy call durations of one tenant, and which one is replayed next.
#[derive(Debug, Default)]
struct Recent {
    samples: Vec<Duration>,
    /// Where the next sample is written (a ring once full).
    next: usize,
    /// Which sample is replayed next.
    turn: usize,
}

/// Recent legacy call durations per tenant.
#[derive(Debug)]
pub struct LegacyPace {
    tenants: Mutex<LruCache<String, Recent>>,
}

impl Default for LegacyPace {
    fn default() -> Self {
        Self {
            tenants: Mutex::new(LruCache::new(TENANTS)),
        }
    }
}

impl LegacyPace {
    /// Records that one of `tenant`'s legacy calls took `took`.
    pub fn record(&self, tenant: &str, took: Duration) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if tenants.get(tenant).is_none() {
            tenants.insert(tenant.to_string(), Recent::default());
        }
        let Some(r) = tenants.get_mut(tenant) else {
            return;
        };
        let took = took.min(MAX_WAIT);
        if r.samples.len() < SAMPLES {
            r.samples.push(took);
        } else {
            r.samples[r.next] = took;
        }
        r.next = (r.next + 1) % SAMPLES;
    }

    /// The wait a refusal that did not ask `tenant`'s legacy store replays: one of its recent
    /// call durations, in turn (zero until there is one).
    pub fn next_wait(&self, tenant: &str) -> Duration {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = tenants.get_mut(tenant) else {
            return Duration::ZERO;
        };
        if r.samples.is_empty() {
            return Duration::ZERO;
        }
        let wait = r.samples[r.turn % r.samples.len()];
        r.turn = r.turn.wrapping_add(1);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_replay_the_recent_durations_in_turn_and_forget_the_oldest() {
        let pace = LegacyPace::default();
        assert_eq!(pace.next_wait("t"), Duration::ZERO, "nothing to replay yet");
        for ms in [10, 20, 30] {
            pace.record("t", Duration::from_millis(ms));
        }
        let waits: Vec<u128> = (0..4).map(|_| pace.next_wait("t").as_millis()).collect();
        assert_eq!(waits, [10, 20, 30, 10]);
        for _ in 0..SAMPLES {
            pace.record("t", Duration::from_millis(7));
        }
        assert_eq!(pace.next_wait("t"), Duration::from_millis(7));
        assert_eq!(pace.next_wait("other"), Duration::ZERO, "per tenant");
        pace.record("t", Duration::from_secs(60));
        let longest = (0..SAMPLES).map(|_| pace.next_wait("t")).max().unwrap();
        assert_eq!(longest, MAX_WAIT, "bounded");
    }
}
