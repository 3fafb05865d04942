//! Operator settings as flags and environment variables: each one is `--name` and
//! `SIGIL_NAME` (a flag wins over the variable), with the library's own default, so `--help`
//! shows what the server would use. These types only carry values into
//! [`sigil::startup::Settings`]; checking them is [`sigil::config`]'s job.

use std::time::Duration;

use sigil::config::{self, ConfigError, DEFAULT_MAX_CONNECTIONS, LoginLock};
use sigil::passwords::PasswordHasher;
use sigil::startup::Settings;
use sigil_hooks::admission::UploadRate;
use sigil_hooks::caches::CacheBounds;
use sigil_hooks::compile::CompilerSettings;
use sigil_hooks::engine::EngineSettings;
use sigil_hooks::fetch::FetchSettings;
use sigil_hooks::fetch::address::AllowedRanges;
use sigil_hooks::fetch::breaker::BreakerSettings;
use sigil_hooks::runtime::RuntimeSettings;
use sigil_hooks::{FetchCeilings, Limits};

/// The database pool.
#[derive(Debug, clap::Args)]
pub struct DatabaseFlags {
    /// Connections the server keeps open to the database, at most.
    #[arg(long, env = "SIGIL_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection, milliseconds: a free one in the
    /// pool, the liveness check of an idle one, or opening a new one (so also the connect
    /// timeout). Past it the request is answered 503 `temporarily_unavailable`.
    #[arg(long, env = "SIGIL_DB_ACQUIRE_TIMEOUT_MS",
          default_value_t = sigil::store::DEFAULT_ACQUIRE_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,
    /// How long a request may run, milliseconds, before it is answered 503
    /// `temporarily_unavailable` (a database that stops answering mid-statement cannot hang
    /// it). Hook uploads and user imports are bounded by their own limits instead.
    #[arg(long, env = "SIGIL_REQUEST_TIMEOUT_MS",
          default_value_t = sigil::http::unavailable::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// PostgreSQL itself, for the listener that hears other nodes' changes, when --database
    /// goes through a transaction pooler (`?pooler=transaction`, e.g. PgBouncer's transaction
    /// pooling): `LISTEN` needs a session of its own. Required then; unused otherwise.
    #[arg(long, env = "SIGIL_DATABASE_DIRECT_URL")]
    pub database_direct_url: Option<String>,
    /// SQLite only: when a commit reaches the disk. `normal` (SQLite's recommendation for its
    /// write-ahead log): a commit survives a crash of the process, and the last ones before a
    /// power loss may be rolled back. `full`: every commit is flushed before it is
    /// acknowledged, at the disk's flush latency per commit (docs/performance.md).
    #[arg(long, env = "SIGIL_SQLITE_SYNCHRONOUS", default_value = "normal")]
    pub sqlite_synchronous: sigil::store::SqliteSync,
}

/// argon2id, for the passwords Sigil hashes (set, imported in plain text, rehashed after a
/// login with an older hash). Stored hashes keep the parameters they were made with.
#[derive(Debug, clap::Args)]
pub struct PasswordFlags {
    /// argon2id memory per hash, KiB (OWASP's first recommendation: 19 MiB).
    #[arg(long, env = "SIGIL_ARGON2_MEMORY_KIB", default_value_t = config::DEFAULT_ARGON2.0)]
    pub argon2_memory_kib: u32,
    /// argon2id passes over that memory.
    #[arg(long, env = "SIGIL_ARGON2_PASSES", default_value_t = config::DEFAULT_ARGON2.1)]
    pub argon2_passes: u32,
    /// argon2id lanes (parallelism of one hash).
    #[arg(long, env = "SIGIL_ARGON2_LANES", default_value_t = config::DEFAULT_ARGON2.2)]
    pub argon2_lanes: u32,
}

impl PasswordFlags {
    /// The hasher, once argon2 accepts the parameters.
    pub fn hasher(&self) -> Result<PasswordHasher, ConfigError> {
        config::password_hasher(
            self.argon2_memory_kib,
            self.argon2_passes,
            self.argon2_lanes,
        )
    }
}

/// The brute-force lock of password logins (docs/brute-force.md). Out-of-range values are
/// refused at start by [`LoginLock::new`], naming the flag.
#[derive(Debug, clap::Args)]
pub struct LoginLockFlags {
    /// Password attempts one IP may make for one user per window (1 to 1000); further attempts
    /// are refused, like a wrong password, until the window ends.
    #[arg(long, env = "SIGIL_LOGIN_MAX_FAILURES", default_value_t = config::DEFAULT_LOGIN_MAX_FAILURES)]
    pub login_max_failures: u32,
    /// Minutes of that window, from its first attempt (1 to 10080, a week).
    #[arg(long, env = "SIGIL_LOGIN_LOCK_MINUTES", default_value_t = config::DEFAULT_LOGIN_LOCK_MINUTES)]
    pub login_lock_minutes: u32,
}

impl LoginLockFlags {
    /// The lock's limits, once checked.
    pub fn lock(&self) -> Result<LoginLock, ConfigError> {
        LoginLock::new(self.login_max_failures, self.login_lock_minutes)
    }
}

/// The operator's ceilings of hook limits (docs/hooks.md, "Limits"): tenants and hooks can
/// only lower them.
#[derive(Debug, clap::Args)]
pub struct HookLimitFlags {
    /// Wall-clock deadline of one hook, milliseconds.
    #[arg(long, env = "SIGIL_HOOK_DEADLINE_MS", default_value_t = Limits::default().deadline_ms,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub hook_deadline_ms: u64,
    /// Wall-clock budget of a whole flow, milliseconds.
    #[arg(long, env = "SIGIL_HOOK_FLOW_DEADLINE_MS",
          default_value_t = Limits::default().flow_deadline_ms,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub hook_flow_deadline_ms: u64,
    /// Instruction budget of one hook (wasmtime fuel, about one unit per instruction).
    #[arg(long, env = "SIGIL_HOOK_FUEL", default_value_t = Limits::default().fuel,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub hook_fuel: u64,
    /// Linear memory of one hook, bytes (at most the engine's 64 MiB per instance).
    #[arg(long, env = "SIGIL_HOOK_MEMORY_BYTES", default_value_t = Limits::default().memory_bytes)]
    pub hook_memory_bytes: usize,
    /// Largest event a hook is given, bytes (serialized).
    #[arg(long, env = "SIGIL_HOOK_EVENT_BYTES", default_value_t = Limits::default().event_bytes)]
    pub hook_event_bytes: usize,
    /// Custom-claim bytes a hook may add per token.
    #[arg(long, env = "SIGIL_HOOK_CLAIM_BYTES", default_value_t = Limits::default().claim_bytes)]
    pub hook_claim_bytes: usize,
    /// Log bytes a hook may write (stdout and stderr included).
    #[arg(long, env = "SIGIL_HOOK_LOG_BYTES", default_value_t = Limits::default().log_bytes)]
    pub hook_log_bytes: usize,
}

impl HookLimitFlags {
    /// The ceilings.
    pub fn limits(&self) -> Limits {
        Limits {
            deadline_ms: self.hook_deadline_ms,
            flow_deadline_ms: self.hook_flow_deadline_ms,
            fuel: self.hook_fuel,
            memory_bytes: self.hook_memory_bytes,
            event_bytes: self.hook_event_bytes,
            claim_bytes: self.hook_claim_bytes,
            log_bytes: self.hook_log_bytes,
        }
    }
}

/// The hook runtime's size.
#[derive(Debug, clap::Args)]
pub struct HookPoolFlags {
    /// Threads that run hooks [default: the number of cores, at least 2].
    #[arg(long, env = "SIGIL_HOOK_THREADS", value_parser = at_least_one())]
    pub hook_threads: Option<usize>,
    /// Hook threads one tenant may occupy at once [default: half the hook threads, at
    /// least 1].
    #[arg(long, env = "SIGIL_HOOK_PER_TENANT", value_parser = at_least_one())]
    pub hook_per_tenant: Option<usize>,
    /// Instances the engine's pooling allocator reserves (hook threads beyond it are not
    /// started).
    #[arg(long, env = "SIGIL_HOOK_INSTANCES",
          default_value_t = EngineSettings::default().pool_instances,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub hook_instances: u32,
    /// Prepared hook versions kept in memory (the least recently used are dropped, and
    /// prepared again from their stored artifact when next needed).
    #[arg(long, env = "SIGIL_HOOK_CACHE_ENTRIES", default_value_t = CacheBounds::PREPARED,
          value_parser = at_least_one())]
    pub hook_cache_entries: usize,
    /// Tenants whose hook admission semaphore is kept in memory (idle ones beyond this are
    /// dropped).
    #[arg(long, env = "SIGIL_HOOK_TENANT_ENTRIES", default_value_t = CacheBounds::TENANTS,
          value_parser = at_least_one())]
    pub hook_tenant_entries: usize,
}

impl HookPoolFlags {
    /// The runtime's settings.
    pub fn runtime(&self) -> RuntimeSettings {
        config::hook_runtime(
            self.hook_threads,
            self.hook_per_tenant,
            self.hook_instances,
            CacheBounds {
                prepared: self.hook_cache_entries,
                tenants: self.hook_tenant_entries,
            },
        )
    }
}

/// Hook uploads and compilation (docs/hooks.md, "Uploads and compilation").
#[derive(Debug, clap::Args)]
pub struct CompileFlags {
    /// Compile workers that may run at once, server-wide [default: half the cores, at least 1].
    #[arg(long, env = "SIGIL_COMPILE_WORKERS", value_parser = at_least_one())]
    pub compile_workers: Option<usize>,
    /// Address space of one compile worker, MiB.
    #[arg(long, env = "SIGIL_COMPILE_MEMORY_MIB",
          default_value_t = CompilerSettings::current_exe().memory_limit >> 20,
          value_parser = clap::value_parser!(u64).range(16..=1 << 24))]
    pub compile_memory_mib: u64,
    /// CPU time one compilation may take, seconds (the wall-clock backstop is 6 times this).
    #[arg(long, env = "SIGIL_COMPILE_CPU_SECONDS",
          default_value_t = CompilerSettings::current_exe().timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub compile_cpu_seconds: u64,
    /// How long an upload may wait for a free worker before `503 compile_busy`, seconds.
    #[arg(long, env = "SIGIL_COMPILE_QUEUE_SECONDS",
          default_value_t = CompilerSettings::current_exe().queue.as_secs(),
          value_parser = clap::value_parser!(u64).range(..=86_400))]
    pub compile_queue_seconds: u64,
    /// Hook uploads one tenant may make back to back.
    #[arg(long, env = "SIGIL_HOOK_UPLOAD_BURST", default_value_t = UploadRate::default().burst,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub hook_upload_burst: u32,
    /// Hook uploads one tenant may make per minute after its burst.
    #[arg(long, env = "SIGIL_HOOK_UPLOADS_PER_MINUTE", default_value_t = UploadRate::default().per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub hook_uploads_per_minute: u32,
}

impl CompileFlags {
    /// Sets the compiler and the upload rate of `s`.
    pub fn apply(&self, s: &mut Settings) {
        if let Some(n) = self.compile_workers {
            s.compiler.workers = n;
        }
        s.compiler.memory_limit = self.compile_memory_mib << 20;
        s.compiler.timeout = Duration::from_secs(self.compile_cpu_seconds);
        s.compiler.queue = Duration::from_secs(self.compile_queue_seconds);
        s.upload_rate = UploadRate {
            burst: self.hook_upload_burst,
            per_minute: self.hook_uploads_per_minute,
        };
    }
}

/// A node's life beside others: how it stops, and where it keeps compiled hooks
/// (docs/operating.md, "Health checks, drain and the artifact cache").
#[derive(Debug, clap::Args)]
pub struct NodeFlags {
    /// Seconds in-flight requests may take to finish after SIGTERM (new connections are
    /// refused and /readyz answers 503 meanwhile); connections still open then are dropped.
    #[arg(long, env = "SIGIL_DRAIN_SECONDS",
          default_value_t = sigil::http::serve::DEFAULT_DRAIN_SECONDS,
          value_parser = clap::value_parser!(u64).range(..=3600))]
    pub drain_seconds: u64,
    /// Directory of this node's disk cache of compiled hooks (authenticated like the
    /// database's; `none` turns it off) [default: `artifacts` beside the SQLite database, or
    /// ./data/artifacts with PostgreSQL].
    #[arg(long, env = "SIGIL_ARTIFACT_CACHE_DIR")]
    pub artifact_cache_dir: Option<String>,
}

impl NodeFlags {
    /// Sets the drain bound and the artifact cache of `s` (whose database URL is known).
    pub fn apply(&self, s: &mut Settings) {
        s.drain = Duration::from_secs(self.drain_seconds);
        s.artifact_cache = sigil::flows::artifact_disk::resolve_dir(
            &s.database_url,
            self.artifact_cache_dir.as_deref(),
        );
    }
}

fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// Hooks' fetches (contract 0.2.0, docs/hooks.md "Calling your APIs").
#[derive(Debug, clap::Args)]
pub struct FetchFlags {
    /// Lets hooks use plain `http://` to allow-listed hosts. For tests against a local mock
    /// only: a production hook's requests (and the secrets in their headers) go over TLS.
    #[arg(long, env = "SIGIL_HOOK_FETCH_ALLOW_HTTP")]
    pub hook_fetch_allow_http: bool,
    /// An address range hooks may reach despite the address rules (a CRM on the private
    /// network, say), e.g. `10.20.0.0/16`. Repeatable; comma-separated in the environment.
    #[arg(
        long = "hook-fetch-allow-range",
        env = "SIGIL_HOOK_FETCH_ALLOW_RANGES",
        value_delimiter = ','
    )]
    pub hook_fetch_allow_ranges: Vec<ipnet::IpNet>,
    /// `NAME=IP`: resolves NAME to IP for hooks instead of asking DNS (split-horizon names,
    /// tests); the address rules still apply. Repeatable.
    #[arg(long = "hook-fetch-resolve", env = "SIGIL_HOOK_FETCH_RESOLVE", value_delimiter = ',',
          value_parser = parse_resolve)]
    pub hook_fetch_resolve: Vec<(String, std::net::IpAddr)>,
    /// A PEM file of certificates hooks' TLS trusts beside the public roots (a private CA).
    #[arg(long, env = "SIGIL_HOOK_FETCH_CA_FILE")]
    pub hook_fetch_ca_file: Option<std::path::PathBuf>,
    /// Ceiling of a flow binding's `deadline_ms` (hooks that call APIs need more than 50 ms).
    #[arg(long, env = "SIGIL_HOOK_FETCH_DEADLINE_MS",
          default_value_t = FetchCeilings::default().deadline_ms,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub hook_fetch_deadline_ms: u64,
    /// Ceiling of a flow's `budget_ms`.
    #[arg(long, env = "SIGIL_HOOK_FETCH_FLOW_DEADLINE_MS",
          default_value_t = FetchCeilings::default().flow_deadline_ms,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub hook_fetch_flow_deadline_ms: u64,
    /// Consecutive failures (no connection, TLS, timeout, a 5xx answer) of one destination
    /// that open its circuit for a tenant's hooks.
    #[arg(long, env = "SIGIL_HOOK_FETCH_BREAKER_FAILURES",
          default_value_t = BreakerSettings::default().threshold,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub hook_fetch_breaker_failures: u32,
    /// Seconds an open circuit refuses requests before one goes through as a probe.
    #[arg(long, env = "SIGIL_HOOK_FETCH_BREAKER_OPEN_SECONDS",
          default_value_t = BreakerSettings::default().open_for.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub hook_fetch_breaker_open_seconds: u64,
    /// Requests one hook invocation may make.
    #[arg(long, env = "SIGIL_HOOK_FETCH_MAX_PER_INVOCATION",
          default_value_t = sigil_hooks::fetch::DEFAULT_MAX_FETCHES,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub hook_fetch_max_per_invocation: u32,
}

fn parse_resolve(s: &str) -> Result<(String, std::net::IpAddr), String> {
    let (name, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=IP"))?;
    let ip = ip
        .trim()
        .parse()
        .map_err(|e| format!("`{ip}` is not an IP address: {e}"))?;
    Ok((name.trim().to_ascii_lowercase(), ip))
}

impl FetchFlags {
    /// The ceilings of a binding's deadline and a flow's budget.
    pub fn ceilings(&self) -> FetchCeilings {
        FetchCeilings {
            deadline_ms: self.hook_fetch_deadline_ms,
            flow_deadline_ms: self.hook_fetch_flow_deadline_ms,
        }
    }

    /// The runtime's fetch settings (reads the CA file).
    pub fn fetch(&self) -> anyhow::Result<FetchSettings> {
        let mut f = FetchSettings::new();
        f.allow_http = self.hook_fetch_allow_http;
        f.ranges = AllowedRanges::new(self.hook_fetch_allow_ranges.clone());
        for (name, ip) in &self.hook_fetch_resolve {
            f.resolve.entry(name.clone()).or_default().push(*ip);
        }
        if let Some(path) = &self.hook_fetch_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--hook-fetch-ca-file {}: {e}", path.display()))?;
            use rustls_pki_types::pem::PemObject;
            f.extra_roots = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--hook-fetch-ca-file {}: {e}", path.display()))?;
        }
        f.max_per_invocation = self.hook_fetch_max_per_invocation;
        f.breaker = BreakerSettings {
            threshold: self.hook_fetch_breaker_failures,
            open_for: Duration::from_secs(self.hook_fetch_breaker_open_seconds),
        };
        Ok(f)
    }
}
