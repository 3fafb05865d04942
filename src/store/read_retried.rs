//! A read whose first statement can simply run again, so that on PostgreSQL it may skip the
//! connection's liveness check (one round trip fewer) when the connection was given back a
//! moment ago ([`warm::RECENT`](super::warm::RECENT)).

use std::future::Future;

use super::{Exec, Read, Store, StoreError};

/// A statement that is safe to run twice (a `SELECT`), for [`Store::read_retried`]. (A trait
/// rather than an async closure: the future of an `AsyncFn` over `Exec<'_>` cannot be shown to
/// be `Send` for every lifetime, which the HTTP handlers need.)
pub trait Retryable {
    /// What the statement returns.
    type Out;
    /// Runs the statement on `ex`.
    fn run<'a>(
        &'a self,
        ex: Exec<'a>,
    ) -> impl Future<Output = Result<Self::Out, StoreError>> + Send + 'a;
}

impl Store {
    /// Runs `statement` as the first statement of a read, and returns the read (for the
    /// statements that belong with it) and what it returned. On a connection that was not checked, a failure as an unavailable database
    /// (the server ended it in that moment, as a restart does) runs the statement again on a
    /// checked connection: it costs a retry, never an error. Unchecked, the statement is
    /// bounded by the acquire timeout as the check would have been, so a database that stopped
    /// answering is a 503 within it, not a wait for the request timeout.
    pub async fn read_retried<S: Retryable + Sync>(
        &self,
        statement: &S,
    ) -> Result<(Read, S::Out), StoreError> {
        let mut read = self.open_read(true).await?;
        if read.checked() {
            let out = statement.run(read.conn()).await?;
            return Ok((read, out));
        }
        let bound = self.pool.options().get_acquire_timeout();
        let first = tokio::time::timeout(bound, statement.run(read.conn())).await;
        match first {
            Ok(Ok(out)) => Ok((read, out)),
            Ok(Err(StoreError::Unavailable(_))) => {
                read.discard();
                let mut read = self.read().await?;
                let out = statement.run(read.conn()).await?;
                Ok((read, out))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                // Cut off mid-statement: the connection's state is unknown, so it is closed.
                read.discard();
                Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
            }
        }
    }
}
