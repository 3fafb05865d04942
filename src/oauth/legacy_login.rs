//! Password logins the tenant's legacy store checks: a login name Sigil has no user for, or a
//! user without a password (imported without a hash, or kept in the legacy store by `delegate`).
//!
//! The same rules as a local login ([`super::user_auth`]), so a legacy store changes nothing
//! an attacker can see:
//! - the brute-force lock counts the attempt first (by user, or by the login name's keyed hash
//!   when there is no user yet), and a locked pair is refused without asking the legacy store;
//! - a wrong password and an unknown user are the one [`LoginRefused::WrongCredentials`], and
//!   each pays an argon2id verification, as a successful migration pays its argon2id hash;
//! - a legacy store that cannot answer refunds the counted attempt (an outage says nothing of
//!   the password) and the login fails as temporarily unavailable, with nothing created;
//! - the password goes to the hook for the one call and, in `migrate` mode, into the argon2id
//!   hash; it is never logged, traced or stored in the clear.
//!
//! On `authenticated`, the user is created (or, imported without a password, completed) with
//! the profile, the tenant-wide roles and the memberships, in one transaction. Two first
//! logins of one user at once create it once: the loser of the insert reads the winner's row.

use std::time::Duration;

use sigil_hooks::user_store::{Password, StoreCall};

use super::OAuthError;
use super::user_auth::{Counter, LoginRefused, PasswordLogin, count_attempt};
use crate::crypto::{Secret, SecretHasher};
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::legacy::{self, LegacyFailure, LegacyMode, LegacyStore, Resolved, Verdict};
use crate::ids::{IdKind, new_id};
use crate::metrics::{Attempt, LoginFailure, SecurityEvent, security_event};
use crate::store::legacy as legacy_store;
use crate::store::login_failures as failure_store;
use crate::store::users::{self as user_store, UserRow};
use crate::store::{StoreError, orgs};

/// What asking a legacy store takes besides the login itself.
#[derive(Debug, Clone, Copy)]
pub struct LegacyDeps<'a> {
    /// The hooks (the legacy store is one).
    pub hooks: &'a Hooks,
    /// Keys the login name's hash in the lock's counters and the traces.
    pub secrets: &'a SecretHasher,
}

/// The tenant's legacy store, when this login is one it must check: the user is unknown, or
/// has no password.
pub(super) async fn store_for(
    db: &Db,
    deps: &LegacyDeps<'_>,
    tenant_id: &str,
    user: Option<&UserRow>,
) -> Result<Option<LegacyStore>, LoginRefused> {
    if user.is_some_and(|u| u.password_hash.is_some()) {
        return Ok(None);
    }
    legacy::load(&db.store, deps.hooks, tenant_id, db.now())
        .await
        .map_err(|e| LoginRefused::Server(OAuthError::server(e)))
}

/// A password login checked by the tenant's legacy store: the user it authenticated (created
/// or refreshed), or why not. `typed` is the login name as the user typed it, `normalized` as
/// users are keyed.
#[allow(clippy::too_many_arguments)]
pub(super) async fn authenticate(
    db: &Db,
    login: &PasswordLogin,
    deps: &LegacyDeps<'_>,
    legacy: &LegacyStore,
    tenant: (&str, &str),
    (typed, normalized): (&str, &str),
    password: &str,
    ip: &str,
    user: Option<UserRow>,
) -> Result<UserRow, LoginRefused> {
    let tenant_id = tenant.0;
    let subject = deps
        .secrets
        .hash(&format!("legacy-login\n{tenant_id}\n{normalized}"));
    let user_id = user.as_ref().map(|u| u.id.clone());
    let counter = match &user_id {
        Some(id) => Counter::User(id),
        None => Counter::Subject(&subject),
    };
    let now = db.now();
    let n = count_attempt(db, login, tenant_id, &counter, ip, now).await?;
    if n > login.lock.max_failures() {
        login.spend(password).await?;
        login.pace_wait(tenant_id).await;
        refused(login, tenant_id, user.as_ref(), ip, "locked");
        return Err(LoginRefused::WrongCredentials);
    }
    let call = StoreCall::Login {
        identifier: typed.trim().to_string(),
        password: Password(password.to_string()),
        tenant_id: tenant_id.to_string(),
        tenant_name: tenant.1.to_string(),
        now: crate::clock::rfc3339(now),
        now_ms: now,
    };
    let asked = crate::clock::Stopwatch::start();
    let verdict = legacy::verify(
        &db.store,
        deps.hooks,
        tenant,
        legacy,
        (normalized, &subject),
        call,
        now,
    )
    .await;
    login.pace_record(tenant_id, Duration::from_secs_f64(asked.seconds()));
    let resolved = match verdict {
        Ok(Verdict::Authenticated(r)) => r,
        Ok(Verdict::WrongPassword | Verdict::UnknownUser) => {
            login.spend(password).await?;
            let outcome = if matches!(verdict, Ok(Verdict::WrongPassword)) {
                "wrong_password"
            } else {
                "unknown_user"
            };
            refused(login, tenant_id, user.as_ref(), ip, outcome);
            return Err(LoginRefused::WrongCredentials);
        }
        Err(e) => {
            // Not the password's fault: the attempt is not held against the user.
            refund(db, tenant_id, &counter, ip).await?;
            let outcome = match &e {
                LegacyFailure::InvalidProfile(_) => "invalid_profile",
                _ => "unavailable",
            };
            login.metrics.legacy_login(tenant_id, outcome);
            tracing::warn!(tenant = tenant_id, error = %e, "the legacy store gave no verdict");
            return Err(LoginRefused::Server(OAuthError::server(e)));
        }
    };
    let hash = match legacy.mode {
        LegacyMode::Migrate => Some(
            login
                .hasher()
                .hash_bounded(Secret::new(password.to_string()))
                .await
                .map_err(OAuthError::server)?,
        ),
        // The legacy store stays the one that knows the password.
        LegacyMode::Delegate => None,
    };
    let user = write_user(db, tenant_id, user, *resolved, hash, now)
        .await
        .map_err(|e| LoginRefused::Server(OAuthError::server(e)))?;
    if let Counter::Subject(s) = counter {
        let mut tx = db.store.begin_write().await?;
        legacy_store::clear_attempts(&mut tx, tenant_id, s, ip).await?;
        tx.commit().await.map_err(StoreError::from)?;
    }
    login.metrics.legacy_login(tenant_id, "authenticated");
    Ok(user)
}

/// Takes back the attempt [`count_attempt`] counted.
async fn refund(
    db: &Db,
    tenant_id: &str,
    counter: &Counter<'_>,
    ip: &str,
) -> Result<(), LoginRefused> {
    let mut tx = db.store.begin_write().await?;
    match counter {
        Counter::User(id) => failure_store::refund_attempt(&mut tx, id, ip).await?,
        Counter::Subject(s) => legacy_store::refund_attempt(&mut tx, tenant_id, s, ip).await?,
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Counts a refused legacy login in the metrics and the security events.
fn refused(
    login: &PasswordLogin,
    tenant_id: &str,
    user: Option<&UserRow>,
    ip: &str,
    outcome: &str,
) {
    login.metrics.legacy_login(tenant_id, outcome);
    let (attempt, reason) = match outcome {
        "locked" => (Attempt::Locked, LoginFailure::Locked),
        "wrong_password" => (Attempt::Wrong, LoginFailure::WrongPassword),
        _ => (Attempt::Wrong, LoginFailure::UnknownUser),
    };
    login.metrics.attempt(attempt);
    security_event!(
        login.metrics,
        SecurityEvent::LoginFailed(reason),
        tenant = tenant_id,
        user = user.map(|u| u.id.as_str()),
        ip = ip,
        "password login failed (legacy store)"
    );
}

/// The refusal of a profile whose legacy id another user of the tenant holds.
fn legacy_id_taken() -> LegacyFailure {
    LegacyFailure::InvalidProfile(
        "profile.legacy_id: another user of this tenant has it as external_id".into(),
    )
}

/// Creates the user the legacy store authenticated, or completes or refreshes the one Sigil
/// has, with its roles and memberships, in one transaction.
async fn write_user(
    db: &Db,
    tenant_id: &str,
    existing: Option<UserRow>,
    r: Resolved,
    hash: Option<String>,
    now: i64,
) -> Result<UserRow, LegacyFailure> {
    let p = &r.profile;
    let object = |v: &serde_json::Value| match v {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let mut tx = db.store.begin_write().await?;
    let row = match existing {
        None => {
            let row = UserRow {
                id: new_id(IdKind::User, now),
                tenant_id: tenant_id.to_string(),
                email: p.email.trim().to_string(),
                email_normalized: user_store::normalize_email(&p.email),
                email_verified: p.email_verified,
                password_hash: hash,
                name: p.name.clone(),
                given_name: p.given_name.clone(),
                family_name: p.family_name.clone(),
                nickname: p.nickname.clone(),
                picture: p.picture.clone(),
                blocked: false,
                user_metadata: object(&p.user_metadata),
                app_metadata: object(&p.app_metadata),
                external_id: Some(p.legacy_id.clone()),
                created_at: now,
                updated_at: now,
                last_login: None,
                logins_count: 0,
            };
            match user_store::insert(&mut tx, &row).await {
                Ok(()) => crate::store::metadata_keys::register_user(&mut tx, &row).await?,
                // Another login of this user created it a moment ago (the database names
                // either of the two unique columns it shares): it is the user. A user with
                // another email and this legacy id is someone else.
                Err(StoreError::Conflict(_)) => {
                    // (PostgreSQL ended the transaction with the violation: read outside it.)
                    drop(tx);
                    let found = user_store::get(
                        db.store.read().await?.conn(),
                        tenant_id,
                        user_store::By::Email(&row.email_normalized),
                    )
                    .await?;
                    return match found {
                        Some(u) if u.external_id.as_deref() == Some(p.legacy_id.as_str()) => Ok(u),
                        _ => Err(legacy_id_taken()),
                    };
                }
                Err(e) => return Err(e.into()),
            }
            legacy_store::set_origin(&mut tx, &row.id, "legacy", Some(now)).await?;
            row
        }
        Some(found) => {
            let mut row =
                user_store::get_for_update(&mut tx, tenant_id, user_store::By::Id(&found.id))
                    .await?
                    .ok_or(LegacyFailure::Store(StoreError::Conflict("user")))?;
            row.email_verified = p.email_verified;
            row.name = p.name.clone().or(row.name);
            row.given_name = p.given_name.clone().or(row.given_name);
            row.family_name = p.family_name.clone().or(row.family_name);
            row.nickname = p.nickname.clone().or(row.nickname);
            row.picture = p.picture.clone().or(row.picture);
            // The legacy store's keys over what Sigil holds; keys only Sigil holds stay.
            row.user_metadata.extend(object(&p.user_metadata));
            row.app_metadata.extend(object(&p.app_metadata));
            row.external_id = Some(p.legacy_id.clone());
            if hash.is_some() {
                row.password_hash = hash;
            }
            row.updated_at = now;
            user_store::update(&mut tx, &row)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict("external_id") => legacy_id_taken(),
                    e => e.into(),
                })?;
            crate::store::metadata_keys::register_user(&mut tx, &row).await?;
            legacy_store::mark_migrated(&mut tx, &row.id, now).await?;
            // The legacy store is the source of the roles it names.
            user_store::clear_roles(&mut tx, &row.id).await?;
            row
        }
    };
    user_store::add_roles(&mut tx, &row.id, &r.role_ids).await?;
    for (org_id, role_ids) in &r.memberships {
        // Checked first: on PostgreSQL a refused insert would end the transaction.
        if orgs::member_roles(tx.conn(), org_id, &row.id)
            .await?
            .is_none()
        {
            orgs::add_member(&mut tx, tenant_id, org_id, &row.id, now).await?;
        }
        orgs::set_member_roles(&mut tx, org_id, &row.id, role_ids).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(row)
}
