//! Authenticating a user by password, for the password grant and the hosted login page: the
//! brute-force lock (counted atomically before the compare), one argon2id verification on the
//! bounded pool whatever happens (a dummy hash for unknown users and locked pairs), and one
//! answer for every failure, so neither the message nor the timing tells whether an account
//! exists.

use std::sync::Arc;

use super::OAuthError;
use super::legacy_login::LegacyDeps;
use super::legacy_pace::LegacyPace;
use crate::config::LoginLock;
use crate::crypto::Secret;
use crate::db::Db;
use crate::metrics::{Attempt, LoginFailure, Metrics, SecurityEvent, security_event};
use crate::passwords::{PasswordError, PasswordHasher, Verified};
use crate::store::StoreError;
use crate::store::legacy as legacy_store;
use crate::store::login_failures as failure_store;
use crate::store::users::normalize_email;
use crate::store::users::{self as user_store, UserRow};

/// The one message for every failed password login, whatever the cause (unknown user, wrong
/// password, locked, no password set), so the answer reveals nothing about the account.
pub const WRONG_CREDENTIALS: &str = "Wrong email or password.";

/// What checking a password at login uses: argon2id on its bounded pool, a dummy hash to
/// verify against when there is no real one, the brute-force lock's limits and the attempt
/// counters.
#[derive(Debug)]
pub struct PasswordLogin {
    hasher: PasswordHasher,
    /// The brute-force lock's limits (`--login-max-failures`, `--login-lock-minutes`).
    pub lock: LoginLock,
    /// An argon2id hash of a random password, verified against when a login names an unknown
    /// user (or a locked pair) so that timing does not reveal which accounts exist.
    dummy_hash: String,
    /// Attempts by result and the security events of logins, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// How long the tenants' legacy stores take to answer, replayed by the refusals that do
    /// not ask them.
    pace: LegacyPace,
}

impl PasswordLogin {
    /// Verifies `password` against the dummy hash: what a refused login pays when there is no
    /// real hash to compare, so that it costs what a wrong password does.
    pub(super) async fn spend(&self, password: &str) -> Result<(), LoginRefused> {
        self.hasher
            .verify_bounded(Secret::new(password.to_string()), self.dummy_hash.clone())
            .await
            .map_err(OAuthError::server)?;
        Ok(())
    }

    /// Records how long one of `tenant`'s legacy store calls took.
    pub(super) fn pace_record(&self, tenant: &str, took: std::time::Duration) {
        self.pace.record(tenant, took);
    }

    /// Waits as long as one of `tenant`'s recent legacy store calls took.
    pub(super) async fn pace_wait(&self, tenant: &str) {
        let wait = self.pace.next_wait(tenant);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The argon2id hasher (its bounded pool).
    pub(super) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Makes the dummy hash with the hasher's own parameters, so it costs what a real one does.
    pub fn new(
        hasher: PasswordHasher,
        lock: LoginLock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, PasswordError> {
        let dummy_hash = hasher.hash(crate::crypto::random_secret("").expose())?;
        Ok(Self {
            hasher,
            lock,
            dummy_hash,
            metrics,
            pace: LegacyPace::default(),
        })
    }
}

/// Why a password login did not authenticate, so callers choose their words from the kind and
/// never from an error's text.
#[derive(Debug)]
pub enum LoginRefused {
    /// Unknown user, wrong password, or a locked (user, IP) pair: indistinguishable on purpose.
    WrongCredentials,
    /// The password was right but the user is blocked.
    Blocked,
    /// A failure on our side.
    Server(OAuthError),
}

impl From<OAuthError> for LoginRefused {
    fn from(e: OAuthError) -> Self {
        LoginRefused::Server(e)
    }
}

impl From<crate::store::StoreError> for LoginRefused {
    fn from(e: crate::store::StoreError) -> Self {
        LoginRefused::Server(e.into())
    }
}

impl From<LoginRefused> for OAuthError {
    fn from(r: LoginRefused) -> Self {
        match r {
            LoginRefused::WrongCredentials => OAuthError::InvalidGrant(WRONG_CREDENTIALS.into()),
            LoginRefused::Blocked => OAuthError::InvalidGrant("the user is blocked".into()),
            LoginRefused::Server(e) => e,
        }
    }
}

/// Authenticates a user by email and password: one argon2id verification whatever happens (a
/// dummy hash for unknown users and locked pairs), byte-identical errors for unknown users,
/// wrong passwords and locked pairs. Returns the user and whether the stored hash should be
/// upgraded to argon2id.
///
/// The brute-force lock counts the attempt before the password is compared, in one atomic
/// statement, so parallel guesses each get their own count and at most the lock's
/// `max_failures` of them in a window are ever compared (RFC 6749 10.10, RFC 9700 2.4).
///
/// A login Sigil cannot check itself (an unknown user, or one without a password) goes to the
/// tenant's legacy store when it has one (see [`super::legacy_login`]).
#[allow(clippy::too_many_arguments)]
pub async fn authenticate_user(
    db: &Db,
    login: &PasswordLogin,
    legacy: &LegacyDeps<'_>,
    tenant: (&str, &str),
    username: &str,
    password: &str,
    ip: &str,
) -> Result<(UserRow, bool), LoginRefused> {
    let tenant_id = tenant.0;
    let email = normalize_email(username);
    let user = user_store::get(
        db.store.read().await?.conn(),
        tenant_id,
        user_store::By::Email(&email),
    )
    .await?;
    if let Some(store) =
        super::legacy_login::store_for(db, legacy, tenant_id, user.as_ref()).await?
    {
        let user = super::legacy_login::authenticate(
            db,
            login,
            legacy,
            &store,
            tenant,
            (username, &email),
            password,
            ip,
            user,
        )
        .await?;
        return accepted(db, login, tenant_id, user, ip, false).await;
    }
    let now = db.now();
    let locked = match &user {
        Some(u) => {
            let n = count_attempt(db, login, tenant_id, &Counter::User(&u.id), ip, now).await?;
            n > login.lock.max_failures()
        }
        None => false,
    };
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .filter(|_| !locked)
        .unwrap_or_else(|| login.dummy_hash.clone());
    let verified = login
        .hasher
        .verify_bounded(crate::crypto::Secret::new(password.to_string()), stored)
        .await
        .map_err(OAuthError::server)?;
    let user = match (user, verified) {
        (Some(u), Verified::Yes | Verified::YesRehash) if u.password_hash.is_some() && !locked => u,
        (user, _) => {
            login.metrics.attempt(if locked {
                Attempt::Locked
            } else {
                Attempt::Wrong
            });
            let reason = match &user {
                None => LoginFailure::UnknownUser,
                Some(_) if locked => LoginFailure::Locked,
                Some(u) if u.password_hash.is_none() => LoginFailure::NoPassword,
                Some(_) => LoginFailure::WrongPassword,
            };
            security_event!(
                login.metrics,
                SecurityEvent::LoginFailed(reason),
                tenant = tenant_id,
                user = user.as_ref().map(|u| u.id.as_str()),
                ip = ip,
                "password login failed"
            );
            // In a tenant with a legacy store, a refusal that did not ask it waits as long as
            // asking takes (see `legacy_pace`), so a migrated user's name looks like any other.
            if crate::store::legacy::get(db.store.read().await?.conn(), tenant_id)
                .await?
                .is_some()
            {
                login.pace_wait(tenant_id).await;
            }
            return Err(LoginRefused::WrongCredentials);
        }
    };
    accepted(
        db,
        login,
        tenant_id,
        user,
        ip,
        verified == Verified::YesRehash,
    )
    .await
}

/// Whose counter a password attempt is counted on.
pub(super) enum Counter<'a> {
    /// A user Sigil has.
    User(&'a str),
    /// A login name only the legacy store may know: its keyed hash.
    Subject(&'a str),
}

/// Counts one password attempt on its counter and returns the attempts in the window, this
/// one included. The count is one atomic statement, so parallel guesses each get their own
/// count and exactly one attempt sees the limit crossed (RFC 6749 10.10, RFC 9700 2.4).
pub(super) async fn count_attempt(
    db: &Db,
    login: &PasswordLogin,
    tenant_id: &str,
    counter: &Counter<'_>,
    ip: &str,
    now: i64,
) -> Result<i64, LoginRefused> {
    let window_ms = login.lock.window_ms();
    let mut tx = db.store.begin_write().await?;
    let n = match counter {
        Counter::User(id) => {
            failure_store::count_attempt(&mut tx, tenant_id, id, ip, now, window_ms).await?
        }
        Counter::Subject(s) => {
            legacy_store::count_attempt(&mut tx, tenant_id, s, ip, now, window_ms).await?
        }
    };
    tx.commit().await.map_err(StoreError::from)?;
    if n == login.lock.max_failures() + 1 {
        let user = match counter {
            Counter::User(id) => Some(*id),
            Counter::Subject(_) => None,
        };
        security_event!(
            login.metrics,
            SecurityEvent::LockEngaged,
            tenant = tenant_id,
            user = user,
            ip = ip,
            "brute-force lock engaged"
        );
    }
    Ok(n)
}

/// A verified password: the user's attempts forgotten, then the block checked (a blocked user
/// learns the password was right only after it was).
async fn accepted(
    db: &Db,
    login: &PasswordLogin,
    tenant_id: &str,
    user: UserRow,
    ip: &str,
    rehash: bool,
) -> Result<(UserRow, bool), LoginRefused> {
    login.metrics.attempt(Attempt::Ok);
    let mut tx = db.store.begin_write().await?;
    failure_store::clear_attempts(&mut tx, &user.id, ip).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    if user.blocked {
        security_event!(login.metrics, SecurityEvent::LoginFailed(LoginFailure::Blocked),
            tenant = tenant_id, user = %user.id, ip = ip, "password login failed");
        return Err(LoginRefused::Blocked);
    }
    Ok((user, rehash))
}
