//! The command line's shape: every command, subcommand and argument, with the help text
//! `sigil --help` prints. The operator settings of `serve` (and the hook limits `hooks test`
//! shares with it) are in [`super::settings`]; value syntaxes with rules of their own (a flow
//! binding, a hook secret) are in [`super::values`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use sigil::config::{self, DEFAULT_DATABASE, DEFAULT_LISTEN, Listen};
use sigil::telemetry::LogFormat;

use super::settings::{
    CompileFlags, DatabaseFlags, FetchFlags, HookLimitFlags, HookPoolFlags, LoginLockFlags,
    NodeFlags, PasswordFlags,
};
use super::values::{FlowBinding, HookSecret};

/// Sigil: OpenID Connect with WebAssembly post-login hooks.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub log_format: LogFormat,
    /// Where the data is, and the address the server is reached at.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The database every command works on, and the public URL that names the issuers (the
/// server's, so `tenants create` prints the issuer clients will see).
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Database URL: sqlite://PATH or postgres://... (with `?pooler=transaction` when it goes
    /// through PgBouncer in transaction pooling mode: see docs/operating.md).
    #[arg(long = "database", global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// Public base URL (issuers are {public-url}/t/{tenant}); default http://{listen address}.
    #[arg(long, global = true, env = "SIGIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Address `sigil serve` listens on (IP:PORT or HOST:PORT, e.g. localhost:8080).
    #[arg(long, global = true, env = "SIGIL_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: Listen,
}

/// The top-level commands. All but `serve`, `hooks test` and `openapi` open the database
/// directly, so they need no running server (and run on any node of a multi-node deployment).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations; creates the `default` tenant on first start).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    Tenants {
        /// What to do with tenants.
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage management API keys.
    ApiKeys {
        /// What to do with API keys.
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Manage users.
    Users {
        /// What to do with users.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage client grants: the APIs (and scopes) a machine-to-machine application may get
    /// tokens for with client credentials (see docs/machines.md).
    ClientGrants {
        /// What to do with client grants.
        #[command(subcommand)]
        command: ClientGrantCommand,
    },
    /// Hooks: the local test runner, upload, deploy, the flow, secrets, traces.
    Hooks {
        /// What to do with hooks.
        #[command(subcommand)]
        command: HookCommand,
    },
    /// Rotate a tenant's signing keys (`sigil keys rotate --tenant acme --alg RS256`).
    Keys {
        /// What to do with signing keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The master keys that open the database: rotate the master key without re-encrypting
    /// anything (see docs/deploy.md).
    MasterKey {
        /// What to do with master keys.
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// The tenant's legacy user store: a user-store hook that verifies passwords against the
    /// old system at a user's first login (see docs/legacy-store.md).
    LegacyStore {
        /// What to do with the legacy store.
        #[command(subcommand)]
        command: super::legacy_store::LegacyStoreCommand,
    },
    /// Manage JWT templates (declarative custom claims; see docs/jwt-templates.md).
    Templates {
        /// What to do with templates.
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Print the OpenAPI document of the management API.
    Openapi,
}

/// `sigil serve`: where to listen, how the server is reached, and the operator settings.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A reverse proxy whose X-Forwarded-For is trusted (repeatable; env: comma-separated).
    #[arg(
        long = "trusted-proxy",
        env = "SIGIL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Hours a browser login session may stay unused before it ends.
    #[arg(long, env = "SIGIL_SESSION_IDLE_HOURS", default_value_t = 72,
          value_parser = clap::value_parser!(i64).range(1..=HOURS_MAX))]
    pub session_idle_hours: i64,
    /// Hours after which a browser login session ends, used or not.
    #[arg(long, env = "SIGIL_SESSION_LIFETIME_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(i64).range(1..=HOURS_MAX))]
    pub session_lifetime_hours: i64,
    /// Make the login session cookie session-only (forgotten when the browser closes) instead
    /// of persistent for the session's lifetime.
    #[arg(long, env = "SIGIL_SESSION_COOKIE_ONLY")]
    pub session_cookie_only: bool,
    /// Seconds after a refresh token's rotation during which presenting it again, while its
    /// successor is unused, gets that successor again (a client retrying a refresh whose
    /// answer was lost) instead of revoking the family as reuse; 0 turns the leeway off.
    #[arg(long, env = "SIGIL_REFRESH_RETRY_GRACE_SECONDS",
          default_value_t = config::DEFAULT_REFRESH_RETRY_GRACE_SECONDS,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub refresh_retry_grace_seconds: u64,
    /// Flow traces kept per tenant; the oldest are deleted as new ones are stored.
    #[arg(long, env = "SIGIL_TRACES_KEPT", default_value_t = sigil::flows::TRACES_KEPT,
          value_parser = clap::value_parser!(i64).range(1..=100_000_000))]
    pub traces_kept: i64,
    /// Serve /metrics on this address instead of the main listener, without authentication:
    /// bind it to a private interface. Otherwise /metrics on the main listener requires
    /// `Authorization: Bearer $SIGIL_METRICS_TOKEN` (set in the environment only), and without
    /// that token it answers 404.
    #[arg(long, env = "SIGIL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Label the grant counter and the token-latency histogram by tenant (one series per
    /// tenant: mind the cardinality with many tenants).
    #[arg(long, env = "SIGIL_METRICS_TENANT_LABELS")]
    pub metrics_tenant_labels: bool,
    /// The database pool.
    #[command(flatten)]
    pub db: DatabaseFlags,
    /// Password hashing.
    #[command(flatten)]
    pub passwords: PasswordFlags,
    /// The brute-force lock.
    #[command(flatten)]
    pub login_lock: LoginLockFlags,
    /// Hook ceilings.
    #[command(flatten)]
    pub hook_limits: HookLimitFlags,
    /// The hook runtime's size.
    #[command(flatten)]
    pub hook_pool: HookPoolFlags,
    /// Hooks' fetches.
    #[command(flatten)]
    pub hook_fetch: FetchFlags,
    /// Uploads and compilation.
    #[command(flatten)]
    pub compile: CompileFlags,
    /// The drain on shutdown and the disk cache of compiled hooks.
    #[command(flatten)]
    pub node: NodeFlags,
}

/// A hundred years: session lifetimes beyond it are a typo (and would overflow in ms).
const HOURS_MAX: i64 = 100 * 365 * 24;

/// `sigil templates ...`
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Print the saved templates (the tenant's, or an application's overrides).
    Get {
        /// The tenant's name.
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
        /// The tenant's name.
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
        /// The tenant's name.
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
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// An application's override.
        #[arg(long)]
        client: Option<String>,
    },
}

/// `sigil keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate: next becomes current, current stays published as previous.
    Rotate {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List the published keys.
    List {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
}

/// `sigil master-key ...`: the current key comes from `SIGIL_MASTER_KEY` (or, on SQLite, the
/// key file beside the database), a new one from `SIGIL_NEW_MASTER_KEY`: keys never go on a
/// command line.
#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Allow the key in SIGIL_NEW_MASTER_KEY to open the database too (the first step of a
    /// rotation; then move every node to it).
    Add,
    /// Leave the current key the only one that opens the database (the last step of a
    /// rotation, run with the new key once every node uses it).
    Retire,
    /// List the fingerprints of the keys that open the database.
    List,
}

/// `sigil hooks ...`
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Run hooks against an event locally, as one flow in the order given, with the production
    /// runtime (same validation, same limits, same claim rules). Needs no server and no
    /// database; exits 1 when a hook denies or fails.
    Test(Box<HookTestArgs>),
    /// Hook management on the database.
    #[command(flatten)]
    Manage(HookManageCommand),
    /// Internal: compile a component from stdin under memory limits (run by the server).
    #[command(hide = true)]
    CompileWorker(CompileWorkerArgs),
}

/// What the server tells its compile worker: the engine settings (which must match the
/// server's, or the artifact would not load) and the worker's own limits.
#[derive(Debug, clap::Args)]
pub struct CompileWorkerArgs {
    /// Wasm stack limit, bytes.
    #[arg(long)]
    pub max_wasm_stack: usize,
    /// Linear memory per instance, bytes.
    #[arg(long)]
    pub max_memory: usize,
    /// Instances the engine's pool holds.
    #[arg(long)]
    pub pool_instances: u32,
    /// The worker's address-space limit, bytes.
    #[arg(long)]
    pub address_space: u64,
    /// The worker's CPU-time limit, seconds.
    #[arg(long, default_value_t = 10)]
    pub cpu_seconds: u64,
}

/// `sigil hooks test`.
#[derive(Debug, clap::Args)]
pub struct HookTestArgs {
    /// The hooks: .wasm components or core modules.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The event JSON (see docs/sample-event.json); for post-login hooks.
    #[arg(long, required_unless_present_any = ["login", "lookup", "user_count"])]
    pub event: Option<PathBuf>,
    /// Ask a user-store hook to verify a password login of this name; the password is read
    /// from stdin (so it stays out of shell history).
    #[arg(long, conflicts_with_all = ["event", "lookup", "user_count"])]
    pub login: Option<String>,
    /// Ask a user-store hook for the user with this name.
    #[arg(long, conflicts_with_all = ["event", "user_count"])]
    pub lookup: Option<String>,
    /// Ask a user-store hook how many users the legacy system holds.
    #[arg(long, conflicts_with = "event")]
    pub user_count: bool,
    /// A secret every hook can read, NAME=VALUE (repeatable).
    #[arg(long = "secret")]
    pub secrets: Vec<HookSecret>,
    /// The operator's ceilings, as `serve` takes them (and from the same variables).
    #[command(flatten)]
    pub limits: HookLimitFlags,
    /// Where the hooks' fetches may go (contract 0.2.0), as HOST[/PATH][:METHOD,METHOD]
    /// (repeatable); the requests are real.
    #[arg(long = "allow")]
    pub allow: Vec<sigil_hooks::fetch::allow::AllowRule>,
    /// The fetch settings, as `serve` takes them.
    #[command(flatten)]
    pub fetch: FetchFlags,
    /// Writes every fetch's outcome (method, URL, response; never a request header or body)
    /// to this file, for `--replay`.
    #[arg(long, conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answers the hooks' fetches from a `--record`ing instead of the network.
    #[arg(long)]
    pub replay: Option<PathBuf>,
}

/// The `sigil hooks ...` commands that act on the database.
#[derive(Debug, Subcommand)]
pub enum HookManageCommand {
    /// Upload a new version of a hook (created on first upload).
    Upload {
        /// The .wasm file.
        file: PathBuf,
        /// Hook name.
        #[arg(long)]
        name: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// Deploy the new version right away.
        #[arg(long)]
        deploy: bool,
    },
    /// List hooks and their versions.
    List {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Deploy a version.
    Deploy {
        /// Hook name or id.
        hook: String,
        /// Version number.
        version: i64,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Deploy the version before the deployed one.
    Rollback {
        /// Hook name or id.
        hook: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Delete a hook (refused while bound).
    Delete {
        /// Hook name or id.
        hook: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Set a hook secret; the value is read from stdin so it stays out of shell history.
    SetSecret {
        /// Hook name or id.
        hook: String,
        /// Secret name.
        name: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
    /// Replace a hook's fetch allow-list (contract 0.2.0): rules as
    /// HOST[/PATH][:METHOD,METHOD], e.g. `crm.example.com/v1/accounts:GET` (none: no fetch).
    Allow {
        /// Hook name or id.
        hook: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// The rules, in order.
        rules: Vec<sigil_hooks::fetch::allow::AllowRule>,
    },
    /// Replace the post-login flow: bindings as HOOK[@VERSION][:fail_open|:fail_closed], in
    /// order.
    Flow {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// Bindings (none clears the flow).
        bindings: Vec<FlowBinding>,
    },
    /// Show recent execution traces.
    Traces {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

/// `sigil tenants ...`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its first API key (last line of stdout).
    Create {
        /// a-z, 0-9 and '-'.
        name: String,
    },
}

/// `sigil api-keys ...`
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
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

/// `sigil users ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
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
    /// A user's brute-force lock (see docs/brute-force.md).
    Lock {
        /// Show or lift.
        #[command(subcommand)]
        command: LockCommand,
    },
    /// How far the migration from the legacy store has come: users migrated at a login,
    /// imported, still without a password, still only in the legacy store.
    MigrationStatus {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
}

/// `sigil users lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Print a user's lock: per IP, the attempts in the window, when it ends, whether it is
    /// locked now.
    Show {
        /// The user's id, or email.
        user: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// The limits to judge the counters by (as `serve` takes them, from the same
        /// variables).
        #[command(flatten)]
        limits: LoginLockFlags,
    },
    /// Lift a user's lock, for every IP or one: the next password attempt is compared again.
    Lift {
        /// The user's id, or email.
        user: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// Only this IP's lock.
        #[arg(long)]
        ip: Option<String>,
    },
}

/// `sigil client-grants ...`
#[derive(Debug, Subcommand)]
pub enum ClientGrantCommand {
    /// Grant a confidential application access to an API with some of its scopes; prints the
    /// grant.
    Create {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// The application's client_id.
        #[arg(long)]
        client: String,
        /// The API's identifier.
        #[arg(long)]
        audience: String,
        /// A scope of the API to grant (repeatable; none grants the API without scopes).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Print the tenant's grants (every page), optionally one application's or one API's.
    List {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// Only this application's grants.
        #[arg(long)]
        client: Option<String>,
        /// Only the grants on this API (its identifier).
        #[arg(long)]
        audience: Option<String>,
    },
    /// Delete a grant: the application gets no new token for that API.
    Delete {
        /// The grant's id (`cgr_...`).
        id: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        // clap's own checks: no clashing names, defaults that parse, valid ranges.
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
