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
use sigil::hooks::admission::UploadRate;
use sigil::hooks::caches::CacheBounds;
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
        /// A reverse proxy whose X-Forwarded-For is trusted (repeatable; env: comma-separated).
        #[arg(
            long = "trusted-proxy",
            env = "SIGIL_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Hours a browser login session may stay unused before it ends.
        #[arg(long, env = "SIGIL_SESSION_IDLE_HOURS", default_value_t = 72)]
        session_idle_hours: i64,
        /// Hours after which a browser login session ends, used or not.
        #[arg(long, env = "SIGIL_SESSION_LIFETIME_HOURS", default_value_t = 168)]
        session_lifetime_hours: i64,
        #[command(flatten)]
        compile: CompileFlags,
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
    /// Hooks: the local test runner, upload, deploy, the flow, secrets, traces.
    Hooks {
        #[command(subcommand)]
        command: HookCommand,
    },
    /// Rotate a tenant's signing keys (`sigil keys rotate --tenant acme --alg RS256`).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage JWT templates (declarative custom claims; see docs/jwt-templates.md).
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Print the OpenAPI document of the management API.
    Openapi,
}

/// Limits on hook uploads, compilation and the runtime's memory (docs/hooks.md, "Uploads and
/// compilation").
#[derive(Debug, clap::Args)]
struct CompileFlags {
    /// Compile workers that may run at once, server-wide [default: half the cores, at least 1].
    #[arg(long, env = "SIGIL_COMPILE_WORKERS", value_parser = at_least_one())]
    compile_workers: Option<usize>,
    /// Hook uploads one tenant may make back to back.
    #[arg(long, env = "SIGIL_HOOK_UPLOAD_BURST", default_value_t = UploadRate::default().burst,
          value_parser = clap::value_parser!(u32).range(1..))]
    hook_upload_burst: u32,
    /// Hook uploads one tenant may make per minute after its burst.
    #[arg(long, env = "SIGIL_HOOK_UPLOADS_PER_MINUTE", default_value_t = UploadRate::default().per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    hook_uploads_per_minute: u32,
    /// Prepared hook versions kept in memory (the least recently used are dropped, and
    /// prepared again from their stored artifact when next needed).
    #[arg(long, env = "SIGIL_HOOK_CACHE_ENTRIES", default_value_t = CacheBounds::PREPARED,
          value_parser = at_least_one())]
    hook_cache_entries: usize,
    /// Tenants whose hook admission semaphore is kept in memory (idle ones beyond this are
    /// dropped).
    #[arg(long, env = "SIGIL_HOOK_TENANT_ENTRIES", default_value_t = CacheBounds::TENANTS,
          value_parser = at_least_one())]
    hook_tenant_entries: usize,
}

impl CompileFlags {
    fn apply(&self, s: &mut Settings) {
        if let Some(n) = self.compile_workers {
            s.compiler.workers = n;
        }
        s.upload_rate = UploadRate {
            burst: self.hook_upload_burst,
            per_minute: self.hook_uploads_per_minute,
        };
        s.hook_caches = CacheBounds {
            prepared: self.hook_cache_entries,
            tenants: self.hook_tenant_entries,
        };
    }
}

fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

#[derive(Debug, Subcommand)]
enum TemplatesCommand {
    /// Print the saved templates (the tenant's, or an application's overrides).
    Get {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// An application's overrides instead of the tenant's defaults.
        #[arg(long)]
        client: Option<String>,
    },
    /// Validate and save a template from a JSON file ("-" reads stdin).
    Set {
        /// access_token or id_token.
        token: String,
        /// The template (a JSON object).
        file: PathBuf,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Override for this application only.
        #[arg(long)]
        client: Option<String>,
    },
    /// Render a template without saving it (or the saved ones when no file is given).
    Preview {
        /// A template to try.
        file: Option<PathBuf>,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// The application (its overrides apply; needed with --user).
        #[arg(long)]
        client: Option<String>,
        /// Build the event from this user...
        #[arg(long)]
        user: Option<String>,
        /// ...logging in through this organization.
        #[arg(long)]
        organization: Option<String>,
        /// Or render against this event JSON (default: docs/sample-event.json).
        #[arg(long)]
        event: Option<PathBuf>,
    },
    /// Delete a template.
    Delete {
        /// access_token or id_token.
        token: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// An application's override.
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Rotate: next becomes current, current stays published as previous.
    Rotate {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List the published keys.
    List {
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
enum HookCommand {
    /// Run a hook against an event locally, with the production runtime (same limits, same
    /// claim rules). Needs no server and no database.
    Test {
        /// The hook: a .wasm component or core module.
        file: PathBuf,
        /// The event JSON (see docs/sample-event.json).
        #[arg(long)]
        event: PathBuf,
        /// A secret the hook can read, NAME=VALUE (repeatable).
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Upload a new version of a hook (created on first upload).
    Upload {
        /// The .wasm file.
        file: PathBuf,
        /// Hook name.
        #[arg(long)]
        name: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Deploy the new version right away.
        #[arg(long)]
        deploy: bool,
    },
    /// List hooks and their versions.
    List {
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Deploy a version.
    Deploy {
        /// Hook name or id.
        hook: String,
        /// Version number.
        version: i64,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Deploy the version before the deployed one.
    Rollback {
        /// Hook name or id.
        hook: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Delete a hook (refused while bound).
    Delete {
        /// Hook name or id.
        hook: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Set a hook secret; the value is read from stdin so it stays out of shell history.
    SetSecret {
        /// Hook name or id.
        hook: String,
        /// Secret name.
        name: String,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Replace the post-login flow: bindings as HOOK[@VERSION][:fail_open], in order.
    Flow {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Bindings (none clears the flow).
        bindings: Vec<String>,
    },
    /// Show recent execution traces.
    Traces {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
    /// Internal: compile a component from stdin under memory limits (run by the server).
    #[command(hide = true)]
    CompileWorker {
        #[arg(long)]
        max_wasm_stack: usize,
        #[arg(long)]
        max_memory: usize,
        #[arg(long)]
        pool_instances: u32,
        #[arg(long)]
        address_space: u64,
        #[arg(long, default_value_t = 10)]
        cpu_seconds: u64,
    },
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
        /// Rewrite users that already exist from their lines (by default they are left as
        /// they are, so re-running an import never undoes a later password change).
        #[arg(long)]
        update: bool,
    },
}

/// Entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The compile worker runs before anything else exists in the process, so its address-space
    // limit covers only the compiler.
    if let Command::Hooks {
        command:
            HookCommand::CompileWorker {
                max_wasm_stack,
                max_memory,
                pool_instances,
                address_space,
                cpu_seconds,
            },
    } = &cli.command
    {
        let settings = sigil::hooks::engine::EngineSettings {
            max_wasm_stack: *max_wasm_stack,
            max_memory_bytes: *max_memory,
            pool_instances: *pool_instances,
        };
        return match sigil::hooks::compile::worker_main(&settings, *address_space, *cpu_seconds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
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
        Command::Serve {
            listen,
            public_url,
            trusted_proxies,
            session_idle_hours,
            session_lifetime_hours,
            compile,
        } => {
            let mut s = settings(&cli.database, listen);
            compile.apply(&mut s);
            s.public_url = public_url;
            s.trusted_proxies = trusted_proxies;
            s.sessions = sigil::oauth::session::SessionPolicy {
                idle_ms: session_idle_hours.max(1) * 3600 * 1000,
                absolute_ms: session_lifetime_hours.max(1) * 3600 * 1000,
            };
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
            command:
                UserCommand::Import {
                    file,
                    tenant,
                    update,
                },
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
            let mode = sigil::manage::import::ImportMode { update };
            let report =
                import_lines(&svc, &ctx, mode, lines.iter().copied(), || bar.inc(1)).await?;
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Hooks { command } => hooks_command(&cli.database, command).await,
        Command::Templates { command } => templates_command(&cli.database, command).await,
        Command::Keys { command } => {
            use sigil::manage::signing_keys;
            let svc = offline(&cli.database).await?;
            let keys = match command {
                KeysCommand::Rotate { tenant, alg } => {
                    let ctx = tenants::cli_ctx(&svc, &tenant).await?;
                    signing_keys::rotate(&svc, &ctx, signing_keys::Rotate { alg: Some(alg) })
                        .await?
                }
                KeysCommand::List { tenant } => {
                    let ctx = tenants::cli_ctx(&svc, &tenant).await?;
                    signing_keys::list(&svc, &ctx).await?
                }
            };
            println!("{}", serde_json::to_string_pretty(&keys)?);
            Ok(ExitCode::SUCCESS)
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

fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

async fn templates_command(database: &str, command: TemplatesCommand) -> Result<ExitCode> {
    use sigil::manage::templates::{self, PreviewInput, TokenKind};
    let svc = offline(database).await?;
    let print = |v: &dyn erased::Ser| -> Result<()> {
        println!("{}", v.pretty()?);
        Ok(())
    };
    let report = |e: sigil::manage::ManageError| -> Result<ExitCode> {
        if let sigil::manage::ManageError::InvalidTemplate(errs) = &e {
            for x in errs {
                eprintln!("error: {x} [{}]", x.kind.code());
            }
            return Ok(ExitCode::from(2));
        }
        Err(e.into())
    };
    match command {
        TemplatesCommand::Get { tenant, client } => {
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            print(&templates::get(&svc, &ctx, client.as_deref()).await?)?;
        }
        TemplatesCommand::Set {
            token,
            file,
            tenant,
            client,
        } => {
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let kind = TokenKind::parse(&token)?;
            match templates::set(&svc, &ctx, client.as_deref(), kind, read_json(&file)?).await {
                Ok(v) => print(&v)?,
                Err(e) => return report(e),
            }
        }
        TemplatesCommand::Preview {
            file,
            tenant,
            client,
            user,
            organization,
            event,
        } => {
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let input = PreviewInput {
                template: file.as_deref().map(read_json).transpose()?,
                client_id: client,
                user_id: user,
                organization,
                event: event.as_deref().map(read_json).transpose()?,
            };
            match templates::preview(&svc, &ctx, input).await {
                Ok(p) => print(&serde_json::json!({
                    "access_token": p.access_token,
                    "id_token": p.id_token,
                }))?,
                Err(e) => return report(e),
            }
        }
        TemplatesCommand::Delete {
            token,
            tenant,
            client,
        } => {
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            templates::delete(&svc, &ctx, client.as_deref(), TokenKind::parse(&token)?).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn hooks_command(database: &str, command: HookCommand) -> Result<ExitCode> {
    use sigil::hooks::{flows, registry};
    let json = |v: &dyn erased::Ser| -> Result<()> {
        println!("{}", v.pretty()?);
        Ok(())
    };
    match command {
        HookCommand::Test {
            file,
            event,
            secrets,
        } => {
            // WASI's blocking host calls start their own tokio runtime: run the hook on a plain
            // thread, as the server's pool does.
            std::thread::spawn(move || hooks_test(&file, &event, &secrets))
                .join()
                .map_err(|_| anyhow::anyhow!("the local runner panicked"))?
        }
        HookCommand::Upload {
            file,
            name,
            tenant,
            deploy,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let up = registry::upload(&svc, &ctx, &name, &bytes).await?;
            json(&up)?;
            if deploy {
                json(&registry::deploy(&svc, &ctx, &up.hook_id, up.version.version).await?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::List { tenant } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            json(&registry::list(&svc, &ctx, &Default::default()).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::Deploy {
            hook,
            version,
            tenant,
        } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            json(&registry::deploy(&svc, &ctx, &hook, version).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::Rollback { hook, tenant } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            json(&registry::rollback(&svc, &ctx, &hook).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::Delete { hook, tenant } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            registry::delete(&svc, &ctx, &hook).await?;
            println!("deleted {hook}");
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::SetSecret { hook, name, tenant } => {
            let mut value = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)?;
            let value = value.trim_end_matches(['\n', '\r']);
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            registry::set_secret(&svc, &ctx, &hook, &name, value).await?;
            println!("secret {name} set on {hook}");
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::Flow { tenant, bindings } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let mut parsed = Vec::new();
            for b in bindings {
                let (rest, policy) = match b.strip_suffix(":fail_open") {
                    Some(r) => (
                        r.to_string(),
                        sigil::hooks::runtime::FailurePolicy::FailOpen,
                    ),
                    None => (
                        b.strip_suffix(":fail_closed").unwrap_or(&b).to_string(),
                        sigil::hooks::runtime::FailurePolicy::FailClosed,
                    ),
                };
                let (hook, version) = match rest.split_once('@') {
                    Some((h, v)) => (
                        h.to_string(),
                        Some(v.parse::<i64>().context("version must be a number")?),
                    ),
                    None => (rest, None),
                };
                parsed.push(flows::Binding {
                    hook,
                    version,
                    failure_policy: policy,
                });
            }
            json(&flows::set_flow(&svc, &ctx, flows::Flow { bindings: parsed }).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::Traces { tenant, limit } => {
            let svc = offline(database).await?;
            let ctx = tenants::cli_ctx(&svc, &tenant).await?;
            let page = sigil::manage::PageParams {
                limit: Some(limit),
                cursor: None,
            };
            json(&flows::traces(&svc, &ctx, &page).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        HookCommand::CompileWorker { .. } => unreachable!("handled before the runtime starts"),
    }
}

/// The local runner: the same validation, runtime, limits and claim rules as production.
fn hooks_test(
    file: &std::path::Path,
    event: &std::path::Path,
    secrets: &[String],
) -> Result<ExitCode> {
    use sigil::hooks::runtime::{
        FailurePolicy, FlowStatus, FlowStep, HookRuntime, RuntimeSettings,
    };
    use sigil::hooks::{Limits, compile, event::PostLoginEvent, upload};
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let event_text =
        std::fs::read_to_string(event).with_context(|| format!("reading {}", event.display()))?;
    let event: PostLoginEvent =
        serde_json::from_str(&event_text).context("the event file is not a valid event")?;
    let secrets = secrets
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .context("--secret takes NAME=VALUE")
        })
        .collect::<Result<Vec<_>>>()?;
    let runtime = HookRuntime::new(RuntimeSettings {
        threads: 1,
        per_tenant: 1,
        ..Default::default()
    })?;
    let validated = upload::validate(&bytes)?;
    let component = compile::compile_here(runtime.engine(), &validated.component)?;
    let prepared = runtime.prepare(&validated.hash, &component)?;
    let step = FlowStep {
        hook_id: "local".into(),
        hook_name: file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        version: 0,
        hook: prepared,
        policy: FailurePolicy::FailClosed,
        secrets,
        limits: Limits::default(),
    };
    let size = serde_json::to_string(&event)?.len();
    // As the test endpoint allows without a server: the OIDC scopes but offline_access, and
    // the scopes the event requested.
    let addable = sigil::hooks::host::AddableScopes::new(
        sigil::oauth::OIDC_SCOPES
            .iter()
            .map(|s| s.to_string())
            .chain(event.transaction.requested_scopes.iter().cloned()),
    );
    let outcome = runtime.flow_blocking(&[step], &event, size, addable);
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    Ok(match outcome.status {
        FlowStatus::Failed { .. } => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

/// Pretty JSON of any serializable value behind a trait object.
mod erased {
    pub trait Ser {
        fn pretty(&self) -> serde_json::Result<String>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn pretty(&self) -> serde_json::Result<String> {
            serde_json::to_string_pretty(self)
        }
    }
}
