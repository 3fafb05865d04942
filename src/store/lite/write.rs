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
//! its own savepoint with it.
//!
//! A member waits for its group's commit in a task of its own, queued for the writer: if the
//! group is still open when that task's turn comes (the writers after it rolled back, or were
//! dropped while they waited), the task commits it. So a group is always committed by
//! somebody, whatever becomes of the requests in it, and no member waits for more than the
//! writers that were already queued when it joined.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use super::checkpoint;
use super::error::{LiteError, to_sqlx};
use super::{BUSY_TIMEOUT, LiteDb, SqliteSync, is_busy};

/// The most write transactions one `COMMIT` carries: past it the writer commits whoever is
/// queued, so a steady stream of writers cannot keep a group (and its members' answers) open.
const MAX_GROUP: usize = 32;

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
            let _ = g.outcome.set(Err(failure));
        }
    }

    /// Takes back a member's writes that will not be committed (dropped without a commit:
    /// an error, or a request whose client hung up), leaving the group's other members whole.
    fn abandon_member(&mut self) {
        let Some(members) = self.group.as_ref().map(|g| g.members) else {
            return; // `BEGIN` failed: nothing is open
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
        }
    }
}

/// Write transactions released into the writer's open transaction, waiting for its `COMMIT`.
struct Group {
    members: usize,
    outcome: Arc<Outcome>,
}

/// What became of a group's `COMMIT`, set once by whoever ran it.
type Outcome = OnceLock<Result<(), Failure>>;

/// What a group's `outcome` tells each member: its commit's result (an outcome never set means
/// the group ended without one).
fn told(outcome: &Outcome) -> Result<(), sqlx::Error> {
    match outcome.get() {
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
            match w.conn.execute_batch("COMMIT") {
                Ok(()) => {
                    w.commits += 1;
                    if let Some(g) = w.group.take() {
                        let _ = g.outcome.set(Ok(()));
                    }
                }
                Err(e) => w.fail_group(Failure::of(&e)),
            }
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
    /// takes the writer in its turn and commits the group itself if nobody has.
    async fn await_group(&self, outcome: Arc<Outcome>) -> Result<(), sqlx::Error> {
        let writers = self.clone();
        let waited = tokio::spawn(async move {
            let guard = writers.writer.clone().lock_owned().await;
            if outcome.get().is_none() {
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
    /// with why they were not kept. With other writers queued it joins their group and lets
    /// the writer go at once; else it commits the group, keeping the writer until this is
    /// dropped.
    pub async fn commit(&mut self) -> Result<(), sqlx::Error> {
        let w = self.writer();
        if w.conn.is_autocommit() {
            w.fail_group(Failure::lost());
            return Err(Failure::lost().to_sqlx());
        }
        w.conn.execute_batch("RELEASE member").map_err(to_sqlx)?;
        let group = w.group.as_mut().expect("an open transaction is a group's");
        group.members += 1;
        let outcome = group.outcome.clone();
        let members = group.members;
        let guard = self.guard.take().expect("held until now");
        if self.db.queued.load(Ordering::Acquire) > 0 && members < MAX_GROUP {
            drop(guard);
            self.db.await_group(outcome).await
        } else {
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
        {
            guard.abandon_member();
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
