//! What almost every domain call touches: the database, and the clock that stamps what it
//! writes. Domain functions take a [`Db`] (plus whatever else they use, as separate
//! parameters) instead of the whole server, so a signature says what a function reaches.

use crate::clock::SharedClock;
use crate::store::Store;

/// The store and the injected clock, cheap to clone (both are shared handles).
#[derive(Debug, Clone)]
pub struct Db {
    /// The database.
    pub store: Store,
    /// The time source; tests replace it with a manual clock.
    pub clock: SharedClock,
}

impl Db {
    /// Pairs a store with a clock.
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// The current time in epoch milliseconds, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// The issuer identifiers of every tenant, derived from the public base URL (OIDC Discovery 1.0
/// section 3: tenant `x` has the issuer `{public_url}/t/x`).
#[derive(Debug, Clone)]
pub struct Issuers {
    public_url: String,
}

impl Issuers {
    /// From the public base URL (no trailing slash; `config::public_url` checks it).
    pub fn new(public_url: String) -> Self {
        Self { public_url }
    }

    /// The issuer of tenant `tenant` (its name).
    pub fn of(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.public_url)
    }

    /// The public base URL.
    pub fn base(&self) -> &str {
        &self.public_url
    }
}
