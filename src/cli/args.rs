//! The command line's shape: every command, subcommand and argument, with the help text
//! `sigil --help` prints. The operator settings of `serve` (and the hook limits `hooks test`
//! shares with it) are in [`super::settings`]; value syntaxes with rules of their own (a flow
//! binding, a hook secret) are in [`super::values`]; `sigil hooks ...` is in
//! [`super::hook_args`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use sigil::config::{self, DEFAULT_DATABASE, DEFAULT_LISTEN, Listen};
use sigil::telemetry::LogFormat;

pub use super::hook_args::{CompileWorkerArgs, HookCommand, HookManageCommand, HookTestArgs};
use super::settings::{
    CompileFlags, DatabaseFlags, FetchFlags, HookLimitFlags, HookPoolFlags, LoginLockFlags,
    NodeFlags, PasswordFlags,
};

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
    /// Successful logins' traces stored per tenant a second on this node; above it, a stored
    /// trace counts the successful runs left unstored before it. Denied, failed and aborted
    /// logins, logins in which a hook failed open, and test runs are always stored. 0 stores
    /// every trace.
    #[arg(long, env = "SIGIL_TRACES_PER_SECOND",
          default_value_t = sigil::flows::trace_rate::DEFAULT_PER_SECOND)]
    pub traces_per_second: u32,
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
        /// A template to try (in place of the saved one of --token).
        file: Option<PathBuf>,
        /// Which token FILE is for: access_token (the default) or id_token.
        #[arg(long, requires = "file")]
        token: Option<String>,
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
    /// Make a user an administrator of the tenant, who signs in to the dashboard (see
    /// docs/dashboard.md). With an email the tenant does not know yet, creates that user first,
    /// with the password read from stdin (`--password-stdin`): how a fresh install gets its
    /// first administrator without the API.
    MakeAdmin {
        /// The user's id, or email.
        user: String,
        /// The tenant's name.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Read the new user's password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
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
