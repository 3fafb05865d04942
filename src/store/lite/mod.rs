//! SQLite on the calling thread.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and sends it every
//! statement as a message, so a statement costs two thread wake-ups, which on a loaded 2-core
//! machine cost far more than the statement (docs/performance.md measured a refresh grant
//! spending most of its CPU in the scheduler). SQLite is a library: a statement on a warm
//! connection takes microseconds and, in write-ahead-log mode, never waits for a lock a
//! reader could be blocked on. So the server runs the store's statements right where the
//! request is, on connections this module holds:
//!
//! - **Readers**: up to `max` connections, each lent to one [`LiteRead`] at a time, opened
//!   when first needed. They are `query_only`: every write goes through the writer.
//! - **The writer**: one connection behind an async mutex, which is the writer queue
//!   [`WriteTx`](super::WriteTx) documents (a writer waits there, not in SQLite's busy handler).
//!   `BEGIN IMMEDIATE` takes the database's lock at once; only another process holding it (the
//!   CLI beside a server) makes it wait, and that wait runs on a blocking thread. Writes that
//!   queue for it share one transaction and one commit ([`write`]: group commit).
//! - **Checkpoints** on a thread of their own ([`checkpoint`]), so a commit never copies the
//!   log into the database on a request's time. It also starts a long log over under steady load, which
//!   SQLite's `PASSIVE` checkpoints never do, holding the writer between two groups to do it.
//!
//! The statements themselves and their results are sqlx's `Any` types ([`statement`]), so the
//! store's functions are the same on both back-ends; sqlx still opens the file, sets WAL mode
//! and applies the migrations.

pub mod announce;
mod checkpoint;
pub mod error;
pub mod statement;
mod write;

pub use write::LiteWrite;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{PoolUsage, SqliteSync};
use error::to_sqlx;

/// How long a connection waits in SQLite's busy handler: only another process's lock (or a
/// reader meeting the rare recovery of the log's index) makes it wait at all.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The size, in bytes, the writer cuts the log file back to when it starts the log over: four
/// times what the checkpoint thread lets the log reach before it starts it over.
const WAL_SIZE_LIMIT: u64 = 256 << 20;

/// Prepared statements kept per connection: more than the store's distinct statements on the
/// paths that repeat.
const STATEMENT_CACHE: usize = 256;

/// A SQLite database file and the connections the server runs its statements on.
pub struct LiteDb {
    path: PathBuf,
    sync: SqliteSync,
    readers: std::sync::Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    max_readers: u32,
    opened: AtomicU32,
    closed: AtomicBool,
    acquire_timeout: Duration,
    writer: Arc<tokio::sync::Mutex<write::Writer>>,
    /// Writes waiting for the writer (a committing write joins their group: [`write`]).
    queued: Arc<AtomicUsize>,
    /// Writes announced ahead of their transaction (a group waits a moment for them).
    announced: Arc<announce::Announcements>,
    checkpoints: checkpoint::Checkpointer,
}

impl std::fmt::Debug for LiteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteDb").field("path", &self.path).finish()
    }
}

impl LiteDb {
    /// Opens the writer and the checkpoint thread on `path` (already created and in WAL mode);
    /// readers, at most `max_readers`, open when first needed, and a read waits at most
    /// `acquire_timeout` for one.
    pub fn open(
        path: &Path,
        max_readers: u32,
        acquire_timeout: Duration,
        sync: SqliteSync,
    ) -> Result<Arc<Self>, sqlx::Error> {
        Self::open_with(
            path,
            max_readers,
            acquire_timeout,
            sync,
            checkpoint::RESTART_FRAMES,
        )
    }

    /// [`LiteDb::open`], the log started over past `restart_frames` ([`checkpoint`]).
    fn open_with(
        path: &Path,
        max_readers: u32,
        acquire_timeout: Duration,
        sync: SqliteSync,
        restart_frames: i64,
    ) -> Result<Arc<Self>, sqlx::Error> {
        let writer = Arc::new(tokio::sync::Mutex::new(write::Writer::new(
            open_connection(path, sync, Role::Writer).map_err(to_sqlx)?,
        )));
        let checkpoints = checkpoint::Checkpointer::start(
            open_connection(path, sync, Role::Checkpoints).map_err(to_sqlx)?,
            checkpoint::WriterQueue {
                writer: Arc::downgrade(&writer),
                restart_frames,
            },
        )
        .map_err(sqlx::Error::Io)?;
        let max_readers = max_readers.max(1);
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            sync,
            readers: Default::default(),
            permits: Arc::new(Semaphore::new(max_readers as usize)),
            max_readers,
            opened: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            acquire_timeout,
            writer,
            queued: Arc::default(),
            announced: Arc::default(),
            checkpoints,
        }))
    }

    /// The idle reader connections. A poisoned lock only means a thread panicked while it
    /// held it; the list itself is still whole.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A reader connection, waiting at most the acquire timeout for one to be free
    /// ([`sqlx::Error::PoolTimedOut`] past it, as a pool's).
    pub async fn reader(self: &Arc<Self>) -> Result<LiteRead, sqlx::Error> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = open_connection(&self.path, self.sync, Role::Reader).map_err(to_sqlx)?;
                self.opened.fetch_add(1, Ordering::Relaxed);
                conn
            }
        };
        Ok(LiteRead {
            conn: Some(conn),
            db: self.clone(),
            _permit: permit,
        })
    }

    /// Announces a write transaction that will begin soon; see [`announce`].
    pub fn announce(&self) -> announce::Announced {
        announce::Announced::new(&self.announced)
    }

    /// Closes the database for this process: reads and writes from now on fail with
    /// [`sqlx::Error::PoolClosed`] (an outage to the layers above), idle readers are closed.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.permits.close();
        self.idle().clear();
    }

    /// The reader connections open and idle, and the most there may be (the pool size the
    /// settings give), for `/metrics`. The one writer is not counted: it is always open.
    pub fn usage(&self) -> PoolUsage {
        let idle = self.idle().len();
        PoolUsage {
            open: self.opened.load(Ordering::Relaxed),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max_readers,
        }
    }
}

/// What a connection is for: how it waits for locks and whether it may write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
    Checkpoints,
}

fn open_connection(path: &Path, sync: SqliteSync, role: Role) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The writer never waits in the busy handler on an async worker (see `LiteDb::begin`).
    conn.busy_timeout(match role {
        Role::Writer => Duration::ZERO,
        Role::Reader | Role::Checkpoints => BUSY_TIMEOUT,
    })?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // As sqlx opens its connections: foreign keys enforced (the schema's cascades rely on it).
    // The log is copied into the database by the checkpoint thread, not by whichever commit
    // finds it long.
    // The writer is the connection that starts the log over (`checkpoint`): when it does, it
    // cuts a log file a burst left longer than `WAL_SIZE_LIMIT` back to that size.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; {}; PRAGMA wal_autocheckpoint = 0;{}",
        sync.pragma(),
        match role {
            Role::Reader => " PRAGMA query_only = ON;".to_string(),
            Role::Writer => format!(" PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"),
            Role::Checkpoints => String::new(),
        }
    ))?;
    Ok(conn)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

/// A reader connection lent to one [`Read`](super::Read); it goes back when dropped.
pub struct LiteRead {
    conn: Option<Connection>,
    db: Arc<LiteDb>,
    _permit: OwnedSemaphorePermit,
}

impl LiteRead {
    /// The connection (`&mut`: a connection is used by one thread at a time).
    pub fn conn(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a LiteRead holds its connection until dropped")
    }
}

impl Drop for LiteRead {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.db.idle().push(conn);
        }
    }
}

impl std::fmt::Debug for LiteRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiteRead")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database file in WAL mode with one table, as the store's connect leaves it.
    fn database(name: &str) -> (PathBuf, impl Drop + use<>) {
        database_with(name, "CREATE TABLE t (x BIGINT NOT NULL)")
    }

    /// A new database file in WAL mode holding `schema`, removed when the second value drops.
    pub(super) fn database_with(name: &str, schema: &str) -> (PathBuf, impl Drop + use<>) {
        struct Gone(PathBuf);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("sigil-lite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("PRAGMA journal_mode = WAL; {schema}"))
            .unwrap();
        (path, Gone(dir))
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// SQLite cuts the log file back to the limit when the connection that starts the log
    /// over has one: the writer does, so a burst's long file does not stay.
    #[test]
    fn only_the_writer_carries_the_log_file_size_limit() {
        let (path, _gone) = database("limit");
        let writer = open_connection(&path, SqliteSync::Normal, Role::Writer).unwrap();
        let limit: i64 = writer
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, WAL_SIZE_LIMIT as i64);
        let reader = open_connection(&path, SqliteSync::Normal, Role::Reader).unwrap();
        let limit: i64 = reader
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, -1, "only the writer restarts the log");
    }

    /// Under steady commits and readers that overlap (one always on the log), a `PASSIVE`
    /// checkpoint never lets the log start over; the checkpoint thread's restart does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_steady_writes_and_overlapping_reads() {
        let (path, _gone) = database_with("restart", "CREATE TABLE t (x BLOB NOT NULL)");
        let db =
            LiteDb::open_with(&path, 4, Duration::from_secs(1), SqliteSync::Normal, 64).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // Two readers, each holding a read for 2 ms, half a period apart.
        let mut readers = Vec::new();
        for offset in [0, 1] {
            let mut r = db.reader().await.unwrap();
            let stop = stop.clone();
            readers.push(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(offset));
                while !stop.load(Ordering::Relaxed) {
                    let c = r.conn();
                    c.execute_batch("BEGIN").unwrap();
                    c.query_row("SELECT COUNT(*) FROM t", [], |_| Ok(()))
                        .unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    c.execute_batch("COMMIT").unwrap();
                }
            }));
        }
        // Two pages a commit, a commit a millisecond or so, for two seconds or more: the
        // thread checkpoints every 200 ms, so a log started over holds a few hundred commits.
        let mut written = 0u64;
        for _ in 0..2000 {
            let mut w = db.begin().await.unwrap();
            w.conn()
                .execute("INSERT INTO t VALUES (zeroblob(6000))", [])
                .unwrap();
            w.commit().await.unwrap();
            written += 8192;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        let wal = std::fs::metadata(path.with_extension("sqlite-wal"))
            .unwrap()
            .len();
        assert!(written > 8 << 20, "enough was written: {written} bytes");
        assert!(
            wal < written / 4,
            "the log started over: {wal} bytes after {written} written"
        );
    }

    #[tokio::test]
    async fn a_write_dropped_uncommitted_rolls_back_and_the_next_writer_begins_at_once() {
        let (path, _gone) = database("drop");
        let db = LiteDb::open(&path, 2, Duration::from_secs(1), SqliteSync::Normal).unwrap();
        let mut w = db.begin().await.unwrap();
        w.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        drop(w);
        let mut w = tokio::time::timeout(Duration::from_millis(100), db.begin())
            .await
            .expect("the writer is free")
            .unwrap();
        w.conn().execute_batch("INSERT INTO t VALUES (2)").unwrap();
        w.commit().await.unwrap();
        drop(w);
        let mut r = db.reader().await.unwrap();
        assert_eq!(count(r.conn()), 1, "only the committed row");
    }

    #[tokio::test]
    async fn readers_see_commits_and_refuse_to_write() {
        let (path, _gone) = database("readers");
        let db = LiteDb::open(&path, 2, Duration::from_secs(1), SqliteSync::Full).unwrap();
        let mut r = db.reader().await.unwrap();
        assert_eq!(count(r.conn()), 0);
        let mut w = db.begin().await.unwrap();
        w.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
        w.commit().await.unwrap();
        drop(w);
        assert_eq!(count(r.conn()), 1, "the same reader sees the commit");
        let e = r
            .conn()
            .execute_batch("INSERT INTO t VALUES (2)")
            .unwrap_err();
        assert!(e.to_string().contains("readonly"), "{e}");
    }

    #[tokio::test]
    async fn a_read_waits_for_a_free_reader_no_longer_than_the_acquire_timeout() {
        let (path, _gone) = database("timeout");
        let db = LiteDb::open(&path, 1, Duration::from_millis(50), SqliteSync::Normal).unwrap();
        let held = db.reader().await.unwrap();
        assert!(matches!(db.reader().await, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        db.reader().await.expect("free again");
        assert_eq!(
            db.usage().open,
            1,
            "the connection was lent again, not reopened"
        );
    }

    #[tokio::test]
    async fn after_close_reads_and_writes_fail_as_a_closed_pool() {
        let (path, _gone) = database("close");
        let db = LiteDb::open(&path, 2, Duration::from_secs(1), SqliteSync::Normal).unwrap();
        db.close();
        assert!(matches!(db.reader().await, Err(sqlx::Error::PoolClosed)));
        assert!(matches!(db.begin().await, Err(sqlx::Error::PoolClosed)));
    }
}
