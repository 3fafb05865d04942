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

use super::grants::{self, GrantRow};
use super::refresh_tokens::{self, RefreshRow};
use super::{Backend, Pooler, Store, StoreError, to_json};

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
/// that is false, so one statement text serves both (prepared once per connection).
async fn in_one_statement(
    conn: super::Exec<'_>,
    r: &RotateAndIssue<'_>,
) -> Result<bool, StoreError> {
    let g = r.grant;
    let empty = RefreshRow {
        token_hash: String::new(),
        family_id: String::new(),
        tenant_id: String::new(),
        user_id: String::new(),
        client_id: String::new(),
        org_id: None,
        scope: String::new(),
        audience: None,
        auth_time: 0,
        created_at: 0,
        expires_at: 0,
        used_at: None,
        revoked_at: None,
        sid: None,
    };
    let n = r.successor.unwrap_or(&empty);
    let (spent,): (i64,) = sqlx::query_as(
        "WITH spent AS ( \
             UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
             RETURNING token_hash \
         ), granted AS ( \
             INSERT INTO access_grants \
                 (jti, tenant_id, user_id, client_id, scope, id_claims, expires_at, revoked_at, family_id) \
             SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM spent \
         ), succeeded AS ( \
             INSERT INTO refresh_tokens \
                 (token_hash, family_id, tenant_id, user_id, client_id, org_id, scope, audience, \
                  auth_time, created_at, expires_at, used_at, revoked_at, sid) \
             SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 \
             FROM spent WHERE $26 \
         ) \
         SELECT count(*) FROM spent",
    )
    .bind(r.now)
    .bind(r.spent)
    .bind(&g.jti)
    .bind(&g.tenant_id)
    .bind(&g.user_id)
    .bind(&g.client_id)
    .bind(&g.scope)
    .bind(to_json("id_claims", &g.id_claims)?)
    .bind(g.expires_at)
    .bind(g.revoked_at)
    .bind(&g.family_id)
    .bind(&n.token_hash)
    .bind(&n.family_id)
    .bind(&n.tenant_id)
    .bind(&n.user_id)
    .bind(&n.client_id)
    .bind(&n.org_id)
    .bind(&n.scope)
    .bind(&n.audience)
    .bind(n.auth_time)
    .bind(n.created_at)
    .bind(n.expires_at)
    .bind(n.used_at)
    .bind(n.revoked_at)
    .bind(&n.sid)
    .bind(r.successor.is_some())
    .fetch_one(conn)
    .await?;
    Ok(spent == 1)
}
