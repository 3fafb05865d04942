//! `sigil serve`: the flags become [`Settings`], the library builds and runs the server; this
//! hands the operator what they must see once (the first operator key) and logs the rest.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use sigil::config::SessionPolicy;
use sigil::config::{self, KeySource};
use sigil::crypto::Secret;
use sigil::startup::{self, Application, Settings};

use super::args::{ServeArgs, Target};

/// Builds the server from the flags and serves until SIGINT or SIGTERM.
pub async fn run(target: &Target, args: ServeArgs) -> Result<ExitCode> {
    let app = Application::build(settings(target, args)?).await?;
    if let KeySource::File(path, true) = app.key_source() {
        tracing::warn!(path = %path.display(), "generated a master key; back it up: without it, encrypted secrets cannot be read");
    }
    if let Some(key) = app.bootstrap_key() {
        hand_over_operator_key(&key.key, &target.database)?;
    }
    tracing::info!(
        address = %app.local_addr(),
        database = %config::redact_url(&target.database),
        issuers = %format!("{}/t/{{tenant}}", app.public_url()),
        "sigil listening"
    );
    app.run_until_stopped(startup::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The first start's operator key reaches the operator and nothing else: on a terminal it is
/// printed once; without one (systemd, a container, a pipe) stdout usually ends up in a log
/// store that many people can read, so the key goes to an owner-only file instead and the log
/// names the file, never the key.
fn hand_over_operator_key(key: &str, database: &str) -> Result<()> {
    if std::io::stdout().is_terminal() {
        println!(
            "Created the tenant `default` and an operator API key. It is shown only this once:\n\n  {key}\n"
        );
        return Ok(());
    }
    let path = std::env::var_os("SIGIL_OPERATOR_KEY_FILE")
        .map(Into::into)
        .unwrap_or_else(|| config::operator_key_file(database));
    write_owner_only(&path, key)
        .with_context(|| format!("writing the first operator API key to {}", path.display()))?;
    let shown = std::path::absolute(&path).unwrap_or(path);
    tracing::warn!(
        path = %shown.display(),
        "created the tenant `default` and an operator API key; no terminal to show it on, so it \
         is in this file (readable only by this user): store it somewhere safe, then delete the \
         file (`sigil api-keys create --operator` makes another)"
    );
    Ok(())
}

/// Writes `text` to a new file only its owner may read (mode 0600 from the moment it exists,
/// so no other user can open it in between).
fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // A file already there is left from an earlier database (this one was just created, so
    // its key cannot be in it): replace it, without ever writing through what stands there
    // (a symlink planted by another user, say).
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

/// The server's settings: the flags, and the master key from `SIGIL_MASTER_KEY` and the
/// metrics token from `SIGIL_METRICS_TOKEN` (environment variables only, so they stay out of
/// shell history and process listings).
fn settings(target: &Target, args: ServeArgs) -> Result<Settings> {
    let mut s = Settings::new(target.listen.addr, &target.database);
    s.master_key = std::env::var("SIGIL_MASTER_KEY").ok();
    s.public_url = target
        .public_url
        .clone()
        .or_else(|| target.listen.implied_public_url());
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
        persistent_cookie: !args.session_cookie_only,
    };
    s.max_connections = args.db.db_max_connections;
    s.db_acquire_timeout = Duration::from_millis(args.db.db_acquire_timeout_ms);
    s.request_timeout = Duration::from_millis(args.db.request_timeout_ms);
    s.database_direct_url = args.db.database_direct_url;
    s.sqlite_sync = args.db.sqlite_synchronous;
    s.passwords = args.passwords.hasher()?;
    s.login_lock = args.login_lock.lock()?;
    s.refresh_retry_grace = std::time::Duration::from_secs(args.refresh_retry_grace_seconds);
    s.traces_kept = args.traces_kept;
    s.traces_per_second = args.traces_per_second;
    s.hook_ceilings = args.hook_limits.limits();
    s.hook_pool = args.hook_pool.runtime();
    s.hook_fetch = args.hook_fetch.fetch()?;
    s.hook_fetch_ceilings = args.hook_fetch.ceilings();
    args.compile.apply(&mut s);
    args.node.apply(&mut s);
    Ok(s)
}
