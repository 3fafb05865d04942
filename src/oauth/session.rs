//! Browser login sessions: the single sign-on state behind the session cookie.
//!
//! The cookie holds a random secret; the database keeps only its keyed hash, so a database
//! read does not yield usable cookies. A session lasts until its absolute lifetime, and ends
//! early after its idle lifetime without use, at logout, or when the user is blocked, changes
//! password or has their sessions revoked.

use super::OAuthError;
use crate::config::SessionPolicy;
use crate::crypto::SecretHasher;
use crate::crypto::{Secret, random_secret};
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::WriteTx;
use crate::store::sessions::{self as store, SessionRow};

/// The live session named by a cookie value, if any (ended, expired or idle sessions and
/// sessions of blocked users are not live).
pub async fn current(
    db: &Db,
    secrets: &SecretHasher,
    policy: SessionPolicy,
    tenant_id: &str,
    cookie: Option<&str>,
) -> Result<Option<SessionRow>, OAuthError> {
    let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let hash = secrets.hash(cookie);
    let Some(row) = store::session(&db.store, tenant_id, &hash).await? else {
        return Ok(None);
    };
    let now = db.now();
    if row.ended_at.is_some() || now >= row.expires_at || now - row.last_seen_at >= policy.idle_ms {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Starts a session for a user who just authenticated; returns the cookie value.
pub async fn start(
    db: &Db,
    secrets: &SecretHasher,
    policy: SessionPolicy,
    tenant_id: &str,
    user_id: &str,
) -> Result<(Secret, SessionRow), OAuthError> {
    let now = db.now();
    let secret = random_secret("");
    let row = SessionRow {
        token_hash: secrets.hash(secret.expose()),
        sid: new_id(IdKind::Session, now),
        tenant_id: tenant_id.into(),
        user_id: user_id.into(),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + policy.absolute_ms,
        ended_at: None,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert_session(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((secret, row))
}

/// Slides the idle lifetime of a session that was just used, inside the caller's write
/// transaction (the one that records what the session was used for).
pub async fn touch(tx: &mut WriteTx, row: &SessionRow, now: i64) -> Result<(), OAuthError> {
    store::touch_session(tx, &row.token_hash, now).await?;
    Ok(())
}

/// Ends the session named by a browser's cookie value.
pub async fn end(
    db: &Db,
    secrets: &SecretHasher,
    tenant_id: &str,
    cookie: &str,
) -> Result<(), OAuthError> {
    let hash = secrets.hash(cookie);
    let mut tx = db.store.begin_write().await?;
    store::end_session(&mut tx, tenant_id, store::By::TokenHash(&hash), db.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends the session named by its `sid`.
pub async fn end_sid(db: &Db, tenant_id: &str, sid: &str) -> Result<(), OAuthError> {
    let mut tx = db.store.begin_write().await?;
    store::end_session(&mut tx, tenant_id, store::By::Sid(sid), db.now()).await?;
    tx.commit().await?;
    Ok(())
}
