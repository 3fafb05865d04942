//! Copying the write-ahead log into the database file, off the requests' time.
//!
//! SQLite's default has the commit that takes the log past 1,000 pages run the checkpoint
//! itself: several milliseconds of copying and `fsync` on whichever request committed. The
//! server's connections turn that off (`wal_autocheckpoint = 0`) and this thread checkpoints
//! instead, a short while after commits, in `PASSIVE` mode, which neither waits for nor blocks
//! readers and the writer. At `synchronous = NORMAL` this is also when the log reaches the
//! disk (docs/performance.md, Durability).

use std::sync::mpsc;
use std::time::Duration;

/// How long after a commit the checkpoint runs: commits in that window share one.
const AFTER_COMMITS: Duration = Duration::from_millis(200);

/// The checkpoint thread. It ends when the last [`Waker`] and this are dropped.
pub struct Checkpointer {
    wake: mpsc::SyncSender<()>,
}

/// Tells the checkpoint thread that a commit added to the log.
#[derive(Clone)]
pub struct Waker(mpsc::SyncSender<()>);

impl Checkpointer {
    /// Starts the thread, which checkpoints on `conn`.
    pub fn start(conn: rusqlite::Connection) -> std::io::Result<Self> {
        // One pending wake-up is all it needs: a commit that finds one pending has nothing
        // to add (and pays no system call).
        let (wake, woken) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &woken))?;
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

fn run(conn: &rusqlite::Connection, woken: &mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        std::thread::sleep(AFTER_COMMITS);
        // Commits during the pause are in this checkpoint.
        while woken.try_recv().is_ok() {}
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(cause = %e, "checkpointing the SQLite log");
        }
    }
    // The store is gone: one last checkpoint, so the log a clean stop leaves is short.
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
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
        let checkpoints = Checkpointer::start(rusqlite::Connection::open(&path).unwrap()).unwrap();
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
