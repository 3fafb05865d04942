//! Sigil: an OpenID Connect / OAuth 2 server whose post-login pipeline runs customer-uploaded,
//! sandboxed WebAssembly hooks.
//!
//! # Layout
//! Layers call one way: `http` (axum only) -> domain modules -> `store` (all SQL).
//! - [`http`]: routers, extractors, the JSON error shape, the OpenAPI document.
//! - [`manage`]: the management domain (tenants, API keys, users, organizations, roles,
//!   applications, APIs, import, audit log): validation, transactions, audit entries.
//! - [`store`]: every SQL statement, one dialect-neutral set for SQLite and PostgreSQL.
//! - [`passwords`], [`crypto`], [`metadata`], [`ids`], [`clock`]: the small rules the domain
//!   leans on (argon2id, keyed secret hashes, the metadata merge rule, id format, time).
//! - [`startup`], [`config`], [`telemetry`]: building and running the server.
//! - [`runner`]: the local runner (hooks against an event, no server), shared by
//!   `sigil hooks test`, the tests and the benchmarks.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod flows;
pub mod http;
pub mod ids;
pub mod keys;
#[cfg(test)]
mod layers;
pub mod manage;
pub mod oauth;
pub mod passwords;
pub mod runner;
pub mod scopes;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod templates;
