//! The brute-force lock of a user's password logins, seen and lifted by an administrator:
//! the per-IP attempt counters `oauth::user_auth` keeps (RFC 6749 10.10, RFC 9700 2.4). The
//! login answers a locked pair exactly as a wrong password, so this is the only place the lock
//! shows.

use std::net::IpAddr;

use super::*;
use crate::config::LoginLock;
use crate::store::login_failures as attempt_store;

/// A user's brute-force lock, as `GET /users/{id}/lock` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockStatus {
    /// The user.
    pub user_id: String,
    /// Whether any IP is locked out now: its next password attempt would be refused.
    pub locked: bool,
    /// Attempts one IP may make per window (`--login-max-failures`).
    pub max_failures: i64,
    /// The window's length in minutes, from its first attempt (`--login-lock-minutes`).
    pub lock_minutes: i64,
    /// The IPs with attempts in an open window (an ended window counts nothing).
    pub ips: Vec<IpAttempts>,
}

/// One IP's attempts for the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct IpAttempts {
    /// The client IP (behind a trusted proxy, from `X-Forwarded-For`).
    pub ip: String,
    /// Attempts counted in the window (a successful login clears them).
    pub attempts: i64,
    /// RFC 3339: the window's first attempt.
    pub window_start: String,
    /// RFC 3339: when the window ends, and with it the lock.
    pub window_end: String,
    /// Whether this IP is locked out now.
    pub locked: bool,
}

/// Query of `DELETE /users/{id}/lock`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiftLock {
    /// Lift the lock for this IP only (default: every IP).
    pub ip: Option<String>,
}

/// The user's attempt counters under the operator's limits.
pub async fn lock_status(
    db: &Db,
    limits: &LoginLock,
    ctx: &TenantCtx,
    id: &str,
) -> Result<LockStatus> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, By::Id(id))
        .await?
        .ok_or(ManageError::NotFound("user"))?;
    let now = db.now();
    let rows = attempt_store::open_windows(
        db.store.read().await?.conn(),
        &ctx.tenant_id,
        id,
        now,
        limits.window_ms(),
    )
    .await?;
    let ips: Vec<IpAttempts> = rows
        .into_iter()
        .map(|r| IpAttempts {
            locked: limits.locks(r.attempts, r.window_start, now),
            window_end: rfc3339(r.window_start + limits.window_ms()),
            window_start: rfc3339(r.window_start),
            attempts: r.attempts,
            ip: r.ip,
        })
        .collect();
    Ok(LockStatus {
        user_id: id.to_string(),
        locked: ips.iter().any(|i| i.locked),
        max_failures: limits.max_failures(),
        lock_minutes: limits.lock_minutes(),
        ips,
    })
}

/// Lifts the user's lock (every IP's counter, or `ip`'s only), so the next attempt is
/// compared again; returns how many IPs' counters were cleared.
pub async fn lift_lock(db: &Db, ctx: &TenantCtx, id: &str, ip: Option<&str>) -> Result<u64> {
    // Stored as the server formats an address; parsing puts what an admin typed in that form.
    let ip = ip
        .filter(|i| !i.is_empty())
        .map(|i| {
            i.trim()
                .parse::<IpAddr>()
                .map(|a| a.to_string())
                .map_err(|_| invalid("ip", "must be an IPv4 or IPv6 address"))
        })
        .transpose()?;
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, id).await?;
    let now = db.now();
    let cleared = attempt_store::clear_user(&mut tx, &ctx.tenant_id, id, ip.as_deref()).await?;
    let summary = json!({"ip": ip, "cleared": cleared});
    record(&mut tx, now, ctx, "lift_lock", "user", id, summary).await?;
    tx.commit().await?;
    log_lifted(ctx, id, ip.as_deref(), cleared, "lift");
    Ok(cleared)
}

/// Lifts every IP's lock of a user whose password an administrator just set, inside that
/// change's transaction (the new password is not to be refused for the old one's guesses).
pub(crate) async fn lift_on_password_change(
    tx: &mut WriteTx,
    ctx: &TenantCtx,
    id: &str,
) -> Result<u64> {
    Ok(attempt_store::clear_user(tx, &ctx.tenant_id, id, None).await?)
}

/// The security log line of a lock an administrator lifted (`via`: `lift`, or the password
/// change that lifted it).
pub(crate) fn log_lifted(ctx: &TenantCtx, id: &str, ip: Option<&str>, cleared: u64, via: &str) {
    tracing::info!(
        target: "sigil::security",
        event = "lock_lifted",
        tenant = %ctx.tenant_name,
        user_id = %id,
        ip = ip.unwrap_or("*"),
        cleared,
        actor = %ctx.actor,
        via,
        "brute-force lock lifted"
    );
}
