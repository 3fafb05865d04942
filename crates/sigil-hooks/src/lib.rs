//! Sigil's hook host: customer WebAssembly components run on every login, sandboxed by
//! wasmtime.
//!
//! This crate knows nothing of OAuth, management, HTTP or SQL. The server hands it component
//! bytes, stored artifacts, settings and events; it hands back prepared hooks and outcomes. The
//! server's `flows` module loads what it runs from the database, and `manage::hooks` manages
//! hooks; neither is reachable from here, so the layering cannot be broken by accident.
//!
//! # Layout
//! - `wit/` (repository root) is the contract; [`bindings`] binds each released version.
//! - [`engine`]: the one process-wide `Engine` (pooling allocator, fuel, epoch interruption)
//!   and its epoch ticker thread.
//! - [`upload`]: validation of uploaded bytes (size, component or core module, allowed
//!   imports, world version) before anything is stored; [`compile`] compiles in a child process
//!   bounded in memory and time, and authenticates stored artifacts; [`admission`] caps compile
//!   workers server-wide and uploads per tenant.
//! - [`host`]: what a hook's imports do, with the limits they enforce at call time (0.1.0's;
//!   [`contract_0_2`] adds 0.2.0's `secret`, `http` and `cache`, through [`fetch`] and
//!   [`cache`]);
//!   [`claims`]: the closed list of claims a hook may not set; [`metadata`]: the metadata
//!   rules a hook's write is checked against (the same the management API applies).
//! - [`prepare`]: type-checked components ready to instantiate, cached in a bounded LRU
//!   ([`caches`]); [`invoke`]: one fresh `Store` per invocation; [`pool`]: the dedicated
//!   threads guests run on ([`io_pool`]: the runtime flows with asynchronous hooks run on;
//!   [`inline`]: cheap flows run where they were admitted); [`runtime`]: admission with
//!   per-tenant caps and where a flow runs ([`running`]: a flow's admission, given back while a
//!   fetch waits) ([`runtime::HookRuntime::run_flow`]: an event in, an
//!   [`outcome::FlowOutcome`] out); [`flow`]: a flow's hooks run in order under its one
//!   wall-clock budget; [`flow_cache`]: loaded flows per tenant.
//! - [`event`]: the post-login event; [`limits`]: what an invocation may use; [`error`]: how
//!   it fails (the server counts runs and their durations in its own metrics registry, from
//!   each [`outcome::HookTrace`]).

// The host measures durations and sets wasmtime's epoch deadlines with the monotonic
// `Instant`, which the workspace's clippy.toml bans elsewhere in favour of the injected clock:
// nothing here decides by the date, and a deadline must follow real time, not a test's clock.
#![allow(clippy::disallowed_methods)]

pub mod admission;
pub mod bindings;
pub mod cache;
pub mod caches;
pub mod claims;
pub mod compile;
pub mod contract_0_2;
pub mod engine;
pub mod error;
pub mod event;
pub mod fetch;
pub mod flow;
pub mod flow_cache;
pub mod flow_step;
pub mod host;
pub mod inline;
pub mod invoke;
pub mod io_pool;
pub mod limits;
pub mod metadata;
pub mod outcome;
pub mod pool;
pub mod prepare;
pub mod running;
pub mod runtime;
pub mod upload;
pub mod user_store;

pub use error::HookError;
pub use limits::{DEFAULT_FLOW_DEADLINE_MS, FetchCeilings, LimitOverrides, Limits};
