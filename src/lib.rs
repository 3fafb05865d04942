//! Sigil: an OpenID Connect / OAuth 2 server whose post-login pipeline runs customer-uploaded,
//! sandboxed WebAssembly hooks.
//!
//! # Layout
//! Layers call one way (`docs/architecture.md`; `layers.rs` tests it, and the hook host is a
//! crate of its own, `sigil_hooks`, so it cannot call back):
//! `http` -> {`manage`, `oauth`} -> {`flows`, `templates`, `keys`, `db`, `sigil_hooks`} ->
//! `store` -> the leaves.
//! - [`http`]: routers, extractors, the JSON error shape, the OpenAPI document; the browser
//!   pages of the code flow (`http::browser`).
//! - [`manage`]: the management domain (tenants, API keys, users, organizations, roles,
//!   applications, APIs, templates, signing keys, hooks, import, audit log): validation,
//!   transactions, audit entries.
//! - [`oauth`]: the protocol domain: the grants, the browser flow, the post-login pipeline
//!   (`oauth::pipeline`), every token's claims (`oauth::claims`), signing, `/userinfo`,
//!   revocation, introspection, logout, sessions, discovery.
//! - [`services`]: the server's parts, the HTTP layer's state; handlers pass domain calls only
//!   the parts they use.
//! - [`flows`]: a tenant's hooks as the server runs them: loaded from the store, prepared,
//!   run with metrics and traces; the post-login event built from the store.
//! - [`health`]: whether the node is ready for traffic (`/readyz`): the database and schema
//!   checks, the warm-up of the tenants' bound hooks at start, the drain on shutdown.
//! - [`db`]: the store paired with the injected clock, and the tenants' issuer names: what
//!   almost every domain call takes.
//! - [`templates`]: JWT templates (parse, validate, render, cache).
//! - [`keys`]: signing keys (generation, sealing, rotation, JWKS).
//! - [`store`]: every SQL statement, one dialect-neutral set for SQLite and PostgreSQL, one
//!   module per aggregate; rows decoded once into typed values, writes only through the write
//!   transaction.
//! - [`crypto`], [`clock`], [`ids`], [`scopes`], [`passwords`], [`config`], [`metrics`],
//!   [`fields`]: the leaves (keyed hashes, sealing and `Secret`; injected time; id format; the scope parser;
//!   argon2id on a bounded pool; operator settings; the Prometheus registry and the security
//!   events; the field checks the API and the login path share).
//! - [`root_key`]: the data key every stored secret derives from, kept sealed under each
//!   master key allowed to open it (master-key rotation).
//! - [`invalidation`]: the node's caches (flows, templates, keys) dropped when the database's
//!   change feed announces a change, so every node of a cluster sees it at once.
//! - [`startup`], [`telemetry`]: building and running the server (the `sigil` binary's CLI
//!   lives in `src/cli`).
//! - [`runner`]: the local runner (hooks against an event, no server), shared by
//!   `sigil hooks test`, the tests and the benchmarks.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod fields;
pub mod flows;
pub mod health;
pub mod http;
pub mod ids;
pub mod invalidation;
pub mod keys;
#[cfg(test)]
mod layers;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod passwords;
pub mod root_key;
pub mod runner;
pub mod scopes;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod templates;
