//! Copying the write-ahead log into the database file, off the requests' time.
//!
//! SQLite's default has the commit that takes the log past 1,000 pages run the checkpoint
//! itself: several milliseconds of copying and `fsync` on whichever request committed. The
//! server's connections turn that off (`wal_autocheckpoint = 0`) and this thread checkpoints
//! instead, a short while after commits, in `PASSIVE` mode, which neither waits for nor blocks
//! readers and the writer. At `synchronous = NORMAL` this is also when the log reaches the
//! disk (docs/performance.md, Durability).
//!
//! A `PASSIVE` checkpoint copies the log but never lets it start over: SQLite writes from the
//! log's beginning again only when a write transaction begins after a checkpoint that copied
//! every frame, and a server under steady load always has a commit after the checkpoint and a
//! reader on the log. The log then grows for as long as the load lasts (783 MB over the grants
//! benchmark's alternating SQLite rounds), each commit appending to new pages of the file. So
//! once the log holds more than [`RESTART_FRAMES`], this thread copies it once more, then takes
//! the writer between two groups (no write transaction open, and none begins while it holds
//! it) and runs a `RESTART` checkpoint: it waits for the readers still on the log (briefly: a
//! read is one statement), copies what is left, syncs, and has the next commit write from the
//! log's beginning. Writers wait for it in the writer's queue, as for any other writer, not in
//! SQLite's busy handler; it holds the writer for a few milliseconds (the two `fsync`s), once
//! per 64 MiB of log at most.

use std::sync::{Weak, mpsc};
use std::time::Duration;

use super::write::Writer;

/// How long after a commit the checkpoint runs: commits in that window share one.
const AFTER_COMMITS: Duration = Duration::from_millis(200);

/// Frames in the log past which the thread starts it over: 64 MiB at SQLite's default 4 KiB
/// page, about half a second of the heaviest load measured (a refresh grant writes about five
/// pages to the log), so the writer is held once every few checkpoints at most.
pub const RESTART_FRAMES: i64 = 16384;

/// The longest a `RESTART` checkpoint waits for readers to leave the log, in SQLite's busy
/// handler; past it, the log starts over at a later checkpoint instead.
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// How many times, and how far apart, the thread looks for the writer between two groups
/// before it leaves the restart to its next checkpoint.
const WRITER_TRIES: u32 = 50;
const WRITER_RETRY: Duration = Duration::from_micros(200);

/// The checkpoint thread. It ends when the last [`Waker`] and this are dropped.
pub struct Checkpointer {
    wake: mpsc::SyncSender<()>,
}

/// Tells the checkpoint thread that a commit added to the log.
#[derive(Clone)]
pub struct Waker(mpsc::SyncSender<()>);

/// What the thread needs of the writer: its queue, to start the log over between two groups.
pub(super) struct WriterQueue {
    /// The writer, held only while starting the log over: the thread outlives the store by
    /// up to a checkpoint, and the writer's connection (with any transaction a dropped write
    /// left open) must close with the store.
    pub(super) writer: Weak<tokio::sync::Mutex<Writer>>,
    /// Frames in the log past which it is started over ([`RESTART_FRAMES`]).
    pub(super) restart_frames: i64,
}

impl Checkpointer {
    /// Starts the thread, which checkpoints on `conn` and starts the log over through `queue`.
    pub(super) fn start(conn: rusqlite::Connection, queue: WriterQueue) -> std::io::Result<Self> {
        // One pending wake-up is all it needs: a commit that finds one pending has nothing
        // to add (and pays no system call).
        let (wake, woken) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &woken, &queue))?;
        Ok(Self { wake })
    }

    /// A waker for a writer to call after its commits.
    pub fn waker(&self) -> Waker {
        Waker(self.wake.clone())
    }
}

impl Waker {
    /// Notes a commit; never waits.
    pub fn committed(&self) {
        let _ = self.0.try_send(());
    }
}

fn run(conn: &rusqlite::Connection, woken: &mpsc::Receiver<()>, queue: &WriterQueue) {
    while woken.recv().is_ok() {
        std::thread::sleep(AFTER_COMMITS);
        // Commits during the pause are in this checkpoint.
        while woken.try_recv().is_ok() {}
        if passive(conn).is_some_and(|frames| frames > queue.restart_frames) {
            // Copy what the commits added during that checkpoint first, so that what is left
            // for the one that holds the writer is little.
            passive(conn);
            start_over(conn, &queue.writer);
        }
    }
    // The store is gone: one last checkpoint, so the log a clean stop leaves is short.
    let _ = checkpoint(conn, "PASSIVE");
}

/// A `PASSIVE` checkpoint; returns the frames in the log, or logs why it failed.
fn passive(conn: &rusqlite::Connection) -> Option<i64> {
    checkpoint(conn, "PASSIVE")
        .inspect_err(|e| tracing::warn!(cause = %e, "checkpointing the SQLite log"))
        .ok()
}

/// Runs a checkpoint in `mode`; returns the frames in the log.
fn checkpoint(conn: &rusqlite::Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}

/// Holds the writer between two groups and runs a `RESTART` checkpoint (see the module doc).
/// Runs on this thread, never on an async worker: `blocking_lock` waits in the writer's queue.
fn start_over(conn: &rusqlite::Connection, writer: &Weak<tokio::sync::Mutex<Writer>>) {
    let Some(writer) = writer.upgrade() else {
        return; // the store is gone
    };
    for _ in 0..WRITER_TRIES {
        let held = writer.blocking_lock();
        if held.is_between_groups() {
            let restarted = conn
                .busy_timeout(RESTART_WAIT)
                .and_then(|()| checkpoint(conn, "RESTART"));
            let _ = conn.busy_timeout(super::BUSY_TIMEOUT);
            drop(held);
            if let Err(e) = restarted {
                tracing::warn!(cause = %e, "starting the SQLite log over");
            }
            return;
        }
        // A group is open: its members commit it in a moment.
        drop(held);
        std::thread::sleep(WRITER_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_copied_into_the_database_file_by_the_thread() {
        let dir = std::env::temp_dir().join(format!("sigil-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let _ = std::fs::remove_file(&path);
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        // Nothing has been checkpointed: the table's page is only in the log.
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let queue = WriterQueue {
            writer: Weak::new(),
            restart_frames: i64::MAX,
        };
        let checkpoints =
            Checkpointer::start(rusqlite::Connection::open(&path).unwrap(), queue).unwrap();
        let waker = checkpoints.waker();
        writer.execute_batch("INSERT INTO t VALUES (2)").unwrap();
        waker.committed();
        std::thread::sleep(AFTER_COMMITS * 3);
        assert!(
            size() > before,
            "the table's page reached the database file ({before} bytes before)"
        );
        drop((waker, checkpoints));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
