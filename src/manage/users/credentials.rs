//! A user's password (argon2id on the bounded pool) and "sign out everywhere".

use super::*;

/// Body of `PUT /users/{id}/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// 8 to 256 characters.
    #[schema(value_type = String)]
    pub password: Secret,
}

/// Hashes a password off the async executor (argon2id is deliberately slow).
pub(crate) async fn hash_password(
    hasher: &PasswordHasher,
    field: &str,
    password: Secret,
) -> Result<String> {
    PasswordHasher::check_policy(password.expose()).map_err(|e| invalid(field, e.to_string()))?;
    hasher
        .hash_bounded(password)
        .await
        .map_err(|e| invalid(field, e.to_string()))
}

/// Sets a user's password (argon2id).
pub async fn set_password(
    db: &Db,
    passwords: &PasswordHasher,
    ctx: &TenantCtx,
    id: &str,
    input: SetPassword,
) -> Result<()> {
    let hash = hash_password(passwords, "password", input.password).await?;
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    let now = db.now();
    row.password_hash = Some(hash);
    row.updated_at = now;
    store::update(&mut tx, &row).await?;
    // A password change ends the user's existing grants (as after a compromise).
    crate::store::refresh_tokens::revoke_user_tokens(&mut tx, id, now).await?;
    crate::store::sessions::end_user_sessions(&mut tx, id, now).await?;
    // And lifts the brute-force lock: the guesses counted were against the old password.
    let cleared = lift_on_password_change(&mut tx, ctx, id).await?;
    record(&mut tx, now, ctx, "set_password", "user", id, json!({})).await?;
    tx.commit().await?;
    if cleared > 0 {
        log_lifted(ctx, id, None, cleared, "set_password");
    }
    Ok(())
}

/// Ends every login session of a user and revokes their refresh tokens and access grants
/// (a "sign out everywhere"); returns how many sessions ended.
pub async fn revoke_sessions(db: &Db, ctx: &TenantCtx, id: &str) -> Result<u64> {
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, id).await?;
    let now = db.now();
    let ended = crate::store::sessions::end_user_sessions(&mut tx, id, now).await?;
    crate::store::refresh_tokens::revoke_user_tokens(&mut tx, id, now).await?;
    record(
        &mut tx,
        now,
        ctx,
        "revoke_sessions",
        "user",
        id,
        json!({ "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}
