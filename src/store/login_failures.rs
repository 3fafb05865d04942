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

/// Forgets the attempts of (user, ip) after a successful login.
pub async fn clear_attempts(tx: &mut WriteTx, user_id: &str, ip: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_attempts WHERE user_id = $1 AND ip = $2")
        .bind(user_id)
        .bind(ip)
        .execute(tx.conn())
        .await?;
    Ok(())
}
