//! The write transaction every store function that writes takes, and the announcement of one
//! to come.

use super::{Backend, Exec, Pooler, Store, Tx, changes, hot, lite};

/// A write transaction. On SQLite it also holds this process's writer ([`lite`](super::lite)): writers
/// queue on an async mutex and get the database lock in turn, instead of colliding on it and
/// backing off in SQLite's busy handler (which sleeps for milliseconds at a time and made the
/// p99 of the token endpoint hundreds of milliseconds under load). Other processes (the CLI)
/// still meet the busy handler.
///
/// Dropped without a commit (an error, or a request whose client hung up mid-transaction), it
/// rolls back: on SQLite at once, before it gives the writer up, so the next writer's `BEGIN
/// IMMEDIATE` finds the lock free; on PostgreSQL sqlx rolls back when the connection is next
/// used.
pub struct WriteTx {
    pub(super) conn: WriteConn,
    pub(super) pooler: Pooler,
    /// This node's copies of rows, and the changes whose copies the commit drops.
    pub(super) hot: std::sync::Arc<hot::HotRows>,
    pub(super) forget: Vec<changes::Change>,
}

pub(super) enum WriteConn {
    Postgres(Tx),
    Sqlite(lite::LiteWrite),
    /// Committed.
    Done,
}

impl WriteTx {
    /// Commits the transaction, then drops this node's copies of what it changed
    /// ([`changes::announce`](super::changes::announce)), then releases the writer.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        // On SQLite the writer is held until the copies are dropped.
        let mut writer = None;
        match std::mem::replace(&mut self.conn, WriteConn::Done) {
            WriteConn::Postgres(tx) => tx.commit().await?,
            WriteConn::Sqlite(mut write) => {
                write.commit().await?;
                writer = Some(write);
            }
            WriteConn::Done => unreachable!("a WriteTx is committed once"),
        }
        for change in &self.forget {
            self.hot.forget(change);
        }
        drop(writer);
        Ok(())
    }

    /// Drops this node's copies that `change` makes stale once the transaction commits.
    pub(crate) fn forget_on_commit(&mut self, change: changes::Change) {
        self.forget.push(change);
    }

    /// The connection the transaction runs on, for one of the store's statements.
    pub(crate) fn conn(&mut self) -> Exec<'_> {
        match &mut self.conn {
            WriteConn::Postgres(tx) => Exec::new(tx, self.pooler),
            WriteConn::Sqlite(write) => Exec::lite(write.conn()),
            WriteConn::Done => unreachable!("a WriteTx holds its transaction until it ends"),
        }
    }

    /// The suffix that locks the rows a read returns until the transaction ends (PostgreSQL);
    /// empty on SQLite, where [`Store::begin_write`](super::Store::begin_write) already holds the database's write lock.
    pub(crate) fn lock_suffix(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// The back-end the transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        match self.conn {
            WriteConn::Sqlite(_) => Backend::Sqlite,
            WriteConn::Postgres(_) => Backend::Postgres,
            WriteConn::Done => unreachable!("a WriteTx is not used after its commit"),
        }
    }
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTx")
    }
}

/// A write announced by [`Store::announce_write`], until dropped.
#[derive(Debug)]
pub struct WriteAnnounced {
    /// Held for its drop, which ends the announcement.
    _sqlite: Option<lite::announce::Announced>,
}

impl Store {
    /// Announces a write transaction that this request will begin soon (a grant whose flow
    /// runs first): on SQLite a group commit waits a moment for it, so that grants whose
    /// flows ran side by side share one `COMMIT` ([`lite::announce`]); nothing on
    /// PostgreSQL, where every transaction commits on its own connection. Drop it before
    /// beginning the write (or on giving up): a write that is still announced when it commits
    /// waits for itself until the group's linger ends.
    pub fn announce_write(&self) -> WriteAnnounced {
        WriteAnnounced {
            _sqlite: self.lite.as_ref().map(|l| l.announce()),
        }
    }
}
