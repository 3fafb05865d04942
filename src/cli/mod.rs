//! The `sigil` command line: parses arguments, calls the library, prints what it returns.
//! Nothing here decides anything a test of the library would need to cover.
//!
//! # Layout
//! - [`args`]: every command and argument (what `--help` prints); [`settings`]: the operator
//!   settings as flags and environment variables; [`values`]: value syntaxes with rules of
//!   their own (flow bindings, hook secrets), each a `FromStr` with unit tests.
//! - [`serve`]: `serve`; [`admin`]: `migrate`, `tenants`, `api-keys`, `users import`,
//!   `users lock`, `client-grants`, `keys`, `openapi`; [`hooks`]: `hooks ...` (the local
//!   runner and hook management); [`templates`]: `templates ...`.
//!
//! Two commands run before anything else exists in the process: the compile worker (so its
//! address-space limit covers only the compiler) and `hooks test` (the local runner needs no
//! database and no async runtime, and must not run inside one).

mod admin;
mod args;
mod dashboard;
mod hook_args;
mod hooks;
mod legacy_store;
mod master_key;
mod serve;
mod settings;
mod templates;
mod values;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use args::{Cli, Command, HookCommand, Target};
use sigil::config;
use sigil::crypto::{MasterKey, SecretHasher};
use sigil::db::{Db, Issuers};
use sigil::flows::Hooks;
use sigil::keys::KeyRing;
use sigil::startup::{self, Settings};
use sigil::telemetry;
use sigil::templates::cache::TemplateCache;

/// Entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Hooks {
        command: HookCommand::CompileWorker(args),
    } = &cli.command
    {
        return hooks::compile_worker(args);
    }
    telemetry::init(cli.log_format);
    if let Command::Hooks {
        command: HookCommand::Test(args),
    } = cli.command
    {
        return report(hooks::test(*args));
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(cli.target, cli.command));
    // Dropping the runtime would wait for every blocking task to return (an argon2id hash, a
    // compile worker) however long it takes; `serve` has already drained within its bound, so
    // what is left is abandoned.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    report(result)
}

/// Prints the error of a failed command (with its causes) to stderr.
fn report(result: Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

async fn run(target: Target, command: Command) -> Result<ExitCode> {
    let database = &target;
    match command {
        Command::Serve(args) => serve::run(&target, *args).await,
        Command::Migrate => admin::migrate(database).await,
        Command::Tenants { command } => admin::tenants(database, command).await,
        Command::ApiKeys { command } => admin::api_keys(database, command).await,
        Command::Users { command } => admin::users(database, command).await,
        Command::ClientGrants { command } => admin::client_grants(database, command).await,
        Command::Keys { command } => admin::keys(database, command).await,
        Command::MasterKey { command } => master_key::run(database, command).await,
        Command::Openapi => admin::openapi(),
        Command::Hooks {
            command: HookCommand::Manage(command),
        } => hooks::manage(database, command).await,
        Command::Hooks {
            command: HookCommand::Test(_) | HookCommand::CompileWorker(_),
        } => unreachable!("`main` runs these before the async runtime exists"),
        Command::Templates { command } => templates::run(database, command).await,
        Command::LegacyStore { command } => legacy_store::run(database, command).await,
    }
}

/// Settings for a command that works on the database directly: the defaults, with the master
/// key from `SIGIL_MASTER_KEY`.
fn offline_settings(target: &Target) -> Settings {
    let mut s = Settings::new(target.listen.addr, &target.database);
    s.master_key = std::env::var("SIGIL_MASTER_KEY").ok();
    s.public_url = target
        .public_url
        .clone()
        .or_else(|| target.listen.implied_public_url());
    s
}

/// What the commands that work on the database directly use: the database, keyed hashing,
/// the issuer names (under `SIGIL_PUBLIC_URL`), signing keys and templates. No hook
/// runtime: a wasm engine reserves gigabytes of address space and starts threads, so only the
/// hook commands build one ([`Offline::hooks`]).
struct Offline {
    db: Db,
    secrets: SecretHasher,
    issuers: Issuers,
    keys: KeyRing,
    templates: TemplateCache,
    settings: Settings,
    master: MasterKey,
}

impl Offline {
    /// The hook runtime and what managing hooks needs.
    fn hooks(&self) -> Result<Hooks> {
        Ok(startup::hooks(
            &self.settings,
            &self.db.store,
            &self.master,
        )?)
    }
}

/// Connects to the (migrated) database and builds the parts the offline commands use.
async fn offline(settings: &Settings) -> Result<Offline> {
    existing_sqlite(settings)?;
    let public = config::public_url(settings.public_url.as_deref(), settings.listen)?;
    let connected = startup::connect(settings).await?;
    Ok(Offline {
        db: Db::new(connected.store, settings.clock.clone()),
        secrets: SecretHasher::new(&connected.master),
        issuers: Issuers::new(public),
        keys: KeyRing::for_master(&connected.master),
        templates: TemplateCache::default(),
        settings: settings.clone(),
        master: connected.master,
    })
}

/// The admin commands work on a database that exists: they never create one, nor a master key
/// (only `serve` and `migrate` do). A missing SQLite file, or a missing key file beside it when
/// `SIGIL_MASTER_KEY` is not set, is an error naming the path looked at and how to point at the
/// right one, instead of a new empty database (or a new key that opens none of the old
/// secrets) in whatever directory the command ran from.
fn existing_sqlite(settings: &Settings) -> Result<()> {
    let Some(path) = sigil::store::sqlite_path(&settings.database_url) else {
        return Ok(()); // PostgreSQL (the server refuses an unknown database) or in-memory
    };
    let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    if !path.exists() {
        anyhow::bail!(
            "no database at {} (from {}); point at it with --database or DATABASE_URL, or create \
             it with `sigil migrate`",
            shown.display(),
            settings.database_url
        );
    }
    if settings
        .master_key
        .as_deref()
        .is_none_or(|k| k.trim().is_empty())
    {
        let key = config::master_key_file(&settings.database_url);
        if !key.exists() {
            let shown = std::path::absolute(&key).unwrap_or(key);
            anyhow::bail!(
                "no master key at {} (the database's secrets need the key it was created \
                 with); set SIGIL_MASTER_KEY, or put the key file back",
                shown.display()
            );
        }
    }
    Ok(())
}

/// Prints `value` as pretty JSON on stdout.
///
/// A reader that went away (`sigil openapi | head`) ends the command quietly with status 0,
/// like other Unix tools, instead of the panic `println!` would raise.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value)?;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        written => Ok(written?),
    }
}

/// Reads a file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads a file as text ("-" reads stdin), naming it in the error.
fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Reads a JSON file ("-" reads stdin).
fn read_json(path: &Path) -> Result<serde_json::Value> {
    serde_json::from_str(&read_text(path)?)
        .with_context(|| format!("{} is not JSON", path.display()))
}
