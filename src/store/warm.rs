//! PostgreSQL connections kept between reads, so that a read costs one liveness check instead
//! of two.
//!
//! sqlx checks a pooled connection's liveness with a round trip (a `Sync` alone) when it hands
//! one out (`test_before_acquire`, which is what lets a node ride out a database restart:
//! `tests/api/outage`) *and again when it takes one back* (`sqlx-core` 0.8's
//! `Floating::return_to_pool`, unconditionally, to flush what a cancelled statement left
//! behind). For a refresh grant that was four of its seven round trips (`cargo bench --bench
//! grants -- round-trips` lists them). The second check adds nothing the first does not give:
//! a connection is checked before its next use either way, and that check drains what a
//! cancelled statement left unread just as well. So a [`Read`](super::Read) on PostgreSQL does
//! not give its connection back to sqlx: it keeps it here, and the next read takes a kept one
//! and checks it (one round trip) before using it; a connection that fails the check (ended by
//! the server, as a restart does) is closed and the next one tried, then sqlx's pool. The
//! whole wait is bounded by the acquire timeout, as a wait in sqlx's pool is. A read whose
//! statement can run twice may skip even that check on a connection given back within
//! [`RECENT`] ([`super::Store::read_retried`]).
//!
//! Reads take their turn in one first-come line, and at most half the pool holds reads (kept
//! or in use), so the writes, which take their connections from sqlx's pool, always find the
//! other half there, and every connection a read ends with can be kept for the next one
//! (none goes back through sqlx's check). Kept connections count as idle in `/metrics`. Not
//! used behind a transaction pooler, where a read is a transaction of its own
//! ([`super::conn`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::StoreError;

/// How long a connection is kept unused before it goes back to sqlx's pool, whose idle timeout
/// and maximum lifetime then apply to it (an idle node holds no more connections than sqlx
/// would let it).
pub const KEEP_FOR: Duration = Duration::from_secs(60);

/// A kept connection given back this recently is handed to a read that may be retried
/// ([`super::Store::read_retried`]) without its liveness check: a connection a read finished
/// with a moment ago is alive but for a restart in that moment, and then the read's statement
/// fails as an unavailable database and runs again on a checked connection. HikariCP skips its
/// check for the same reason within 500 ms of a connection's last use (`aliveBypassWindowMs`).
pub const RECENT: Duration = Duration::from_millis(500);

/// The kept connections, the most recently kept last, with when each was kept.
#[derive(Debug)]
pub struct Warm {
    conns: Mutex<Vec<(tokio::time::Instant, PoolConnection<Any>)>>,
    /// Reads in the order they asked, one permit per read holding a connection. A read that
    /// arrived first gets the next connection a read ends with: without this line, a read
    /// that found none kept waited in sqlx's pool while each connection given back went to
    /// whichever read asked next, and at 16 clients on 10 connections the p99 was 5x to 9x
    /// the p50. Its permits are half the pool, so kept and lent connections together never
    /// exceed half of it. Closed (under the list's lock) once the store closes.
    line: Arc<Semaphore>,
    acquire_timeout: Duration,
}

impl Warm {
    /// No connections kept yet; a read waits at most `acquire_timeout` for one. At most half
    /// of a pool of `pool_size` (at least one) holds reads: writes take their connections from
    /// sqlx's pool (a transaction gives its connection back to sqlx when it ends), and with every
    /// connection held or kept for reads they would wait for one until their acquire timeout.
    pub fn new(acquire_timeout: Duration, pool_size: u32) -> Self {
        Self {
            conns: Mutex::new(Vec::new()),
            line: Arc::new(Semaphore::new((pool_size as usize / 2).max(1))),
            acquire_timeout,
        }
    }

    /// A connection for a read: the most recently kept one that passes its liveness check, or
    /// one from `pool`; with `retryable`, a kept one given back within [`RECENT`] unchecked
    /// ([`Lent::checked`] says which). Past the acquire timeout, `PoolTimedOut` (a 503, as from
    /// the pool).
    pub async fn acquire(
        self: &Arc<Self>,
        pool: &AnyPool,
        retryable: bool,
    ) -> Result<Lent, StoreError> {
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        let permit =
            match tokio::time::timeout_at(deadline, self.line.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // Closed: the store is closing.
                Ok(Err(_)) => return Err(sqlx::Error::PoolClosed.into()),
                Err(_) => return Err(sqlx::Error::PoolTimedOut.into()),
            };
        let (conn, checked) = self.connection(pool, deadline, retryable).await?;
        Ok(Lent {
            conn: Some(conn),
            checked,
            warm: self.clone(),
            _permit: permit,
        })
    }

    /// With a place in the line: a kept connection, else one from sqlx's pool (which checks
    /// its own); whether it was checked.
    async fn connection(
        &self,
        pool: &AnyPool,
        deadline: tokio::time::Instant,
        retryable: bool,
    ) -> Result<(PoolConnection<Any>, bool), StoreError> {
        while let Some((kept_at, mut conn)) = self.take() {
            if retryable && kept_at.elapsed() < RECENT {
                return Ok((conn, false));
            }
            match tokio::time::timeout_at(deadline, conn.ping()).await {
                Ok(Ok(())) => return Ok((conn, true)),
                // Ended while kept (a restart, an idle timeout on the server): closed, and the
                // next one tried.
                Ok(Err(_)) => conn.close_on_drop(),
                Err(_) => {
                    conn.close_on_drop();
                    return Err(sqlx::Error::PoolTimedOut.into());
                }
            }
        }
        match tokio::time::timeout_at(deadline, pool.acquire()).await {
            Ok(conn) => Ok((conn?, true)),
            Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    /// Keeps `conn` for the next read, or gives it back to the pool once the store is closed
    /// (then the pool closes it). Connections kept longer than [`KEEP_FOR`] unused go back to
    /// the pool. Every connection a read ends with can be kept: the line's permits bound the
    /// kept and the lent ones together to half the pool.
    pub fn keep(&self, conn: PoolConnection<Any>) {
        let now = tokio::time::Instant::now();
        let stale = {
            let mut conns = self.lock();
            // Read under the lock that `close` closes the line under: a connection kept after
            // `close` emptied the list would hold sqlx's `close` (which waits for every
            // connection) up for good.
            if self.line.is_closed() {
                drop(conns);
                drop(conn);
                return;
            }
            conns.push((now, conn));
            let n = conns
                .iter()
                .take_while(|(kept, _)| now.duration_since(*kept) > KEEP_FOR)
                .count();
            conns.drain(..n).collect::<Vec<_>>()
        };
        // Given back outside the lock (each one's return is a task of sqlx's).
        drop(stale);
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives every kept connection back to the pool and keeps none from now on (the pool is
    /// closing: it waits for its connections to come back).
    pub fn close(&self) {
        let kept = {
            let mut conns = self.lock();
            self.line.close();
            std::mem::take(&mut *conns)
        };
        // Given back outside the lock, as in `keep`.
        drop(kept);
    }

    fn take(&self) -> Option<(tokio::time::Instant, PoolConnection<Any>)> {
        self.lock().pop()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(tokio::time::Instant, PoolConnection<Any>)>> {
        // A poisoned lock only means a thread panicked while pushing or popping; the list is
        // still sound.
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection lent to a [`Read`](super::Read), kept in [`Warm`] when the read ends, and the
/// read's place in the line, given up once the connection is kept (so the next read in line
/// finds it).
#[derive(Debug)]
pub struct Lent {
    conn: Option<PoolConnection<Any>>,
    checked: bool,
    warm: Arc<Warm>,
    // Dropped after `drop` below has kept the connection.
    _permit: OwnedSemaphorePermit,
}

impl Lent {
    /// The connection.
    pub fn conn(&mut self) -> &mut PoolConnection<Any> {
        self.conn
            .as_mut()
            .expect("a lent connection is held until the read ends")
    }

    /// Whether the connection passed a liveness check when lent (see [`RECENT`]).
    pub fn checked(&self) -> bool {
        self.checked
    }

    /// Closes the connection instead of keeping it (it failed).
    pub fn discard(mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close_on_drop();
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.warm.keep(conn);
        }
    }
}
