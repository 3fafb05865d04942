//! `sigil serve`: the flags become [`Settings`], the library builds and runs the server; this
//! prints what the operator must see once (the first operator key) and logs the rest.

use std::process::ExitCode;

use anyhow::Result;

use sigil::config::SessionPolicy;
use sigil::config::{self, KeySource};
use sigil::crypto::Secret;
use sigil::startup::{self, Application, Settings};

use super::args::ServeArgs;

/// Builds the server from the flags and serves until SIGINT or SIGTERM.
pub async fn run(database: &str, args: ServeArgs) -> Result<ExitCode> {
    let app = Application::build(settings(database, args)?).await?;
    if let KeySource::File(path, true) = app.key_source() {
        tracing::warn!(path = %path.display(), "generated a master key; back it up: without it, encrypted secrets cannot be read");
    }
    if let Some(key) = app.bootstrap_key() {
        println!(
            "Created the tenant `default` and an operator API key. It is shown only this once:\n\n  {}\n",
            key.key
        );
    }
    tracing::info!(port = app.port(), database = %config::redact_url(database), "sigil listening");
    app.run_until_stopped(startup::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The server's settings: the flags, and the master key from `SIGIL_MASTER_KEY` and the
/// metrics token from `SIGIL_METRICS_TOKEN` (environment variables only, so they stay out of
/// shell history and process listings).
fn settings(database: &str, args: ServeArgs) -> Result<Settings> {
    let mut s = Settings::new(args.listen, database);
    s.master_key = std::env::var("SIGIL_MASTER_KEY").ok();
    s.public_url = args.public_url;
    s.trusted_proxies = args.trusted_proxies;
    s.metrics_listen = args.metrics_listen;
    s.metrics_tenant_labels = args.metrics_tenant_labels;
    // Like the master key, the metrics token comes from the environment only.
    s.metrics_token = std::env::var("SIGIL_METRICS_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new);
    s.sessions = SessionPolicy {
        idle_ms: args.session_idle_hours * 3600 * 1000,
        absolute_ms: args.session_lifetime_hours * 3600 * 1000,
    };
    s.max_connections = args.db.db_max_connections;
    s.passwords = args.passwords.hasher()?;
    s.hook_ceilings = args.hook_limits.limits();
    s.hook_pool = args.hook_pool.runtime();
    args.compile.apply(&mut s);
    Ok(s)
}
