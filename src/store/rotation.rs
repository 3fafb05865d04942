//! A refresh grant's writes when it changes nothing else: the presented token rotated, the new
//! access grant and the successor stored, all or nothing, as one unit.
//!
//! On PostgreSQL that is **one statement** (data-modifying CTEs): the `UPDATE` that spends the
//! token feeds both `INSERT`s, so they store rows only when it spent one, and a single statement
//! commits atomically by itself. Without a transaction pooler it runs on a pooled connection
//! with no `BEGIN` or `COMMIT`: one round trip where the transaction took five (`BEGIN`, three
//! statements, `COMMIT`). Behind a transaction pooler the statement still needs a transaction
//! to keep its `Parse` and `Bind` on one server connection ([`super::conn`]), so it runs in
//! one (three round trips). Two concurrent uses of one token: the second `UPDATE` waits for the
//! first one's row lock, re-checks its `WHERE` (READ COMMITTED) and matches nothing, so its
//! inserts store nothing and it reports `false`.
//!
//! On SQLite, where a statement costs no round trip, the three statements run in a
//! [`WriteTx`](super::WriteTx) as the general path does.

use sqlx::Row;

use super::grants::{self, GRANT_COLS, GrantRow};
use super::refresh_tokens::{self, REFRESH_COLS, RefreshRow};
use super::{Backend, Pooler, Store, StoreError};

/// What one rotation writes.
#[derive(Debug)]
pub struct RotateAndIssue<'a> {
    /// The keyed hash of the presented refresh token.
    pub spent: &'a str,
    /// Epoch ms: the presented token's `used_at`.
    pub now: i64,
    /// The access grant issued.
    pub grant: &'a GrantRow,
    /// The successor refresh token, when one is issued (`offline_access` still granted).
    pub successor: Option<&'a RefreshRow>,
}

/// Rotates the presented token and stores what replaces it, atomically: `false` (and nothing
/// written) when the token was already used or revoked, as [`refresh_tokens::rotate`] answers.
pub async fn rotate_and_issue(store: &Store, r: &RotateAndIssue<'_>) -> Result<bool, StoreError> {
    match (store.backend(), store.pooler()) {
        (Backend::Postgres, Pooler::None) => {
            let mut conn = store.read().await?;
            in_one_statement(conn.conn(), r).await
        }
        (Backend::Postgres, Pooler::Transaction) => {
            let mut tx = store.begin_write().await?;
            let rotated = in_one_statement(tx.conn(), r).await?;
            tx.commit().await?;
            Ok(rotated)
        }
        (Backend::Sqlite, _) => {
            let mut tx = store.begin_write().await?;
            if !refresh_tokens::rotate(&mut tx, r.spent, r.now).await? {
                return Ok(false);
            }
            grants::insert_grant(&mut tx, r.grant).await?;
            if let Some(next) = r.successor {
                refresh_tokens::insert_refresh(&mut tx, next).await?;
            }
            tx.commit().await?;
            Ok(true)
        }
    }
}

/// PostgreSQL's one statement. The successor's insert is kept when there is none by a `WHERE`
/// that is false (its parameters then bound to an empty row), so one statement text serves
/// both. The columns and their binding are the ones `insert_grant` and `insert_refresh` use.
async fn in_one_statement(
    conn: super::Exec<'_>,
    r: &RotateAndIssue<'_>,
) -> Result<bool, StoreError> {
    let empty = RefreshRow::default();
    let sql = format!(
        "WITH spent AS ( \
             UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
             RETURNING token_hash \
         ), granted AS ( \
             INSERT INTO access_grants ({GRANT_COLS}) \
             SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM spent \
         ), succeeded AS ( \
             INSERT INTO refresh_tokens ({REFRESH_COLS}) \
             SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 \
             FROM spent WHERE $26 \
         ) \
         SELECT count(*) FROM spent"
    );
    let q = sqlx::query(&sql).bind(r.now).bind(r.spent);
    let q = grants::bind_grant(q, r.grant)?;
    let q = refresh_tokens::bind_refresh(q, r.successor.unwrap_or(&empty));
    let row = q.bind(r.successor.is_some()).fetch_one(conn).await?;
    let spent: i64 = row.try_get(0)?;
    Ok(spent == 1)
}
