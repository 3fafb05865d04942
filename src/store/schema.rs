//! The schema's version: the migrations embedded in this binary applied, one node at a time,
//! and which of them the database has (what `/readyz` checks).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::conn::Pooler;
use super::{Backend, Store, StoreError};

/// Applies the embedded migrations. Several nodes (or commands) starting at once on a fresh
/// database must apply each migration once, not race to apply it twice (the loser would fail
/// on a table or column that already exists). On PostgreSQL, sqlx's migrator holds an
/// advisory lock on the database while it runs. SQLite has no such lock, so a lock file
/// beside the database (`{file}-migrate.lock`, empty, left in place) is locked (`flock`) for
/// the run instead; the next migrator finds everything applied.
///
/// Never the database file itself: SQLite's own locks are POSIX record locks, which the
/// kernel drops when the process closes *any* descriptor of the file, so opening and closing
/// the database here would silently release the locks of the pool's connections.
pub(crate) async fn migrate(store: &Store, sqlite_file: Option<&Path>) -> Result<(), StoreError> {
    let _lock = match sqlite_file {
        Some(path) => Some(lock(&lock_file(path)).await?),
        None => None,
    };
    match (store.backend, store.pooler) {
        // Behind a transaction pooler there is no session for sqlx's advisory lock: the
        // migrations run in one transaction that takes a transaction-level lock instead.
        (Backend::Postgres, Pooler::Transaction) => {
            super::conn::migrate_in_one_transaction(&store.pool, store.migrator()).await?
        }
        _ => store.migrator().run(&store.pool).await?,
    }
    Ok(())
}

/// The migration lock file of the SQLite database at `path`.
fn lock_file(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push("-migrate.lock");
    path.with_file_name(name)
}

/// Waits (on the blocking pool) for an exclusive lock on `path` (created if missing), held
/// until the returned file drops.
async fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let failed = |e| StoreError::MigrateLock(path.display().to_string(), e);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(failed)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| failed(std::io::Error::other(e)))?
        .map_err(failed)
}

/// The versions of the migrations this binary embeds that the database has not applied
/// successfully, in order; empty when the schema is current. A database migrated further by
/// a newer binary has applied every one of ours (migrations are only ever added), so it is
/// current for this binary too.
pub async fn missing_migrations(store: &Store) -> Result<Vec<i64>, StoreError> {
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(store.read().await?.conn())
        .await?;
    let applied: HashSet<i64> = applied.into_iter().map(|(v,)| v).collect();
    Ok(store
        .migrator()
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_lock_is_a_file_of_its_own_beside_the_database() {
        assert_eq!(
            lock_file(Path::new("/var/lib/sigil/sigil.db")),
            PathBuf::from("/var/lib/sigil/sigil.db-migrate.lock")
        );
    }
}
