//! Browser login sessions: the single sign-on state behind the session cookie.
//!
//! The cookie holds a random secret; the database keeps only its keyed hash, so a database
//! read does not yield usable cookies. A session lasts until its absolute lifetime, and ends
//! early after its idle lifetime without use, at logout, or when the user is blocked, changes
//! password or has their sessions revoked.

use super::OAuthError;
use crate::crypto::{Secret, random_secret};
use crate::ids::{IdKind, new_id};
use crate::services::Services;
use crate::store::WriteTx;
use crate::store::sessions::{self as store, SessionRow};

/// The live session named by a cookie value, if any (ended, expired or idle sessions and
/// sessions of blocked users are not live).
pub async fn current(
    svc: &Services,
    tenant_id: &str,
    cookie: Option<&str>,
) -> Result<Option<SessionRow>, OAuthError> {
    let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let hash = svc.secrets.hash(cookie);
    let Some(row) = store::session(&svc.store, tenant_id, &hash).await? else {
        return Ok(None);
    };
    let now = svc.now();
    let policy = svc.sessions;
    if row.ended_at.is_some() || now >= row.expires_at || now - row.last_seen_at >= policy.idle_ms {
        return Ok(None);
    }
    Ok(Some(row))
}

/// Starts a session for a user who just authenticated; returns the cookie value.
pub async fn start(
    svc: &Services,
    tenant_id: &str,
    user_id: &str,
) -> Result<(Secret, SessionRow), OAuthError> {
    let now = svc.now();
    let secret = random_secret("");
    let row = SessionRow {
        token_hash: svc.secrets.hash(secret.expose()),
        sid: new_id(IdKind::Session, now),
        tenant_id: tenant_id.into(),
        user_id: user_id.into(),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + svc.sessions.absolute_ms,
        ended_at: None,
    };
    let mut tx = svc.store.begin_write().await?;
    store::insert_session(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((secret, row))
}

/// Slides the idle lifetime of a session that was just used, inside the caller's write
/// transaction (the one that records what the session was used for).
pub async fn touch(svc: &Services, tx: &mut WriteTx, row: &SessionRow) -> Result<(), OAuthError> {
    store::touch_session(tx, &row.token_hash, svc.now()).await?;
    Ok(())
}

/// Ends the session named by a browser's cookie value.
pub async fn end(svc: &Services, tenant_id: &str, cookie: &str) -> Result<(), OAuthError> {
    let hash = svc.secrets.hash(cookie);
    let mut tx = svc.store.begin_write().await?;
    store::end_session(&mut tx, tenant_id, store::By::TokenHash(&hash), svc.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends the session named by its `sid`.
pub async fn end_sid(svc: &Services, tenant_id: &str, sid: &str) -> Result<(), OAuthError> {
    let mut tx = svc.store.begin_write().await?;
    store::end_session(&mut tx, tenant_id, store::By::Sid(sid), svc.now()).await?;
    tx.commit().await?;
    Ok(())
}
