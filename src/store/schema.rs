//! The schema: the migrations embedded in this binary, applied one node at a time.

use std::path::Path;

use super::{Store, StoreError};

/// Applies the embedded migrations. Several nodes (or commands) starting at once on a fresh
/// database must apply each migration once, not race to apply it twice (the loser would fail
/// on a table or column that already exists). On PostgreSQL, sqlx's migrator holds an
/// advisory lock on the database while it runs. SQLite has no such lock, so the database
/// file (`sqlite_file`) is locked for the run instead (`flock`: advisory, and independent of
/// the byte-range locks SQLite itself takes); the next migrator finds everything applied.
pub(crate) async fn migrate(store: &Store, sqlite_file: Option<&Path>) -> Result<(), StoreError> {
    let _lock = match sqlite_file {
        Some(path) => Some(lock(path).await?),
        None => None,
    };
    store.migrator().run(store.pool()).await?;
    Ok(())
}

/// Waits (on the blocking pool) for an exclusive lock on `path`, held until the file drops.
async fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let failed = |e| StoreError::MigrateLock(path.display().to_string(), e);
    let file = std::fs::File::open(path).map_err(failed)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| failed(std::io::Error::other(e)))?
        .map_err(failed)
}
