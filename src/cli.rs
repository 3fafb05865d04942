//! Command-line interface: `serve`, `migrate`, `tenants`, `api-keys`, `users import`,
//! `openapi`. Commands other than `serve` work on the database directly, so they run without a
//! server (and on any node of a multi-node deployment).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use sigil::config::{DEFAULT_DATABASE, DEFAULT_LISTEN, KeySource};
use sigil::manage::api_keys::{self, CreateApiKey};
use sigil::manage::import::import_lines;
use sigil::manage::tenants::{self, CreateTenant};
use sigil::startup::{self, Application, Settings};
use sigil::telemetry::{self, LogFormat};

/// Sigil: OpenID Connect with WebAssembly post-login hooks.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    log_format: LogFormat,
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long = "database", global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies migrations; creates the `default` tenant on first start).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SIGIL_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Public base URL (issuers are {public-url}/t/{tenant}); default http://{listen}.
        #[arg(long, env = "SIGIL_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    Tenants {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage management API keys.
    ApiKeys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document of the management API.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its first API key (last line of stdout).
    Create {
        /// a-z, 0-9 and '-'.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an API key and print it as the last line of stdout.
    Create {
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Make it an operator key (may manage tenants).
        #[arg(long)]
        operator: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Import users from a JSON-lines file (see the README for the line format).
    Import {
        /// The file.
        file: PathBuf,
        /// The tenant to import into.
        #[arg(long)]
        tenant: String,
    },
}

/// Entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(database: &str, listen: SocketAddr) -> Settings {
    let mut s = Settings::new(listen, database);
    s.master_key = std::env::var("SIGIL_MASTER_KEY").ok();
    s
}

async fn offline(database: &str) -> Result<sigil::services::Services> {
    let s = settings(database, DEFAULT_LISTEN.parse()?);
    let public = std::env::var("SIGIL_PUBLIC_URL").ok();
    let public = sigil::config::public_url(public.as_deref(), s.listen)?;
    Ok(startup::services(&s, public).await?.0)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve { listen, public_url } => {
            let mut s = settings(&cli.database, listen);
            s.public_url = public_url;
            let app = Application::build(s).await?;
            if let KeySource::File(path, true) = app.key_source() {
                tracing::warn!(path = %path.display(), "generated a master key; back it up: without it, encrypted secrets cannot be read");
            }
            if let Some(key) = app.bootstrap_key() {
                println!(
                    "Created the tenant `default` and an operator API key. It is shown only this once:\n\n  {}\n",
                    key.key
                );
            }
            tracing::info!(port = app.port(), database = %redact_url(&cli.database), "sigil listening");
            app.run_until_stopped(startup::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            offline(&cli.database).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenants {
            command: TenantCommand::Create { name },
        } => {
            let svc = offline(&cli.database).await?;
            let created = tenants::create(&svc, "cli", CreateTenant { name }).await?;
            println!("tenant {} ({})", created.tenant.name, created.tenant.id);
            println!("issuer {}", created.tenant.issuer);
            println!("api key (shown once):");
            println!("{}", created.api_key.key);
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiKeys {
            command:
                KeyCommand::Create {
                    tenant,
                    name,
                    operator,
                },
        } => {
            let svc = offline(&cli.database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let key = api_keys::create(&svc, &ctx, true, CreateApiKey { name, operator }).await?;
            println!(
                "api key {} for tenant {} (shown once):",
                key.id, ctx.tenant_name
            );
            println!("{}", key.key);
            Ok(ExitCode::SUCCESS)
        }
        Command::Users {
            command: UserCommand::Import { file, tenant },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let svc = offline(&cli.database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let lines: Vec<&str> = text.lines().collect();
            let bar = if std::io::stderr().is_terminal() {
                let b = ProgressBar::new(lines.len() as u64);
                b.set_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {eta} left")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            } else {
                ProgressBar::hidden()
            };
            let report = import_lines(&svc, &ctx, lines.iter().copied(), || bar.inc(1)).await?;
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&sigil::http::openapi())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Hides a password in a database URL before it is logged.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
