//! Failed-password counters per (user, IP): the brute-force lock's window.

use super::{StoreError, WriteTx};

/// Counts one password attempt for (user, IP) and returns the attempts in the current window,
/// this one included. One atomic statement (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`)
/// so parallel guesses each see a distinct count and cannot all pass the lock's check; a window
/// older than `window_ms` starts over at 1.
pub async fn count_attempt(
    tx: &mut WriteTx,
    tenant_id: &str,
    user_id: &str,
    ip: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "INSERT INTO login_attempts (user_id, ip, tenant_id, window_start, attempts) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (user_id, ip) DO UPDATE SET \
           attempts = CASE WHEN login_attempts.window_start <= $5 THEN 1 \
                      ELSE login_attempts.attempts + 1 END, \
           window_start = CASE WHEN login_attempts.window_start <= $5 THEN $4 \
                          ELSE login_attempts.window_start END \
         RETURNING attempts",
    )
    .bind(user_id)
    .bind(ip)
    .bind(tenant_id)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Takes back one counted attempt of (user, IP): the check that followed failed on our side
/// (the legacy store did not answer), which says nothing about the password.
pub async fn refund_attempt(tx: &mut WriteTx, user_id: &str, ip: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE login_attempts SET attempts = attempts - 1 \
         WHERE user_id = $1 AND ip = $2 AND attempts > 0",
    )
    .bind(user_id)
    .bind(ip)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Forgets the attempts of (user, ip) after a successful login.
pub async fn clear_attempts(tx: &mut WriteTx, user_id: &str, ip: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_attempts WHERE user_id = $1 AND ip = $2")
        .bind(user_id)
        .bind(ip)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One (user, IP) pair's counter.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    /// The client IP the attempts came from.
    pub ip: String,
    /// Epoch ms of the window's first attempt.
    pub window_start: i64,
    /// Attempts counted in the window.
    pub attempts: i64,
}

/// A user's counters whose window is still open at `now` (a pair whose window has ended
/// counts nothing: its next attempt starts over at 1), by IP.
pub async fn open_windows<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    tenant_id: &str,
    user_id: &str,
    now: i64,
    window_ms: i64,
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT ip, window_start, attempts FROM login_attempts \
         WHERE tenant_id = $1 AND user_id = $2 AND window_start > $3 ORDER BY ip",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(now - window_ms)
    .fetch_all(ex)
    .await?)
}

/// Forgets a user's attempts (from one IP, or from all): lifts the lock. Returns how many
/// pairs were cleared.
pub async fn clear_user(
    tx: &mut WriteTx,
    tenant_id: &str,
    user_id: &str,
    ip: Option<&str>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM login_attempts WHERE tenant_id = $1 AND user_id = $2 \
         AND ($3 = '' OR ip = $3)",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(ip.unwrap_or(""))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}
