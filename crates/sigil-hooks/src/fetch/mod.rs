//! Contract 0.2.0's `fetch`: a hook's way out to its customer's systems, which the host
//! enforces so that the hook never has to be trusted.
//!
//! - [`allow`]: the hook's allow-list (hosts, path prefixes, methods), set with the hook.
//! - [`request`]: the request checked against it (HTTPS only unless the operator allows plain
//!   HTTP, no IP literals, no credentials in the URL, no framing headers), secrets substituted
//!   into headers, sizes capped.
//! - [`address`]: the address rules (no loopback, private, link-local, metadata... unless the
//!   operator allows a range).
//! - [`client`]: resolution by the host, every address checked, the connection to a checked
//!   address, TLS, one HTTP/1.1 exchange under the deadline and the response cap.
//! - [`breaker`]: a circuit breaker per tenant and destination.

use std::collections::HashMap;
use std::net::IpAddr;

use address::AllowedRanges;
use breaker::{BreakerSettings, Breakers};
use client::Client;

use crate::cache::{HookCache, HookCacheBounds};

pub mod address;
pub mod allow;
pub mod breaker;
pub mod client;
pub mod request;
pub mod tape;

/// Why a fetch gave no response (contract 0.2.0's `fetch-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Refused before any connection; the text names the rule.
    #[error("denied: {0}")]
    Denied(String),
    /// No answer in the time allowed.
    #[error("timed out")]
    Timeout,
    /// The request or the response is over its size limit.
    #[error("over the size limit")]
    TooLarge,
    /// The connection failed.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The TLS handshake failed.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The destination's circuit is open.
    #[error("the destination's circuit is open")]
    CircuitOpen,
    /// The invocation made as many requests as it may.
    #[error("this invocation's fetches are used up")]
    BudgetExhausted,
}

impl FetchError {
    /// The short name a trace and the metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Denied(_) => "denied",
            FetchError::Timeout => "timeout",
            FetchError::TooLarge => "too_large",
            FetchError::Connect(_) => "connect",
            FetchError::Tls(_) => "tls",
            FetchError::CircuitOpen => "circuit_open",
            FetchError::BudgetExhausted => "budget_exhausted",
        }
    }

    /// What the error says beyond its kind (the rule that denied it, the connection's or the
    /// handshake's failure).
    pub fn detail(&self) -> Option<&str> {
        match self {
            FetchError::Denied(m) | FetchError::Connect(m) | FetchError::Tls(m) => Some(m),
            _ => None,
        }
    }

    /// Whether it counts against the destination's breaker (the destination failed, rather
    /// than the hook's request being refused).
    pub fn is_destination_failure(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout | FetchError::Connect(_) | FetchError::Tls(_)
        )
    }
}

/// The operator's settings for hooks' fetches (and their cache).
#[derive(Debug, Clone, Default)]
pub struct FetchSettings {
    /// Plain `http://` to allow-listed hosts (tests against a local mock; never production).
    pub allow_http: bool,
    /// Address ranges hooks may reach despite the address rules.
    pub ranges: AllowedRanges,
    /// Names resolved to fixed addresses instead of by the system resolver.
    pub resolve: HashMap<String, Vec<IpAddr>>,
    /// Certificates trusted beside the public roots (DER).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Fetches one invocation may make.
    pub max_per_invocation: u32,
    /// The breakers' settings.
    pub breaker: BreakerSettings,
    /// The cache's bounds.
    pub cache: HookCacheBounds,
    /// Recording or replaying fetches (the local runner's `--record` and `--replay`).
    pub tape: Option<std::sync::Arc<tape::Tape>>,
}

impl FetchSettings {
    /// The defaults: HTTPS only, the address rules without exceptions, 10 fetches an
    /// invocation, the default breaker and cache bounds.
    pub fn new() -> Self {
        Self {
            max_per_invocation: DEFAULT_MAX_FETCHES,
            ..Self::default()
        }
    }
}

/// Fetches one invocation may make by default.
pub const DEFAULT_MAX_FETCHES: u32 = 10;

/// What the settings say about a request, per invocation.
#[derive(Debug, Clone, Copy)]
pub struct PerRequest {
    /// See [`FetchSettings::allow_http`].
    pub allow_http: bool,
    /// See [`FetchSettings::max_per_invocation`].
    pub max_per_invocation: u32,
}

/// The node's fetch client, breakers and hook cache, shared by every invocation.
#[derive(Debug)]
pub struct Fetcher {
    client: Client,
    breakers: Breakers,
    cache: HookCache,
    per_request: PerRequest,
    tape: Option<std::sync::Arc<tape::Tape>>,
}

impl Fetcher {
    /// Builds the client (its TLS roots) from `settings`.
    pub fn new(settings: FetchSettings) -> Result<Self, String> {
        Ok(Self {
            client: Client::new(settings.ranges, settings.resolve, settings.extra_roots)?,
            breakers: Breakers::new(settings.breaker, 10_000),
            cache: HookCache::new(settings.cache),
            per_request: PerRequest {
                allow_http: settings.allow_http,
                max_per_invocation: settings.max_per_invocation,
            },
            tape: settings.tape,
        })
    }

    /// The HTTP client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The circuit breakers.
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// The hook cache.
    pub fn cache(&self) -> &HookCache {
        &self.cache
    }

    /// The recording or replay, when there is one.
    pub fn tape(&self) -> Option<&tape::Tape> {
        self.tape.as_deref()
    }

    /// The per-request settings.
    pub fn settings(&self) -> PerRequest {
        self.per_request
    }
}
