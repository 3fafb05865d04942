//! The store's one error type.

use super::unavailable;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the string names the API field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The URL's `pooler=` names no mode Sigil knows, or a pooler where there can be none.
    #[error(
        "unsupported pooler in the database URL: {0} (expected pooler=transaction, for PgBouncer's transaction pooling, on a postgres:// URL)"
    )]
    Pooler(String),
    /// The direct URL is not a PostgreSQL URL without a pooler, or the store is not PostgreSQL.
    #[error(
        "the direct database URL must name PostgreSQL itself (postgres://..., no pooler=), for a PostgreSQL database"
    )]
    DirectUrl,
    /// The URL names no supported database.
    #[error("unsupported database URL (expected sqlite://... or postgres://...): {0}")]
    UnsupportedUrl(String),
    /// Creating the SQLite directory failed.
    #[error("creating the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// Migrations failed.
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database is unreachable, restarting or refusing work for now ([`unavailable`](super::unavailable) says
    /// which failures): a retry later may succeed, so the layers above answer 503
    /// `temporarily_unavailable` with `Retry-After`, not a 500.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The SQLite file could not be locked for migrating.
    #[error("locking {0} to migrate it: {1}")]
    MigrateLock(String, std::io::Error),
    /// Any other database failure (the driver's error is the source, for the logs).
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A JSON value did not parse or serialize (corruption or a manual edit).
    #[error("stored JSON in {0} is invalid: {1}")]
    BadJson(&'static str, serde_json::Error),
    /// A stored column did not decode into its type (corrupt JSON, an unknown enum string, a
    /// flag that is neither 0 nor 1): the row is refused rather than read with a default.
    #[error("stored value in column {column} is corrupt: {reason}")]
    Corrupt {
        /// The column.
        column: String,
        /// What did not decode.
        reason: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                column: index,
                reason: source.to_string(),
            },
            e if unavailable::is_unavailable(&e) => StoreError::Unavailable(e),
            other => StoreError::Database(other),
        }
    }
}
