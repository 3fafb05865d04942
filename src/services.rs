//! The services every layer above the store shares, built once at start-up and passed down
//! explicitly (no globals): the store, the secret hasher, the password hasher and the clock.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::crypto::{MasterKey, SecretHasher};
use crate::flows::Hooks;
use crate::keys::KeyRing;
use crate::passwords::PasswordHasher;
use crate::store::Store;

/// Shared, cheaply clonable handle to Sigil's services.
#[derive(Debug, Clone)]
pub struct Services(Arc<Inner>);

/// What [`Services`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub store: Store,
    /// Keyed hashing of API keys and client secrets.
    pub secrets: SecretHasher,
    /// argon2id for passwords.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: SharedClock,
    /// Root key; later issues derive encryption keys from it.
    pub master: MasterKey,
    /// Public base URL; tenant `x` has the issuer `{public_url}/t/x`.
    pub public_url: String,
    /// The hook runtime and what managing hooks needs.
    pub hooks: Hooks,
    /// Per-tenant signing keys, parsed once.
    pub keys: KeyRing,
    /// An argon2id hash of a random password, verified against when a login names an unknown
    /// user so that timing does not reveal which accounts exist.
    pub dummy_hash: String,
    /// Proxies whose `X-Forwarded-For` is believed (the client IP feeds the brute-force lock).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser login session lifetimes.
    pub sessions: crate::config::SessionPolicy,
    /// Parsed JWT templates.
    pub templates: crate::templates::cache::TemplateCache,
    /// Password-attempt counters for `/metrics`.
    pub login_metrics: crate::oauth::metrics::LoginMetrics,
}

/// Operator settings of the login endpoints.
#[derive(Debug, Clone, Default)]
pub struct LoginPolicy {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser login session lifetimes.
    pub sessions: crate::config::SessionPolicy,
}

impl Services {
    /// Bundles the services. Fails when the dummy password hash cannot be made (see
    /// [`Inner::dummy_hash`]): starting without it would make unknown users answer faster.
    pub fn new(
        store: Store,
        master: MasterKey,
        passwords: PasswordHasher,
        clock: SharedClock,
        public_url: String,
        hooks: Hooks,
        login: LoginPolicy,
    ) -> Result<Self, crate::passwords::PasswordError> {
        let keys = KeyRing::new(crate::crypto::Sealer::new(&master, "signing-keys"));
        let dummy_hash = passwords.hash(crate::crypto::random_secret("").expose())?;
        Ok(Self(Arc::new(Inner {
            secrets: SecretHasher::new(&master),
            store,
            passwords,
            clock,
            master,
            keys,
            dummy_hash,
            public_url,
            hooks,
            trusted_proxies: login.trusted_proxies,
            sessions: login.sessions,
            templates: Default::default(),
            login_metrics: Default::default(),
        })))
    }

    /// The issuer identifier of a tenant (OIDC Discovery 1.0 section 3).
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.0.public_url)
    }

    /// Current time in epoch milliseconds.
    pub fn now(&self) -> i64 {
        self.0.clock.now_ms()
    }
}

impl std::ops::Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
