//! The server's parts, built once at start-up and handed to the HTTP layer as its state (no
//! globals). Only `http`, `startup` and the CLI see [`Services`]: a handler picks out the
//! parts a domain call uses and passes those ([`crate::db::Db`], the hasher, the keys...), so
//! a domain function's signature says what it touches. The master key is not here: the parts
//! that need a key hold one derived from it, and the master key itself is dropped once they
//! are built.

use std::sync::Arc;

use crate::crypto::{MasterKey, SecretHasher};
use crate::db::{Db, Issuers};
use crate::flows::Hooks;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::oauth::user_auth::PasswordLogin;
use crate::oauth::{Checking, Issuing};
use crate::passwords::PasswordHasher;

/// Shared, cheaply clonable handle to Sigil's parts.
#[derive(Debug, Clone)]
pub struct Services(Arc<Inner>);

/// What [`Services`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database and the injected clock.
    pub db: Db,
    /// Keyed hashing of API keys, client secrets, codes, refresh tokens and session cookies.
    pub secrets: SecretHasher,
    /// argon2id on a bounded pool, for passwords set through management.
    pub passwords: PasswordHasher,
    /// Password logins: argon2id, the dummy hash for unknown users, the attempt counters.
    pub password_login: PasswordLogin,
    /// The issuer identifier of every tenant.
    pub issuers: Issuers,
    /// The hook runtime and what managing hooks needs.
    pub hooks: Hooks,
    /// Per-tenant signing keys, parsed once.
    pub keys: KeyRing,
    /// Proxies whose `X-Forwarded-For` is believed (the client IP feeds the brute-force lock).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser login session lifetimes.
    pub sessions: crate::config::SessionPolicy,
    /// Parsed JWT templates.
    pub templates: crate::templates::cache::TemplateCache,
    /// The metrics registry `/metrics` renders (the hook side and password logins hold it
    /// too).
    pub metrics: Arc<Metrics>,
    /// The refresh retry grace window (see [`crate::oauth::refresh`]), in milliseconds.
    pub refresh_retry_grace_ms: i64,
    /// Whether the node is ready for traffic: the hooks' warm-up and the drain (`/readyz`).
    pub health: crate::health::Health,
}

/// Operator settings of the login endpoints.
#[derive(Debug, Clone, Default)]
pub struct LoginPolicy {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser login session lifetimes.
    pub sessions: crate::config::SessionPolicy,
    /// The brute-force lock's limits.
    pub lock: crate::config::LoginLock,
    /// How long after a refresh token's rotation presenting it again is a retry of a lost
    /// answer, not reuse (see [`crate::oauth::refresh`]).
    pub refresh_retry_grace: std::time::Duration,
}

impl Services {
    /// Builds the parts. The master key is consumed: the secret hasher and the signing-key
    /// sealer get keys derived from it. Fails when the dummy password hash cannot be made
    /// (see [`PasswordLogin`]): starting without it would make unknown users answer faster.
    pub fn new(
        db: Db,
        master: MasterKey,
        passwords: PasswordHasher,
        public_url: String,
        hooks: Hooks,
        login: LoginPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, crate::passwords::PasswordError> {
        let keys = KeyRing::for_master(&master);
        let secrets = SecretHasher::new(&master);
        // `master` ends here: nothing built below can reach it.
        Ok(Self(Arc::new(Inner {
            db,
            secrets,
            password_login: PasswordLogin::new(passwords.clone(), login.lock, metrics.clone())?,
            passwords,
            keys,
            issuers: Issuers::new(public_url),
            hooks,
            trusted_proxies: login.trusted_proxies,
            sessions: login.sessions,
            templates: Default::default(),
            metrics,
            refresh_retry_grace_ms: i64::try_from(login.refresh_retry_grace.as_millis())
                .unwrap_or(i64::MAX),
            health: Default::default(),
        })))
    }

    /// What the grants and the post-login pipeline use to issue tokens.
    pub fn issuing(&self) -> Issuing<'_> {
        Issuing {
            db: &self.db,
            secrets: &self.secrets,
            keys: &self.keys,
            issuers: &self.issuers,
            hooks: &self.hooks,
            templates: &self.templates,
            passwords: &self.passwords,
            metrics: &self.metrics,
            refresh_retry_grace_ms: self.refresh_retry_grace_ms,
        }
    }

    /// What the endpoints that check a presented token use.
    pub fn checking(&self) -> Checking<'_> {
        Checking {
            db: &self.db,
            secrets: &self.secrets,
            keys: &self.keys,
            issuers: &self.issuers,
        }
    }

    /// The node's per-tenant caches, for the change feed to invalidate.
    pub fn caches(&self) -> crate::invalidation::Caches<'_> {
        crate::invalidation::Caches {
            flows: &self.hooks.flows,
            templates: &self.templates,
            keys: &self.keys,
            rows: self.db.store.hot(),
        }
    }

    /// Current time in epoch milliseconds.
    pub fn now(&self) -> i64 {
        self.db.now()
    }
}

impl std::ops::Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
