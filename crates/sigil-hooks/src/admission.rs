//! Admission to compilation: how many compile workers run at once, and how often a tenant may
//! upload.
//!
//! Compiling untrusted wasm is the most expensive thing a tenant can make the server do (a
//! large component keeps a core busy for seconds), and it competes with every tenant's logins
//! for the same CPUs. Two limits keep it in its place: a server-wide semaphore in front of the
//! compile worker (default: half the cores, at least one), so compile load is capped however
//! many tenants upload at once, and a per-tenant token bucket on uploads, so one tenant cannot
//! keep that capacity to itself. Waiting for a worker is bounded too: a server that cannot
//! start a compile within the queue limit says so (`compile_busy`) rather than hold requests
//! (and their 4 MiB bodies) forever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::caches::{self, Lru};

/// Why an upload was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The tenant used up its upload allowance (HTTP 429, code `rate_limited`).
    #[error(
        "upload rate limit reached: at most {burst} uploads at once and {per_minute} per minute per tenant; retry in {retry_after_secs} s"
    )]
    RateLimited {
        /// The bucket's size.
        burst: u32,
        /// Its refill rate.
        per_minute: u32,
        /// Seconds until the next upload is allowed.
        retry_after_secs: u64,
    },
    /// Every compile worker stayed busy for the whole queue limit (HTTP 503, code
    /// `compile_busy`).
    #[error(
        "all {workers} compile workers stayed busy for {waited_secs} s; retry in {retry_after_secs} s"
    )]
    CompileBusy {
        /// Workers allowed at once.
        workers: usize,
        /// How long the upload waited.
        waited_secs: u64,
        /// A suggested wait.
        retry_after_secs: u64,
    },
}

impl AdmissionError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmissionError::RateLimited { .. } => "rate_limited",
            AdmissionError::CompileBusy { .. } => "compile_busy",
        }
    }

    /// Seconds the client should wait (the `Retry-After` header).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            AdmissionError::RateLimited {
                retry_after_secs, ..
            }
            | AdmissionError::CompileBusy {
                retry_after_secs, ..
            } => *retry_after_secs,
        }
    }
}

/// A tenant's upload allowance: a token bucket of `burst` uploads refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRate {
    /// Uploads a tenant may make back to back.
    pub burst: u32,
    /// Uploads a minute after that.
    pub per_minute: u32,
}

impl Default for UploadRate {
    /// 10 back to back, then 10 a minute: enough for CI deploying a handful of hooks, far
    /// below what it takes to keep a compile worker busy.
    fn default() -> Self {
        UploadRate {
            burst: 10,
            per_minute: 10,
        }
    }
}

/// Tenants whose bucket is remembered. Forgetting one refills it; only an operator can create
/// that many tenants.
const BUCKETS_KEPT: usize = 10_000;

/// Per-tenant upload buckets.
///
/// A token bucket kept as one number per tenant (the generic cell rate algorithm): `due_ms`,
/// the time at which the tenant's bucket would be full again. An upload at `now` is allowed
/// while `due_ms - now` is at most `(burst - 1)` intervals, and moves `due_ms` one interval
/// on. No fractional tokens, so nothing is lost to rounding between calls.
#[derive(Debug)]
pub struct UploadLimiter {
    rate: UploadRate,
    due_ms: Mutex<Lru<i64>>,
}

impl UploadLimiter {
    /// A limiter with `rate` for every tenant.
    pub fn new(rate: UploadRate) -> Self {
        UploadLimiter {
            rate: UploadRate {
                burst: rate.burst.max(1),
                per_minute: rate.per_minute.max(1),
            },
            due_ms: Mutex::new(caches::lru(BUCKETS_KEPT)),
        }
    }

    /// The rate in force.
    pub fn rate(&self) -> UploadRate {
        self.rate
    }

    /// Takes one upload from `tenant`'s bucket at time `now_ms`, or says how long to wait.
    pub fn take(&self, tenant: &str, now_ms: i64) -> Result<(), AdmissionError> {
        let interval =
            i64::try_from(60_000u64.div_ceil(u64::from(self.rate.per_minute))).unwrap_or(60_000);
        let tolerance = interval.saturating_mul(i64::from(self.rate.burst) - 1);
        let mut map = match self.due_ms.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // A clock that steps back never refills (`max`), and nothing here can overflow.
        let due = map.get(tenant).copied().unwrap_or(now_ms).max(now_ms);
        let ahead = due.saturating_sub(now_ms);
        if ahead > tolerance {
            let wait_ms = u64::try_from(ahead - tolerance).unwrap_or(u64::MAX);
            return Err(AdmissionError::RateLimited {
                burst: self.rate.burst,
                per_minute: self.rate.per_minute,
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            });
        }
        map.insert(tenant.to_string(), due.saturating_add(interval));
        Ok(())
    }
}

/// The server-wide cap on compile workers running at once.
#[derive(Debug, Clone)]
pub struct CompileGate {
    slots: Arc<Semaphore>,
    workers: usize,
    queue: Duration,
    /// Compiles waiting for a slot, for `/metrics`.
    waiting: Arc<AtomicUsize>,
}

/// Counts one waiter for as long as it waits, however the wait ends (a slot, the queue
/// limit, or the request dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CompileGate {
    /// At most `workers` compiles at once; a compile waits at most `queue` for its turn.
    pub fn new(workers: usize, queue: Duration) -> Self {
        let workers = workers.max(1);
        CompileGate {
            slots: Arc::new(Semaphore::new(workers)),
            workers,
            queue,
            waiting: Arc::default(),
        }
    }

    /// Workers allowed at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Compiles running now (holding a slot).
    pub fn running(&self) -> usize {
        self.workers.saturating_sub(self.slots.available_permits())
    }

    /// Compiles waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits for a worker slot (held until the permit is dropped).
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, AdmissionError> {
        let _waiting = Waiting::new(&self.waiting);
        match tokio::time::timeout(self.queue, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(AdmissionError::CompileBusy {
                workers: self.workers,
                waited_secs: self.queue.as_secs(),
                retry_after_secs: 10,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_refills_at_the_rate() {
        let l = UploadLimiter::new(UploadRate {
            burst: 3,
            per_minute: 6,
        });
        for _ in 0..3 {
            l.take("a", 0).unwrap();
        }
        let e = l.take("a", 0).unwrap_err();
        assert_eq!(e.code(), "rate_limited");
        assert_eq!(e.retry_after_secs(), 10, "one upload every 10 s");
        l.take("b", 0).expect("another tenant has its own bucket");
        assert!(l.take("a", 9_999).is_err());
        l.take("a", 10_000).expect("refilled after 10 s");
        assert!(l.take("a", 10_000).is_err());
        // A clock stepping back neither refills nor panics.
        assert!(l.take("a", -5).is_err());
    }

    #[tokio::test]
    async fn a_full_gate_answers_compile_busy_after_its_queue_limit() {
        let gate = CompileGate::new(1, Duration::from_millis(50));
        let held = gate.enter().await.unwrap();
        assert_eq!((gate.running(), gate.waiting()), (1, 0));
        let e = gate.enter().await.unwrap_err();
        assert_eq!(e.code(), "compile_busy");
        assert_eq!(
            gate.waiting(),
            0,
            "a waiter that gave up is no longer counted"
        );
        drop(held);
        assert_eq!(gate.running(), 0);
        let _free = gate.enter().await.expect("free again");
    }
}
