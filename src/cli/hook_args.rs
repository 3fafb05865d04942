//! `sigil hooks ...`: the local runner's arguments, the management commands on the database,
//! and the hidden compile worker's settings.

use std::path::PathBuf;

use clap::Subcommand;

use super::settings::{FetchFlags, HookLimitFlags};
use super::values::{FlowBinding, HookSecret};

/// `sigil hooks ...`
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Run hooks against an event locally, as one flow in the order given, with the production
    /// runtime (same validation, same limits, same claim rules); or ask one user-store hook
    /// (`--login`, `--lookup`, `--user-count`) as a login would. Needs no server and no
    /// database; exits 1 when a hook denies, refuses the login or fails.
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
    /// Replace the post-login flow: bindings as HOOK[@VERSION][:fail_open|:fail_closed][:MSms]
    /// (the last, a binding's own deadline for a hook that calls an API), in order.
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
        /// Only this user's logins (`usr_...`).
        #[arg(long)]
        user: Option<String>,
        /// Only logins to this application (client id).
        #[arg(long)]
        client: Option<String>,
        /// Only runs with this status: success, denied, failed or aborted.
        #[arg(long)]
        status: Option<String>,
        /// Only runs in which the hook of this name ran.
        #[arg(long)]
        hook: Option<String>,
    },
}
