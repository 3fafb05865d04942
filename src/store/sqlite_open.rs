//! Opening a SQLite database: the synchronous level every connection commits at, and riding
//! out another process's switch of a new file to WAL.

use std::time::Duration;

/// When a SQLite commit reaches the disk (`PRAGMA synchronous`, in WAL mode).
///
/// Either way a commit is in the write-ahead log before the commit returns, so a grant
/// acknowledged to its client survives a crash or kill of the process, and the database is
/// never corrupted. They differ on a crash of the whole machine (power loss, a kernel panic):
/// with [`SqliteSync::Normal`] the last transactions before it may be rolled back (the log is
/// synced at checkpoints, not at every commit); with [`SqliteSync::Full`] every commit waits for
/// the disk, which on a single writer bounds the commit rate by the disk's flush latency.
/// docs/performance.md measures both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `synchronous = NORMAL`: SQLite's recommendation for WAL mode; durable across process
    /// crashes.
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is flushed to the disk before it returns; durable
    /// across machine crashes too.
    Full,
}

impl SqliteSync {
    pub(super) fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
            SqliteSync::Full => "PRAGMA synchronous = FULL",
        }
    }
}

impl std::str::FromStr for SqliteSync {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(SqliteSync::Normal),
            "full" => Ok(SqliteSync::Full),
            other => Err(format!(
                "`{other}` is not a synchronous level (normal or full)"
            )),
        }
    }
}

/// How many times, 20 ms apart, opening a SQLite database is tried while the file is locked.
const OPEN_ATTEMPTS: u32 = 250;

/// Runs `attempt` again while SQLite says the database is locked (`SQLITE_BUSY` or one of its
/// extended codes), for about five seconds. Processes opening one new file at once (nodes
/// starting together, the CLI beside a server) meet each other's switch of the file to WAL,
/// or its recovery of the log's index (`SQLITE_BUSY_RECOVERY`), and SQLite answers those
/// without waiting in its busy handler (waiting there could deadlock the two).
pub(super) async fn retry_while_busy<T, F, Fut>(mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut left = OPEN_ATTEMPTS;
    loop {
        match attempt().await {
            Err(sqlx::Error::Database(e)) if is_busy(e.code().as_deref()) && left > 0 => {
                left -= 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Whether SQLite's result `code` (as sqlx reports it: the extended code, in decimal) says the
/// database is locked. The primary code is the low byte (<https://www.sqlite.org/rescode.html>):
/// `SQLITE_BUSY` is 5, `SQLITE_BUSY_RECOVERY` 261, `SQLITE_BUSY_SNAPSHOT` 517.
fn is_busy(code: Option<&str>) -> bool {
    const SQLITE_BUSY: i32 = 5;
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == SQLITE_BUSY)
}

#[cfg(test)]
mod tests {
    use super::is_busy;

    #[test]
    fn every_extended_busy_code_is_busy_and_nothing_else_is() {
        for busy in ["5", "261", "517", "773"] {
            assert!(is_busy(Some(busy)), "{busy}");
        }
        // SQLITE_LOCKED (6), a unique violation (2067), PostgreSQL's codes, no code.
        for other in [Some("6"), Some("2067"), Some("23505"), Some("40P01"), None] {
            assert!(!is_busy(other), "{other:?}");
        }
    }
}
