//! Which successful logins' traces are stored: each tenant's, up to a rate, then a sample.
//!
//! A tenant keeps its newest [`super::TRACES_KEPT`] traces. At a few thousand logins a second,
//! storing every trace would keep under a second of history while writing and deleting as many
//! rows a second on the database every node shares: the cost lands on every grant and buys
//! nothing a reader can see. So a node stores a tenant's successful logins' traces up to
//! `per_second` a second (a token bucket holding one second's worth, so a burst of that many is
//! stored whole), and above it stores one as tokens come back. A stored trace counts the
//! successful runs of the same tenant that were not stored since the one before it (`runs`),
//! which the latency chart weighs, so its counts stay those of the logins.
//!
//! Denied, failed and aborted logins, logins in which a hook failed open, test runs and
//! legacy-store calls are not rate-limited: those are the traces a reader comes for.

use std::collections::HashMap;
use std::sync::Mutex;

/// The default rate: successful logins' traces stored per tenant per second on one node.
pub const DEFAULT_PER_SECOND: u32 = 100;

/// Tenants remembered before the idle ones are forgotten.
const MAX_TENANTS: usize = 10_000;

/// One tenant's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of the traces that may be stored now (at most a second's worth): whole
    /// numbers, so that refills add up exactly.
    milli: u64,
    /// When `milli` was last brought up to date (epoch ms).
    at_ms: i64,
    /// Successful runs not stored since the last stored one.
    skipped: u64,
}

/// The per-tenant rate of successful logins' traces (see the module's documentation).
#[derive(Debug)]
pub struct TraceRate {
    per_second: u32,
    tenants: Mutex<HashMap<String, Bucket>>,
}

impl TraceRate {
    /// Stores up to `per_second` successful logins' traces per tenant a second; 0 stores
    /// every one.
    pub fn new(per_second: u32) -> Self {
        TraceRate {
            per_second,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the trace of a successful login of `tenant` at `now_ms` (epoch ms) is stored:
    /// `Some(runs)`, the runs it stands for (itself and those not stored since the tenant's
    /// last stored trace), or `None` when it is not stored.
    pub fn admit(&self, tenant: &str, now_ms: i64) -> Option<u64> {
        if self.per_second == 0 {
            return Some(1);
        }
        let cap = u64::from(self.per_second) * 1000;
        // A poisoned lock only means another login panicked mid-update of plain numbers.
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = match tenants.get_mut(tenant) {
            Some(b) => b,
            None => {
                if tenants.len() >= MAX_TENANTS {
                    // A tenant idle for a second has its bucket full again; only its count of
                    // skipped runs is lost, which a stored trace would have carried.
                    tenants.retain(|_, b| now_ms - b.at_ms < 1000);
                }
                tenants.entry(tenant.to_string()).or_insert(Bucket {
                    milli: cap,
                    at_ms: now_ms,
                    skipped: 0,
                })
            }
        };
        // A clock that steps back refills nothing.
        // A millisecond gives back `per_second` thousandths of a trace.
        let elapsed = u64::try_from(now_ms - bucket.at_ms).unwrap_or(0);
        bucket.milli = elapsed
            .saturating_mul(u64::from(self.per_second))
            .saturating_add(bucket.milli)
            .min(cap);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if bucket.milli >= 1000 {
            bucket.milli -= 1000;
            let runs = 1 + bucket.skipped;
            bucket.skipped = 0;
            Some(runs)
        } else {
            bucket.skipped += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_rate_is_stored_whole_and_the_rest_counted_in_the_next_stored() {
        let r = TraceRate::new(3);
        let t = 1_000_000;
        assert_eq!(r.admit("ten_a", t), Some(1));
        assert_eq!(r.admit("ten_a", t), Some(1));
        assert_eq!(r.admit("ten_a", t), Some(1));
        assert_eq!(r.admit("ten_a", t), None);
        assert_eq!(r.admit("ten_a", t + 100), None);
        // A third of a second gives one trace back: it stands for the two before it too.
        assert_eq!(r.admit("ten_a", t + 334), Some(3));
        assert_eq!(r.admit("ten_a", t + 334), None);
    }

    #[test]
    fn each_tenant_has_its_own_rate() {
        let r = TraceRate::new(1);
        assert_eq!(r.admit("ten_a", 0), Some(1));
        assert_eq!(r.admit("ten_a", 0), None);
        assert_eq!(r.admit("ten_b", 0), Some(1));
        assert_eq!(r.admit("ten_a", 1000), Some(2));
    }

    #[test]
    fn a_rate_of_zero_stores_every_trace() {
        let r = TraceRate::new(0);
        for _ in 0..1000 {
            assert_eq!(r.admit("ten_a", 0), Some(1));
        }
    }

    #[test]
    fn a_clock_stepping_back_refills_nothing() {
        let r = TraceRate::new(1);
        assert_eq!(r.admit("ten_a", 10_000), Some(1));
        assert_eq!(r.admit("ten_a", 5_000), None);
        assert_eq!(r.admit("ten_a", 10_999), None);
        assert_eq!(r.admit("ten_a", 11_000), Some(3));
    }

    #[test]
    fn idle_tenants_are_forgotten_when_too_many_are_remembered() {
        let r = TraceRate::new(1);
        for i in 0..MAX_TENANTS {
            r.admit(&format!("ten_{i}"), 0);
        }
        r.admit("ten_new", 5_000);
        assert_eq!(r.tenants.lock().unwrap().len(), 1);
    }
}
