//! Circuit breakers, one per tenant and destination: after `threshold` consecutive failures
//! (no connection, TLS failure, timeout, or a 5xx answer) requests to that destination fail at
//! once with `circuit-open` for `open_for`; then one request goes through as a probe, and its
//! result closes the circuit or opens it again. A customer API that is down then costs each
//! login microseconds instead of the hook's whole deadline.

use std::time::{Duration, Instant};

use hashlink::LruCache;
use std::sync::Mutex;

/// How breakers trip and recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the circuit.
    pub threshold: u32,
    /// How long it stays open before a probe.
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// While a probe is out: until when it counts (a probe whose result never comes, its login
    /// abandoned, must not keep the circuit open for good).
    probe_until: Option<Instant>,
}

/// The breakers of one node, bounded (least recently used destinations are forgotten, which
/// only ever closes a circuit early).
#[derive(Debug)]
pub struct Breakers {
    settings: BreakerSettings,
    states: Mutex<LruCache<(String, String), State>>,
}

/// What the breaker says about a request about to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Go,
    /// Send it as the probe of an open circuit.
    Probe,
    /// Do not send it: the circuit is open.
    Open,
}

impl Breakers {
    /// Breakers for at most `capacity` destinations.
    pub fn new(settings: BreakerSettings, capacity: usize) -> Self {
        Self {
            settings,
            states: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    fn with<R>(&self, tenant: &str, dest: &str, f: impl FnOnce(&mut State) -> R) -> R {
        let mut map = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.to_string(), dest.to_string());
        if map.get(&key).is_none() {
            map.insert(key.clone(), State::default());
        }
        let state = map.get_mut(&key).expect("inserted above");
        f(state)
    }

    /// Whether a request of `tenant` to `dest` (`host:port`) may be sent at `now`.
    pub fn admit(&self, tenant: &str, dest: &str, now: Instant) -> Admission {
        let open_for = self.settings.open_for;
        self.with(tenant, dest, |s| match (s.open_until, s.probe_until) {
            (None, _) => Admission::Go,
            (Some(until), _) if now < until => Admission::Open,
            (Some(_), Some(probe)) if now < probe => Admission::Open,
            (Some(_), _) => {
                s.probe_until = Some(now + open_for);
                Admission::Probe
            }
        })
    }

    /// Records how a request that was admitted went.
    pub fn record(&self, tenant: &str, dest: &str, ok: bool, now: Instant) {
        let settings = self.settings;
        self.with(tenant, dest, |s| {
            if ok {
                *s = State::default();
                return;
            }
            s.failures = s.failures.saturating_add(1);
            if s.probe_until.is_some() || s.failures >= settings.threshold {
                s.open_until = Some(now + settings.open_for);
                s.probe_until = None;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_probes_once() {
        let b = Breakers::new(
            BreakerSettings {
                threshold: 3,
                open_for: Duration::from_secs(10),
            },
            100,
        );
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(b.admit("t1", "crm:443", t0), Admission::Go);
            b.record("t1", "crm:443", false, t0);
        }
        assert_eq!(b.admit("t1", "crm:443", t0), Admission::Go);
        b.record("t1", "crm:443", false, t0);
        assert_eq!(b.admit("t1", "crm:443", t0), Admission::Open);
        // Another tenant's circuit to the same place is its own.
        assert_eq!(b.admit("t2", "crm:443", t0), Admission::Go);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit("t1", "crm:443", later), Admission::Probe);
        assert_eq!(
            b.admit("t1", "crm:443", later),
            Admission::Open,
            "one probe at a time"
        );
        b.record("t1", "crm:443", false, later);
        assert_eq!(
            b.admit("t1", "crm:443", later),
            Admission::Open,
            "a failed probe reopens"
        );
        let much_later = later + Duration::from_secs(11);
        assert_eq!(b.admit("t1", "crm:443", much_later), Admission::Probe);
        // That probe's login was abandoned: after another `open_for`, another probe goes.
        let much_later = much_later + Duration::from_secs(11);
        assert_eq!(b.admit("t1", "crm:443", much_later), Admission::Probe);
        b.record("t1", "crm:443", true, much_later);
        assert_eq!(b.admit("t1", "crm:443", much_later), Admission::Go);
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breakers::new(
            BreakerSettings {
                threshold: 2,
                open_for: Duration::from_secs(10),
            },
            100,
        );
        let t0 = Instant::now();
        b.record("t", "d", false, t0);
        b.record("t", "d", true, t0);
        b.record("t", "d", false, t0);
        assert_eq!(b.admit("t", "d", t0), Admission::Go);
    }
}
