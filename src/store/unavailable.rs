//! Which database failures mean "the database is unreachable or restarting": the ones a client
//! should retry later (503 `temporarily_unavailable`), as opposed to the ones that are a bug or
//! corrupt data (a logged 500).
//!
//! The driver reports an outage in several ways, depending on when it meets it:
//!
//! - no connection could be had within the pool's acquire timeout (`PoolTimedOut`): the server
//!   refused connections (sqlx retries a refused connect until the deadline, so a restart
//!   shorter than the timeout costs only latency), a connect or the liveness ping of an idle
//!   connection went unanswered, or every connection was busy;
//! - a socket failed (`Io`: reset, refused, end of stream mid-message; sqlx 0.8 reports a peer
//!   that closed the connection as `UnexpectedEof`, not as a protocol error) or its TLS session
//!   did (`Tls`);
//! - the pool was closed (`PoolClosed`: only while the server shuts down, when another node
//!   should take the request);
//! - PostgreSQL said so, by SQLSTATE (PostgreSQL documentation, appendix A): class `08`
//!   connection exceptions, `57P01` admin_shutdown (a fast or smart shutdown, which every
//!   restart begins with), `57P02` crash_shutdown (another backend crashed and the server is
//!   resetting), `57P03` cannot_connect_now (starting up or in recovery), `53300`
//!   too_many_connections, and `57014` query_canceled, which is what the server's own
//!   `statement_timeout` raises (the operator's bound on a slow query, see `docs/deploy.md`);
//! - SQLite said the database is locked (`SQLITE_BUSY`, after the busy timeout): another
//!   process (the CLI, a backup) held the write lock longer than that.
//!
//! `Protocol` is not among them: it means the driver read something it did not expect from a
//! live connection, a bug to see in the logs rather than an outage to wait out.

use std::error::Error;

use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use super::StoreError;
use super::lite::error::LiteError;

/// Whether `e` means the database is unreachable, restarting or refusing work for now.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                sqlstate_unavailable(pg.code())
            } else if let Some(lite) = db.try_downcast_ref::<LiteError>() {
                sqlite_unavailable(lite.code())
            } else if db.try_downcast_ref::<SqliteError>().is_some() {
                db.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(sqlite_unavailable)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Whether `e`, or any error in its chain of causes, is the database being unavailable. The
/// errors of the layers above wrap the store's in their own (some transparently), so the chain
/// is what they all share; the HTTP layer asks this of whatever error it is about to answer.
pub fn unavailable_in(e: &(dyn Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| (*e).source()).any(|e| {
        matches!(
            e.downcast_ref::<StoreError>(),
            Some(StoreError::Unavailable(_))
        ) || e.downcast_ref::<sqlx::Error>().is_some_and(is_unavailable)
    })
}

/// PostgreSQL SQLSTATEs of an outage (see the module doc).
fn sqlstate_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
}

/// SQLite result codes of an outage: `SQLITE_BUSY` (5) and its extended codes (the primary
/// code is the low byte, <https://www.sqlite.org/rescode.html>).
fn sqlite_unavailable(code: i32) -> bool {
    const SQLITE_BUSY: i32 = 5;
    code & 0xff == SQLITE_BUSY
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn connection_failures_are_an_outage_and_programming_errors_are_not() {
        let io = |kind| sqlx::Error::Io(io::Error::new(kind, "x"));
        for e in [
            io(io::ErrorKind::ConnectionRefused),
            io(io::ErrorKind::ConnectionReset),
            io(io::ErrorKind::UnexpectedEof),
            io(io::ErrorKind::TimedOut),
            sqlx::Error::Tls("handshake".into()),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(is_unavailable(&e), "{e:?}");
        }
        for e in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("unexpected message".into()),
            sqlx::Error::ColumnNotFound("x".into()),
            sqlx::Error::TypeNotFound {
                type_name: "x".into(),
            },
        ] {
            assert!(!is_unavailable(&e), "{e:?}");
        }
    }

    #[test]
    fn postgres_connection_exceptions_and_shutdowns_are_an_outage_and_data_errors_are_not() {
        for code in [
            "08000", "08003", "08006", "08001", "08004", "57P01", "57P02", "57P03", "53300",
            "57014",
        ] {
            assert!(sqlstate_unavailable(code), "{code}");
        }
        // unique_violation, serialization_failure, undefined_table, syntax_error, disk_full
        for code in ["23505", "40001", "42P01", "42601", "53100", "XX000"] {
            assert!(!sqlstate_unavailable(code), "{code}");
        }
    }

    #[test]
    fn sqlite_busy_in_any_form_is_an_outage_and_other_codes_are_not() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT
        for code in [5, 261, 517, 773] {
            assert!(sqlite_unavailable(code), "{code}");
        }
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CORRUPT, SQLITE_READONLY, SQLITE_LOCKED
        for code in [2067, 11, 8, 6] {
            assert!(!sqlite_unavailable(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_real_sqlite_lock_held_past_the_busy_timeout_is_an_outage() {
        use sqlx::{ConnectOptions, Connection, Executor};
        let dir = std::env::temp_dir().join(format!("sigil-busy-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = opts.connect().await.unwrap();
        holder.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        let mut writer = opts.connect().await.unwrap();
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        let err = writer
            .execute("INSERT INTO t VALUES (1)")
            .await
            .expect_err("the write lock is held");
        assert!(is_unavailable(&err), "{err:?}");
        assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)));
        holder.close().await.unwrap();
        writer.close().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_outage_is_found_through_any_wrapping_of_the_store_error() {
        #[derive(Debug, thiserror::Error)]
        enum Above {
            #[error("wrapped")]
            Wrapped(#[source] StoreError),
            #[error(transparent)]
            Transparent(StoreError),
        }
        let down = || StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(down(), StoreError::Unavailable(_)));
        assert!(unavailable_in(&Above::Wrapped(down())));
        // `transparent` forwards `source()` to the store error's own: the sqlx error.
        assert!(unavailable_in(&Above::Transparent(down())));
        let bug = StoreError::from(sqlx::Error::RowNotFound);
        assert!(!unavailable_in(&Above::Wrapped(bug)));
        assert!(!unavailable_in(&StoreError::Conflict("id")));
    }
}
