//! After the run: what the clients were given, checked against the database.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use sqlx::Row;

use super::load::Record;

/// The run's verdict (see the list; each is a count of things that went wrong).
#[derive(Debug)]
pub struct Verdict {
    /// Access tokens handed out.
    pub issued: usize,
    /// Codes whose exchange succeeded more than once.
    pub codes_redeemed_twice: usize,
    /// Refresh tokens accepted again after the retry grace window.
    pub refresh_accepted_twice_outside_grace: usize,
    /// Refresh tokens accepted twice within it (retries of lost answers: allowed).
    pub refresh_accepted_twice_within_grace: usize,
    /// Metadata writes acknowledged to a client but not in the database.
    pub metadata_writes_missing: u64,
    /// Metadata writes in the database beyond those acknowledged (answers lost after the
    /// commit: harmless, the client's retry made its own).
    pub metadata_writes_unacknowledged: u64,
    /// Access tokens whose grant row is missing (`/userinfo` would refuse them).
    pub tokens_without_grant: usize,
    /// When the access tokens whose flow left no trace were handed out.
    pub traces_lost: Vec<std::time::Instant>,
}

/// Checks `rec` against the database at `url`.
pub async fn audit(url: &str, rec: &Record, grace: Duration) -> Result<Verdict> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await?;
    let grants = strings(&pool, "SELECT jti FROM access_grants").await?;
    let traced = strings(&pool, "SELECT context FROM hook_traces").await?;
    let mut missing = 0;
    let mut unacked = 0;
    for (email, acked) in &rec.metadata_acked {
        let row = sqlx::query("SELECT user_metadata FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&pool)
            .await?;
        let meta: serde_json::Value = serde_json::from_str(&row.get::<String, _>(0))?;
        let stored = meta["logins"].as_u64().unwrap_or(0);
        missing += acked.saturating_sub(stored);
        unacked += stored.saturating_sub(*acked);
    }
    let (mut outside, mut within) = (0, 0);
    for times in rec.refresh_accepted.values() {
        for pair in times.windows(2) {
            if pair[1].duration_since(pair[0]) > grace {
                outside += 1;
            } else {
                within += 1;
            }
        }
    }
    pool.close().await;
    Ok(Verdict {
        issued: rec.issued.len(),
        codes_redeemed_twice: rec.code_redeemed.values().filter(|n| **n > 1).count(),
        refresh_accepted_twice_outside_grace: outside,
        refresh_accepted_twice_within_grace: within,
        metadata_writes_missing: missing,
        metadata_writes_unacknowledged: unacked,
        tokens_without_grant: rec
            .issued
            .iter()
            .filter(|(j, _)| !grants.contains(j))
            .count(),
        traces_lost: rec
            .issued
            .iter()
            .filter(|(j, _)| !traced.contains(j))
            .map(|(_, at)| *at)
            .collect(),
    })
}

/// The one text column `sql` selects, every row's.
async fn strings(pool: &sqlx::PgPool, sql: &str) -> Result<HashSet<String>> {
    Ok(sqlx::query(sql)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect())
}
