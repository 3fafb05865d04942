//! A tenant's legacy user store (its user-store hook and mode), the brute-force counters of
//! login names only the legacy store knows, and where users came from.

use sqlx::{Any, Executor, FromRow};

use super::{StoreError, WriteTx};

/// A tenant's legacy store setting.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LegacyStoreRow {
    /// `ten_...`
    pub tenant_id: String,
    /// `hook_...`: a user-store hook of the tenant.
    pub hook_id: String,
    /// `migrate` or `delegate`.
    pub mode: String,
    /// The hook's deadline for a call, when not its limits'.
    pub deadline_ms: Option<i64>,
    /// Epoch ms.
    pub updated_at: i64,
}

/// The tenant's legacy store, if it has one.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> Result<Option<LegacyStoreRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, hook_id, mode, deadline_ms, updated_at FROM legacy_stores \
         WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(ex)
    .await?)
}

/// Sets the tenant's legacy store (replacing any).
pub async fn put(tx: &mut WriteTx, row: &LegacyStoreRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO legacy_stores (tenant_id, hook_id, mode, deadline_ms, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET hook_id = $2, mode = $3, deadline_ms = $4, \
         updated_at = $5",
    )
    .bind(&row.tenant_id)
    .bind(&row.hook_id)
    .bind(&row.mode)
    .bind(row.deadline_ms)
    .bind(row.updated_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes the tenant's legacy store; false when it had none.
pub async fn clear(tx: &mut WriteTx, tenant_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM legacy_stores WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `hook_id` is its tenant's legacy store.
pub async fn is_legacy_store<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hook_id: &str,
) -> Result<bool, StoreError> {
    let n: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM legacy_stores WHERE hook_id = $1")
        .bind(hook_id)
        .fetch_optional(ex)
        .await?;
    Ok(n.is_some())
}

/// Counts one password attempt for (login name, IP) and returns the attempts in the current
/// window, this one included: `login_failures::count_attempt`'s atomic window, for a login name
/// the tenant has no user for. `subject` is the name's hash.
pub async fn count_attempt(
    tx: &mut WriteTx,
    tenant_id: &str,
    subject: &str,
    ip: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "INSERT INTO legacy_login_attempts (tenant_id, subject, ip, window_start, attempts) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (tenant_id, subject, ip) DO UPDATE SET \
           attempts = CASE WHEN legacy_login_attempts.window_start <= $5 THEN 1 \
                      ELSE legacy_login_attempts.attempts + 1 END, \
           window_start = CASE WHEN legacy_login_attempts.window_start <= $5 THEN $4 \
                          ELSE legacy_login_attempts.window_start END \
         RETURNING attempts",
    )
    .bind(tenant_id)
    .bind(subject)
    .bind(ip)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Takes back one counted attempt of (login name, IP): the legacy store could not answer, which
/// says nothing about the password, so it must not bring the user closer to the lock.
pub async fn refund_attempt(
    tx: &mut WriteTx,
    tenant_id: &str,
    subject: &str,
    ip: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE legacy_login_attempts SET attempts = attempts - 1 \
         WHERE tenant_id = $1 AND subject = $2 AND ip = $3 AND attempts > 0",
    )
    .bind(tenant_id)
    .bind(subject)
    .bind(ip)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Forgets the attempts of (login name, IP) after a successful login.
pub async fn clear_attempts(
    tx: &mut WriteTx,
    tenant_id: &str,
    subject: &str,
    ip: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM legacy_login_attempts WHERE tenant_id = $1 AND subject = $2 AND ip = $3",
    )
    .bind(tenant_id)
    .bind(subject)
    .bind(ip)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records where a user came from (`import`, `legacy`) and, for a migration, when.
pub async fn set_origin(
    tx: &mut WriteTx,
    user_id: &str,
    origin: &str,
    migrated_at: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET origin = $1, migrated_at = $2 WHERE id = $3")
        .bind(origin)
        .bind(migrated_at)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records that a login completed a user Sigil had from the legacy store (imported without a
/// password, or kept there by `delegate`): the first such login's time stays.
pub async fn mark_migrated(tx: &mut WriteTx, user_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET migrated_at = COALESCE(migrated_at, $1) WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// How a tenant's users came to be, for the migration's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origins {
    /// Created or completed from the legacy store at a login.
    pub migrated: i64,
    /// Of those, created by a login (Sigil had no user for them before).
    pub created_from_legacy: i64,
    /// Imported in bulk.
    pub imported: i64,
    /// Of those, still without a password and never completed by a login (they are asked
    /// about at their first one).
    pub imported_without_password: i64,
    /// Created through the API or the CLI.
    pub created: i64,
}

/// The tenant's users by origin.
pub async fn origins<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> Result<Origins, StoreError> {
    let (migrated, from_legacy, imported, bare, created): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT \
           COALESCE(SUM(CASE WHEN migrated_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN origin = 'legacy' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN origin = 'import' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN origin = 'import' AND password_hash IS NULL \
                             AND migrated_at IS NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN origin = 'api' THEN 1 ELSE 0 END), 0) \
         FROM users WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(ex)
        .await?;
    Ok(Origins {
        migrated,
        created_from_legacy: from_legacy,
        imported,
        imported_without_password: bare,
        created,
    })
}
