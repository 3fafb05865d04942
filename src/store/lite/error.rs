//! SQLite's errors as sqlx reports them, so the layers above (the unique-rule mapping, the
//! outage check) read one kind of error whichever path ran the statement.

use std::borrow::Cow;

use sqlx::error::{DatabaseError, ErrorKind};

/// SQLite's extended result codes the store tells apart
/// (<https://www.sqlite.org/rescode.html>).
mod code {
    pub const CONSTRAINT_CHECK: i32 = 275;
    pub const CONSTRAINT_FOREIGNKEY: i32 = 787;
    pub const CONSTRAINT_NOTNULL: i32 = 1299;
    pub const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    pub const CONSTRAINT_UNIQUE: i32 = 2067;
}

/// An error SQLite returned: its extended result code and message, as sqlx's own SQLite
/// driver reports them (the code as a decimal string, unique violations by kind).
#[derive(Debug)]
pub struct LiteError {
    code: i32,
    message: String,
}

impl LiteError {
    /// An error with SQLite's extended result `code` and `message`.
    pub fn new(code: i32, message: &str) -> Self {
        LiteError {
            code,
            message: message.to_string(),
        }
    }

    /// The extended result code.
    pub fn code(&self) -> i32 {
        self.code
    }
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            code::CONSTRAINT_UNIQUE | code::CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            code::CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            code::CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            code::CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Turns a rusqlite error into the sqlx error the store's callers expect: SQLite's own
/// failures as [`sqlx::Error::Database`], anything else (a misuse, text that is not UTF-8) as a
/// protocol error naming it.
pub fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(LiteError {
                code: failure.extended_code,
                message: message.unwrap_or_else(|| failure.to_string()),
            }))
        }
        other => sqlx::Error::Protocol(format!("sqlite: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_violation_reads_as_one_with_sqlites_message() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE); INSERT INTO t VALUES ('a', 'x')",
        )
        .unwrap();
        let e = to_sqlx(
            conn.execute("INSERT INTO t VALUES ('b', 'x')", [])
                .unwrap_err(),
        );
        let db = e.as_database_error().expect("a database error");
        assert!(db.is_unique_violation(), "{db}");
        assert_eq!(db.message(), "UNIQUE constraint failed: t.u");
        assert_eq!(db.code().as_deref(), Some("2067"));
    }
}
