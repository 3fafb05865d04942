//! How the store's statements reach the database: every statement runs on an [`Exec`], handed
//! out by a [`Read`] ([`Store::read`](super::Store::read)) or a
//! [`WriteTx`](super::WriteTx), so one place decides how it is sent.
//!
//! That place matters behind a transaction pooler such as PgBouncer in `pool_mode =
//! transaction` ([`Pooler::Transaction`], the database URL's `pooler=transaction`). Such a
//! pooler lends a client a server connection for one transaction at a time, and between
//! transactions anything else may run on it. sqlx's PostgreSQL driver relies on two things
//! that breaks:
//!
//! - **Named prepared statements.** By default each statement with parameters is prepared once
//!   per connection as `sqlx_s_N` and reused by name. Behind the pooler the name lands on
//!   whichever server connection served that transaction: the next use finds it missing
//!   ("prepared statement sqlx_s_3 does not exist") and another client's first statement finds
//!   it taken ("prepared statement sqlx_s_1 already exists"). So in this mode every statement
//!   is sent *unnamed* (`persistent(false)`), which PostgreSQL forgets at the next one.
//! - **Two round trips per statement.** Even unnamed, a statement with parameters is
//!   `Parse`+`Describe`+`Sync`, then `Bind`+`Execute`+`Sync`; each `Sync` outside a
//!   transaction ends one as far as the pooler is concerned, so the `Bind` may reach a server
//!   connection that never saw the `Parse` (or saw another client's). Inside an explicit
//!   transaction both stay on one server connection. Writes already run in one
//!   ([`WriteTx`](super::WriteTx)); in this mode a [`Read`] is one too.
//!
//! Without a pooler nothing changes: statements stay named and cached, and a [`Read`] is a
//! plain pooled connection, as cheap as reading from the pool directly. What remains of session
//! state is the migrator's advisory lock, handled by [`migrate_in_one_transaction`].

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, Connection as _, Describe, Either, Execute, Executor};

use super::{StoreError, Tx};

/// The URL query parameter that names the pooler in front of PostgreSQL.
pub const POOLER_PARAM: &str = "pooler";

/// What stands between the nodes and PostgreSQL, as far as the protocol is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooler {
    /// PostgreSQL itself, or a pooler that gives each client connection a server connection of
    /// its own (PgBouncer's `pool_mode = session`): sessions are kept.
    #[default]
    None,
    /// A pooler that lends server connections per transaction (PgBouncer's `pool_mode =
    /// transaction`): no session state survives between transactions.
    Transaction,
}

impl Pooler {
    /// Whether statements must be sent unnamed and reads run in transactions.
    fn keeps_no_session(self) -> bool {
        self == Pooler::Transaction
    }
}

/// Takes `pooler=...` off a database URL: the URL sqlx is given (without it) and the mode.
/// `transaction` is the one mode that changes anything; `session` and `none` are accepted so a
/// URL can say what it goes through.
pub fn split_pooler(url: &str) -> Result<(String, Pooler), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Pooler::None));
    };
    let mut pooler = Pooler::None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((POOLER_PARAM, value)) => {
                pooler = match value {
                    "transaction" => Pooler::Transaction,
                    "session" | "none" => Pooler::None,
                    other => return Err(StoreError::Pooler(other.to_string())),
                }
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, pooler))
}

/// A connection to run one statement on, as the store's functions take it: an `Executor`
/// that sends every statement the way the back-end needs. On PostgreSQL that is sqlx's
/// connection (statements unnamed behind a transaction pooler, named and cached otherwise); on
/// SQLite it is one of [`lite`](super::lite)'s connections, which runs the statement on the
/// calling thread.
#[derive(Debug)]
pub struct Exec<'c> {
    to: Target<'c>,
}

#[derive(Debug)]
enum Target<'c> {
    Sqlx {
        conn: &'c mut AnyConnection,
        unnamed: bool,
    },
    Lite(&'c mut rusqlite::Connection),
}

impl<'c> Exec<'c> {
    pub(super) fn new(conn: &'c mut AnyConnection, pooler: Pooler) -> Self {
        Self {
            to: Target::Sqlx {
                conn,
                unnamed: pooler.keeps_no_session(),
            },
        }
    }

    pub(super) fn lite(conn: &'c mut rusqlite::Connection) -> Self {
        Self {
            to: Target::Lite(conn),
        }
    }

    /// Which database this connection talks to (for a statement whose SQL differs).
    pub(super) fn backend(&self) -> super::Backend {
        match &self.to {
            Target::Sqlx { conn, .. } if conn.backend_name() == "PostgreSQL" => {
                super::Backend::Postgres
            }
            _ => super::Backend::Sqlite,
        }
    }

    /// The same connection for one more statement (for a function that runs several).
    pub fn reborrow(&mut self) -> Exec<'_> {
        Exec {
            to: match &mut self.to {
                Target::Sqlx { conn, unnamed } => Target::Sqlx {
                    conn,
                    unnamed: *unnamed,
                },
                Target::Lite(conn) => Target::Lite(conn),
            },
        }
    }
}

/// A statement sent unnamed whatever it asked for.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Any>> Execute<'q, Any> for Unnamed<E> {
    fn sql(&self) -> &'q str {
        self.0.sql()
    }

    fn statement(&self) -> Option<&AnyStatement<'q>> {
        self.0.statement()
    }

    fn take_arguments(
        &mut self,
    ) -> Result<Option<sqlx::any::AnyArguments<'q>>, sqlx::error::BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

type BoxFuture<'e, T> = Pin<Box<dyn Future<Output = T> + Send + 'e>>;
type BoxStream<'e, T> = Pin<Box<dyn Stream<Item = T> + Send + 'e>>;

/// The rows of a statement that has already run, as the stream `Executor` returns.
struct Ran<T>(std::vec::IntoIter<T>);

impl<T: Unpin> Stream for Ran<T> {
    type Item = T;

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::task::Poll::Ready(self.0.next())
    }
}

/// A SQLite statement runs when it is handed over, not when the future is first polled: it
/// takes microseconds and never waits (see [`lite`](super::lite)).
impl<'c> Executor<'c> for Exec<'c> {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.to {
            Target::Sqlx {
                conn,
                unnamed: true,
            } => conn.fetch_many(Unnamed(query)),
            Target::Sqlx { conn, .. } => conn.fetch_many(query),
            Target::Lite(conn) => {
                let items: Vec<_> = match on_lite(conn, query, super::lite::statement::run_all) {
                    Ok(results) => results.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                Box::pin(Ran(items.into_iter()))
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.to {
            Target::Sqlx {
                conn,
                unnamed: true,
            } => conn.fetch_optional(Unnamed(query)),
            Target::Sqlx { conn, .. } => conn.fetch_optional(query),
            Target::Lite(conn) => Box::pin(std::future::ready(on_lite(
                conn,
                query,
                super::lite::statement::run_first,
            ))),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self.to {
            Target::Sqlx { conn, .. } => conn.prepare_with(sql, parameters),
            Target::Lite(_) => Box::pin(std::future::ready(Err(not_on_sqlite("prepare")))),
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self.to {
            Target::Sqlx { conn, .. } => conn.describe(sql),
            Target::Lite(_) => Box::pin(std::future::ready(Err(not_on_sqlite("describe")))),
        }
    }
}

/// Runs `query` on a SQLite connection with `run` (all its results, or its first row).
fn on_lite<'q, T>(
    conn: &rusqlite::Connection,
    mut query: impl Execute<'q, Any>,
    run: impl FnOnce(
        &rusqlite::Connection,
        &str,
        Option<sqlx::any::AnyArguments<'q>>,
    ) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let args = query.take_arguments().map_err(sqlx::Error::Encode)?;
    run(conn, query.sql(), args)
}

/// The store prepares and describes nothing itself; the SQLite path caches prepared
/// statements by their text instead.
fn not_on_sqlite(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{what} is not offered on the SQLite path"))
}

/// A connection for reads, from [`Store::read`](super::Store::read): a pooled connection, or
/// behind a transaction pooler one inside a transaction (rolled back when dropped: it wrote
/// nothing). Hold it for the reads that belong together and no longer: behind a pooler it
/// holds a server connection.
#[derive(Debug)]
pub struct Read {
    conn: ReadConn,
    pooler: Pooler,
}

#[derive(Debug)]
enum ReadConn {
    /// Kept for the next read when this one ends ([`super::warm`]).
    Pooled(super::warm::Lent),
    InTransaction(Tx),
    Lite(super::lite::LiteRead),
}

impl Read {
    pub(super) async fn open(
        pool: &sqlx::AnyPool,
        pooler: Pooler,
        warm: &std::sync::Arc<super::warm::Warm>,
        retryable: bool,
    ) -> Result<Self, StoreError> {
        let conn = if pooler.keeps_no_session() {
            // `BEGIN` in a task of its own, as `Store::begin_write` does: a request dropped
            // while it is in flight would leave the server connection in a transaction nobody
            // ends (and holding the pooler's server connection); the task finishes it, and a
            // transaction nobody receives is rolled back.
            let pool = pool.clone();
            match tokio::spawn(async move { pool.begin().await }).await {
                Ok(tx) => ReadConn::InTransaction(tx?),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Only when the runtime shuts down.
                Err(_) => return Err(StoreError::from(sqlx::Error::PoolClosed)),
            }
        } else {
            ReadConn::Pooled(warm.acquire(pool, retryable).await?)
        };
        Ok(Self { conn, pooler })
    }

    /// A SQLite reader connection ([`lite`](super::lite)).
    pub(super) fn lite(read: super::lite::LiteRead) -> Self {
        Self {
            conn: ReadConn::Lite(read),
            pooler: Pooler::None,
        }
    }

    /// Whether the connection passed a liveness check when the read began: only a read of
    /// [`Store::read_retried`](super::Store::read_retried) may hold one that did not.
    pub(super) fn checked(&self) -> bool {
        match &self.conn {
            ReadConn::Pooled(lent) => lent.checked(),
            ReadConn::InTransaction(_) | ReadConn::Lite(_) => true,
        }
    }

    /// Ends the read and closes its connection rather than keeping it (its statement failed
    /// as if the database were gone).
    pub(super) fn discard(self) {
        if let ReadConn::Pooled(lent) = self.conn {
            lent.discard();
        }
    }

    /// The connection, for one statement.
    pub fn conn(&mut self) -> Exec<'_> {
        let conn: &mut AnyConnection = match &mut self.conn {
            ReadConn::Pooled(c) => c.conn(),
            ReadConn::InTransaction(tx) => tx,
            ReadConn::Lite(read) => return Exec::lite(read.conn()),
        };
        Exec::new(conn, self.pooler)
    }
}

/// The lock key of [`migrate_in_one_transaction`] ("sigil-mi" in ASCII): any
/// constant works, as long as every node uses the same one.
const MIGRATE_LOCK: i64 = 0x7369_6769_6c2d_6d69;

/// Applies `migrator`'s migrations through a transaction pooler: on one connection of its own,
/// all in one transaction that holds a transaction-level advisory lock, so nodes starting
/// together apply each migration exactly once (the second waits for the first's commit, then
/// finds them applied).
///
/// sqlx's own lock, off here, is a session-level `pg_advisory_lock` taken before the
/// migrations and released after them: behind the pooler the release may reach another server
/// connection (and a failed run never releases it), and the lock would stay held on a server
/// connection the pooler keeps, blocking every later start. Each migration runs in a savepoint
/// of the one transaction (PostgreSQL's DDL is transactional; none of ours needs to run
/// outside a transaction). The migrator's own statements are prepared by name; they are
/// deallocated before the commit, so the server connection goes back to the pooler with none,
/// and the client connection, whose cache still names them, is closed.
pub async fn migrate_in_one_transaction(
    pool: &sqlx::AnyPool,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), StoreError> {
    // The same migrations without sqlx's session lock (the transaction's lock replaces it).
    // `Migrator` offers no other way to copy one; its fields are public for `migrate!`.
    let unlocked = sqlx::migrate::Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: migrator.ignore_missing,
        locking: false,
        no_tx: migrator.no_tx,
    };
    let mut conn = pool.acquire().await?.detach();
    let mut tx = conn.begin().await?;
    // No parameters, so the simple protocol: nothing prepared.
    sqlx::query(&format!("SELECT pg_advisory_xact_lock({MIGRATE_LOCK})"))
        .execute(&mut *tx)
        .await?;
    // On failure the transaction rolls back and the lock goes with it; the statements the
    // migrator prepared stay on that server connection until PgBouncer closes it, harmless to
    // Sigil, which sends none by name in this mode.
    unlocked.run_direct(&mut *tx).await?;
    sqlx::query("DEALLOCATE ALL").execute(&mut *tx).await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pooler_parameter_is_taken_off_the_url_and_the_rest_kept() {
        let split = |u: &str| split_pooler(u).unwrap();
        assert_eq!(
            split("postgres://u@h:6432/db?pooler=transaction"),
            ("postgres://u@h:6432/db".into(), Pooler::Transaction)
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=require&pooler=transaction&application_name=x"),
            (
                "postgres://u@h/db?sslmode=require&application_name=x".into(),
                Pooler::Transaction
            )
        );
        assert_eq!(
            split("postgres://u@h/db?pooler=session"),
            ("postgres://u@h/db".into(), Pooler::None)
        );
        assert_eq!(
            split("postgres://u@h/db?sslmode=disable"),
            ("postgres://u@h/db?sslmode=disable".into(), Pooler::None)
        );
        assert_eq!(
            split("sqlite://data/x.db"),
            ("sqlite://data/x.db".into(), Pooler::None)
        );
    }

    #[test]
    fn an_unknown_pooler_mode_is_refused_naming_it() {
        let err = split_pooler("postgres://h/db?pooler=statement").unwrap_err();
        assert!(err.to_string().contains("statement"), "{err}");
    }
}
