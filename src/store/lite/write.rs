//! The writer connection, and group commit: concurrent write transactions share one SQLite
//! transaction and one `COMMIT`.
//!
//! A commit in write-ahead-log mode appends every page the transaction changed to the log, one
//! write each. A refresh grant changes about ten pages, most of them the same for every grant
//! (the right-hand leaves of the grants and tokens tables, their user and family indexes, the
//! user's row), so grants committed one by one write those pages again and again: the commits
//! were a tenth of a grant's CPU (docs/performance.md). Here a write transaction is a
//! savepoint inside the writer's open transaction. When it commits while other writers are
//! queued behind it, it releases its savepoint into that transaction and hands the writer on;
//! the last one of the group, the one that finds nobody queued, commits for all of them. Every
//! member's `commit` returns only once the group's `COMMIT` has, with its outcome, so a grant
//! is still acknowledged only once it is durable, and a failed `COMMIT` fails every member
//! (none of their writes were kept; their clients retry). A member that rolls back takes only
//! its own savepoint with it, and commits the group it leaves (it may have been refused over
//! one of the group's rows, which its caller then reads).
//!
//! Writers queued for the writer are not the only ones worth waiting for. A grant with hooks
//! spends most of its time in its flow, so grants reach the writer one by one and rarely find
//! each other queued there (1.5 to 1.9 grants per commit with three hooks, against about five
//! without). A grant therefore announces its write when its flow starts
//! ([`super::announce`]); a commit that finds writes announced joins the group as it would
//! for queued ones, and the group waits for them for at most [`LINGER`] after its first
//! member joined: the write that arrives to find nothing announced and nobody queued commits
//! for all, or the linger ends.
//!
//! A member waits for its group's commit in a task of its own, queued for the writer: if the
//! group is still open when that task's turn comes (the writers after it rolled back, or were
//! dropped while they waited, or the linger ended), the task commits it. So a group is always
//! committed by somebody, whatever becomes of the requests in it, and no member waits for more
//! than the linger and the writers that were queued when it ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, OwnedMutexGuard};

use super::announce::Announcements;
use super::checkpoint;
use super::error::{LiteError, to_sqlx};
use super::{BUSY_TIMEOUT, LiteDb, SqliteSync, is_busy};

/// The most write transactions one `COMMIT` carries: past it the writer commits whoever is
/// queued, so a steady stream of writers cannot keep a group (and its members' answers) open.
const MAX_GROUP: usize = 32;

/// How long a group waits for announced writes after its first member joined. A grant waits
/// at most this much longer for its answer (tokio's timers round it up to the next
/// millisecond), in exchange for a commit shared with the grants whose flows were running.
pub(super) const LINGER: Duration = Duration::from_millis(1);

/// The writer connection and the transaction it has open, if any.
pub(super) struct Writer {
    conn: Connection,
    group: Option<Group>,
    /// `COMMIT`s that succeeded (for the tests: fewer than the transactions they carried).
    commits: u64,
}

impl Writer {
    pub(super) fn new(conn: Connection) -> Self {
        Writer {
            conn,
            group: None,
            commits: 0,
        }
    }

    /// No write transaction is open: the last group committed (or failed) and the next has
    /// not begun.
    pub(super) fn is_between_groups(&self) -> bool {
        self.group.is_none() && self.conn.is_autocommit()
    }

    /// The `COMMIT`s that succeeded so far.
    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.commits
    }

    /// Ends a group whose transaction is gone: SQLite rolls a transaction back by itself on
    /// some errors (a full disk, an I/O error), and a `COMMIT` that failed is rolled back here.
    /// Its members are told why.
    fn fail_group(&mut self, failure: Failure) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(cause = %e, "rolling back a failed group of writes");
        }
        if let Some(g) = self.group.take() {
            g.outcome.set(Err(failure));
        }
    }

    /// Takes back a member's writes that will not be committed (dropped without a commit:
    /// an error, or a request whose client hung up), leaving the group's other members whole,
    /// and commits them now rather than when their turn comes: this write may have been
    /// refused over one of theirs (a unique key), and its caller, once told, looks for that
    /// row with a reader, which sees only committed rows (as on PostgreSQL, where the refused
    /// insert waits for the other transaction's commit). Returns whether it committed.
    fn abandon_member(&mut self) -> bool {
        let Some(members) = self.group.as_ref().map(|g| g.members) else {
            return false; // `BEGIN` failed: nothing is open
        };
        if self.conn.is_autocommit() {
            self.fail_group(Failure::lost());
        } else if members == 0 {
            // Nothing else in the transaction: end it, so no lock is held for nobody.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(cause = %e, "rolling back a dropped write transaction");
            }
            self.group = None;
        } else if let Err(e) = self
            .conn
            .execute_batch("ROLLBACK TO member; RELEASE member")
        {
            // Committing the rest could keep part of this member's writes: fail them all.
            tracing::warn!(cause = %e, "rolling back a dropped write transaction");
            self.fail_group(Failure::of(&e));
        } else {
            // On this thread even at `synchronous = FULL` (a drop cannot wait): errors are
            // rare, and the members' answers wait for this commit anyway.
            return self.commit_open_group();
        }
        false
    }

    /// Commits the open group and tells its members; returns whether it committed.
    fn commit_open_group(&mut self) -> bool {
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.commits += 1;
                if let Some(g) = self.group.take() {
                    g.outcome.set(Ok(()));
                }
                true
            }
            Err(e) => {
                self.fail_group(Failure::of(&e));
                false
            }
        }
    }
}

/// Write transactions released into the writer's open transaction, waiting for its `COMMIT`.
struct Group {
    members: usize,
    outcome: Arc<Outcome>,
    /// When the group stops waiting for announced writes (set when its first member joins).
    closes_at: Option<tokio::time::Instant>,
}

/// What became of a group's `COMMIT`, set once by whoever ran it; setting it wakes the
/// members still waiting for announced writes.
#[derive(Default)]
struct Outcome {
    result: OnceLock<Result<(), Failure>>,
    known: Notify,
}

impl Outcome {
    fn set(&self, result: Result<(), Failure>) {
        let _ = self.result.set(result);
        self.known.notify_waiters();
    }

    fn is_known(&self) -> bool {
        self.result.get().is_some()
    }
}

/// What a group's `outcome` tells each member: its commit's result (an outcome never set means
/// the group ended without one).
fn told(outcome: &Outcome) -> Result<(), sqlx::Error> {
    match outcome.result.get() {
        Some(Ok(())) => Ok(()),
        Some(Err(f)) => Err(f.to_sqlx()),
        None => Err(Failure::lost().to_sqlx()),
    }
}

/// Why a group's writes were not kept, for each of its members (SQLite's error is not
/// `Clone`): its extended result code, when SQLite gave one, and its message.
#[derive(Debug, Clone)]
struct Failure {
    code: Option<i32>,
    message: String,
}

impl Failure {
    fn of(e: &rusqlite::Error) -> Self {
        Failure {
            code: e.sqlite_error().map(|f| f.extended_code),
            message: e.to_string(),
        }
    }

    fn lost() -> Self {
        Failure {
            code: None,
            message: "SQLite rolled the transaction back".into(),
        }
    }

    fn to_sqlx(&self) -> sqlx::Error {
        match self.code {
            Some(code) => sqlx::Error::Database(Box::new(LiteError::new(code, &self.message))),
            None => sqlx::Error::Protocol(format!("sqlite: {}", self.message)),
        }
    }
}

/// Counts a `begin` waiting for the writer, however it stops waiting (it may be dropped).
struct Queued(Arc<AtomicUsize>);

impl Queued {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Queued(count.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LiteDb {
    /// Begins a write transaction on the writer: waits for the writers before it, then opens
    /// a savepoint in the writer's transaction, taking the database's write lock (`BEGIN
    /// IMMEDIATE`) if none is open.
    ///
    /// Cancellation-safe: dropped while waiting for the writer, it holds nothing; dropped
    /// while another process's lock makes `BEGIN` wait on a blocking thread, that thread's
    /// [`LiteWrite`] is dropped there and rolls back.
    pub async fn begin(&self) -> Result<LiteWrite, sqlx::Error> {
        let queued = Queued::new(&self.queued);
        let mut guard = self.writer.clone().lock_owned().await;
        drop(queued);
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        if guard.group.is_some() && guard.conn.is_autocommit() {
            guard.fail_group(Failure::lost());
        }
        let open = guard.group.is_some();
        let mut write = LiteWrite {
            guard: Some(guard),
            db: self.writers(),
        };
        if !open {
            write = begin_immediate(write).await?;
            write.writer().group = Some(Group {
                members: 0,
                outcome: Arc::default(),
                closes_at: None,
            });
        }
        write
            .conn()
            .execute_batch("SAVEPOINT member")
            .map_err(to_sqlx)?;
        Ok(write)
    }

    /// What a [`LiteWrite`] needs of the database after it has let the writer go.
    fn writers(&self) -> Writers {
        Writers {
            writer: self.writer.clone(),
            queued: self.queued.clone(),
            announced: self.announced.clone(),
            sync: self.sync,
            checkpoints: self.checkpoints.waker(),
        }
    }
}

/// Takes the database's write lock. Only another process holding it makes this wait, in the
/// busy handler, off the async workers.
async fn begin_immediate(mut write: LiteWrite) -> Result<LiteWrite, sqlx::Error> {
    match write.conn().execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => Ok(write),
        Err(e) if is_busy(&e) => tokio::task::spawn_blocking(move || {
            let conn = write.conn();
            conn.busy_timeout(BUSY_TIMEOUT).map_err(to_sqlx)?;
            let begun = conn.execute_batch("BEGIN IMMEDIATE");
            conn.busy_timeout(Duration::ZERO).map_err(to_sqlx)?;
            begun.map_err(to_sqlx)?;
            Ok(write)
        })
        .await
        .map_err(|_| sqlx::Error::PoolClosed)?,
        Err(e) => Err(to_sqlx(e)),
    }
}

/// The writer and how its commits are made, shared by the writes and their members' tasks.
#[derive(Clone)]
struct Writers {
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// `begin`s waiting for the writer.
    queued: Arc<AtomicUsize>,
    /// Writes announced and not yet begun.
    announced: Arc<Announcements>,
    sync: SqliteSync,
    checkpoints: checkpoint::Waker,
}

impl Writers {
    /// Commits the open group for all its members. At `synchronous = FULL` the commit waits
    /// for the disk, on a blocking thread rather than an async worker; if the caller goes away
    /// meanwhile, that thread finishes the commit (or rolls back a failed one), tells the
    /// members and frees the writer.
    async fn commit_group(
        &self,
        guard: OwnedMutexGuard<Writer>,
    ) -> Result<OwnedMutexGuard<Writer>, sqlx::Error> {
        fn commit(mut w: OwnedMutexGuard<Writer>) -> OwnedMutexGuard<Writer> {
            w.commit_open_group();
            w
        }
        let outcome = guard.group.as_ref().map(|g| g.outcome.clone());
        let guard = match self.sync {
            SqliteSync::Normal => commit(guard),
            SqliteSync::Full => tokio::task::spawn_blocking(move || commit(guard))
                .await
                .map_err(|_| sqlx::Error::PoolClosed)?,
        };
        let committed = outcome
            .as_deref()
            .map_or_else(|| Err(Failure::lost().to_sqlx()), told);
        committed?;
        self.checkpoints.committed();
        Ok(guard)
    }

    /// A member's wait for its group's commit, as a task of its own (see the module doc): it
    /// waits for the announced writes until the group's linger ends, then takes the writer in
    /// its turn and commits the group itself if nobody has.
    async fn await_group(
        &self,
        outcome: Arc<Outcome>,
        closes_at: tokio::time::Instant,
    ) -> Result<(), sqlx::Error> {
        let writers = self.clone();
        let waited = tokio::spawn(async move {
            writers.linger(&outcome, closes_at).await;
            let guard = writers.writer.clone().lock_owned().await;
            if !outcome.is_known() {
                // Still open: every member's outcome is the group's, set by `commit_group`.
                let _ = writers.commit_group(guard).await;
            }
            told(&outcome)
        });
        match waited.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Waits until no write is announced (they have begun: they queue for the writer ahead of
    /// this member's task), the group's outcome is known, or `closes_at`.
    async fn linger(&self, outcome: &Outcome, closes_at: tokio::time::Instant) {
        loop {
            // Registered before the checks, so a change between them still wakes this wait.
            let arrived = self.announced.arrived();
            let known = outcome.known.notified();
            if outcome.is_known() || self.announced.count() == 0 {
                return;
            }
            tokio::select! {
                () = arrived => {}
                () = known => return,
                () = tokio::time::sleep_until(closes_at) => return,
            }
        }
    }
}

/// A write transaction: a savepoint in the writer's transaction, holding the writer until it
/// commits or is dropped. Dropped without a commit, it rolls its savepoint back there and then
/// (a statement's worth of work on this thread), so the next writer finds the writer free.
pub struct LiteWrite {
    /// `None` once committed (or while a commit runs on a blocking thread).
    guard: Option<OwnedMutexGuard<Writer>>,
    db: Writers,
}

impl LiteWrite {
    fn writer(&mut self) -> &mut Writer {
        self.guard
            .as_mut()
            .expect("a LiteWrite holds the writer until it commits")
    }

    /// The connection (`&mut`: a connection is used by one thread at a time).
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.writer().conn
    }

    /// Commits: returns once the writes are durable (the group's `COMMIT` has returned), or
    /// with why they were not kept. With other writers queued or announced it joins their
    /// group and lets the writer go at once; else it commits the group, keeping the writer
    /// until this is dropped.
    pub async fn commit(&mut self) -> Result<(), sqlx::Error> {
        let others = self.db.queued.load(Ordering::Acquire) > 0 || self.db.announced.count() > 0;
        let w = self.writer();
        if w.conn.is_autocommit() {
            w.fail_group(Failure::lost());
            return Err(Failure::lost().to_sqlx());
        }
        w.conn.execute_batch("RELEASE member").map_err(to_sqlx)?;
        let group = w.group.as_mut().expect("an open transaction is a group's");
        group.members += 1;
        let outcome = group.outcome.clone();
        if others && group.members < MAX_GROUP {
            let closes_at = *group
                .closes_at
                .get_or_insert_with(|| tokio::time::Instant::now() + LINGER);
            drop(self.guard.take());
            self.db.await_group(outcome, closes_at).await
        } else {
            let guard = self.guard.take().expect("held until now");
            let guard = self.db.commit_group(guard).await?;
            self.guard = Some(guard);
            Ok(())
        }
    }
}

impl Drop for LiteWrite {
    fn drop(&mut self) {
        // Still holding the writer with a group open: this write's savepoint was neither
        // released nor committed (after its own commit, the holder's group is gone).
        if let Some(mut guard) = self.guard.take()
            && guard.group.is_some()
            && guard.abandon_member()
        {
            self.db.checkpoints.committed();
        }
    }
}

impl std::fmt::Debug for LiteWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiteWrite")
    }
}

#[cfg(test)]
mod tests;
