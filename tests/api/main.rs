//! Integration tests: the real server on port 0, a fresh database per test, HTTP only.
//! Every test runs on SQLite and on PostgreSQL.

// These tests measure real elapsed time (the server under test takes its time from the
// injected clock), so the workspace's ban on `Instant::now` does not apply to them.
#![allow(clippy::disallowed_methods)]

mod helpers;

mod apps;
mod attacks;
mod audit;
mod auth;
mod browser;
mod cli;
mod client_grants;
mod cluster;
mod cluster_script;
mod code_flow;
mod corruption;
mod dashboard;
mod dashboard_page;
mod discovery;
mod fetch;
mod fetch_tls;
mod grants;
mod hooks;
mod import;
mod introspection;
mod isolation;
mod legacy;
mod lifecycle;
mod metadata_keys;
mod observability;
mod oidc_client;
mod orgs;
mod outage;
mod pgbouncer;
mod platform;
mod revocation;
mod roles_apis;
mod sandbox;
mod schema;
mod signing_keys;
mod templates;
mod traces;
mod userinfo;
mod users;
