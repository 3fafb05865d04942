//! Building and running the server: [`Application::build`] resolves the configuration,
//! connects and migrates the store, creates the default tenant on first start and binds the
//! listener (port 0 picks a free port, which is how the integration tests run it);
//! [`Application::run_until_stopped`] serves (and prepares the tenants' bound hooks in the
//! background, after which `/readyz` says ready) until the shutdown future resolves, then
//! drains in-flight requests for a bounded time and flushes the queued hook traces.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{self, ConfigError, KeySource};
use crate::crypto::{MasterKey, Sealer, Secret};
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::api_keys::ApiKeyCreated;
use crate::manage::{ManageError, tenants};
use crate::metrics::Metrics;
use crate::passwords::PasswordHasher;
use crate::services::Services;
use crate::store::{Store, StoreError};
use sigil_hooks::admission::{CompileGate, UploadLimiter, UploadRate};
use sigil_hooks::compile::{ArtifactSeal, CompilerSettings};
use sigil_hooks::fetch::FetchSettings;
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};
use sigil_hooks::{FetchCeilings, HookError, Limits};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bootstrapping the default tenant failed.
    #[error("creating the default tenant: {0}")]
    Bootstrap(#[from] ManageError),
    /// Pointing the dashboard clients at the public URL failed.
    #[error("pointing the dashboard clients at the public URL: {0}")]
    Dashboard(#[source] ManageError),
    /// The hook runtime could not start.
    #[error("starting the hook runtime: {0}")]
    Hooks(#[from] HookError),
    /// The master key does not open the database.
    #[error(transparent)]
    RootKey(#[from] crate::root_key::RootKeyError),
    /// The listener could not bind.
    #[error("binding {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The dummy password hash could not be made: without it, logins naming unknown users
    /// would skip the argon2id work and answer faster, a timing oracle for which accounts
    /// exist. Refusing to start is the only safe answer.
    #[error("hashing the dummy password for unknown-user logins: {0}")]
    DummyHash(#[from] crate::passwords::PasswordError),
}

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// PostgreSQL itself, for the change listener, when `database_url` goes through a
    /// transaction pooler (see [`config::check_direct_url`]).
    pub database_direct_url: Option<String>,
    /// Public base URL; defaults to `http://{bound address}`.
    pub public_url: Option<String>,
    /// Base64 master key; optional with SQLite.
    pub master_key: Option<String>,
    /// argon2id parameters.
    pub passwords: PasswordHasher,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a database connection (also the connect timeout).
    pub db_acquire_timeout: std::time::Duration,
    /// When a SQLite commit reaches the disk.
    pub sqlite_sync: crate::store::SqliteSync,
    /// How long a request may run before it is answered 503 `temporarily_unavailable`.
    pub request_timeout: std::time::Duration,
    /// Time source.
    pub clock: SharedClock,
    /// A hook runtime to share (tests run many servers in one process; the engine is meant to
    /// be one per process). `None` builds one.
    pub hook_runtime: Option<Arc<HookRuntime>>,
    /// The compile worker (default: this executable) and how many run at once.
    pub compiler: CompilerSettings,
    /// Each tenant's hook upload allowance.
    pub upload_rate: UploadRate,
    /// Sizing of the hook runtime: the engine's instance pool, the guest threads, each
    /// tenant's share of them, the prepared-component cache and the tenant map (used when the
    /// runtime is built here, not when one is shared in).
    pub hook_pool: RuntimeSettings,
    /// Hooks' fetches (contract 0.2.0): plain HTTP, address ranges, pinned names, extra roots.
    pub hook_fetch: FetchSettings,
    /// Operator ceilings of hook limits.
    pub hook_ceilings: Limits,
    /// Operator ceilings of a binding's deadline and a flow's budget (hooks that fetch).
    pub hook_fetch_ceilings: FetchCeilings,
    /// Reverse proxies whose `X-Forwarded-For` header is trusted.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser login session lifetimes.
    pub sessions: crate::config::SessionPolicy,
    /// The brute-force lock's limits (checked when made: see [`config::LoginLock::new`]).
    pub login_lock: config::LoginLock,
    /// How long after a refresh token's rotation presenting it again is a retry of a lost
    /// answer rather than reuse (see [`crate::oauth::refresh`]).
    pub refresh_retry_grace: std::time::Duration,
    /// Flow traces kept per tenant (the oldest are deleted as new ones are stored).
    pub traces_kept: i64,
    /// Successful logins' traces stored per tenant a second on this node; 0 stores every one
    /// (see [`crate::flows::trace_rate`]).
    pub traces_per_second: u32,
    /// Serve `/metrics` on a listener of its own at this address, without authentication
    /// (meant for a private interface); the main listener then answers 404 there.
    pub metrics_listen: Option<SocketAddr>,
    /// The bearer token `/metrics` on the main listener requires. With neither this nor
    /// `metrics_listen`, `/metrics` answers 404.
    pub metrics_token: Option<Secret>,
    /// Adds a `tenant` label to the grant counter and the token-latency histogram (one
    /// series per tenant: off by default).
    pub metrics_tenant_labels: bool,
    /// How long in-flight requests may take to finish once shutdown starts; connections still
    /// open after it are dropped.
    pub drain: std::time::Duration,
    /// How long the change listener may hear nothing before it checks that its connection
    /// still answers (see [`crate::store::changes::ChangeFeed`]).
    pub change_probe: std::time::Duration,
    /// The directory of this node's disk cache of compiled hook artifacts (`None`: no disk
    /// cache; the CLI's default is beside the SQLite database, see
    /// [`crate::flows::artifact_disk::resolve_dir`]).
    pub artifact_cache: Option<std::path::PathBuf>,
}

impl Settings {
    /// Defaults for the given listen address and database.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            database_url: database_url.into(),
            database_direct_url: None,
            public_url: None,
            master_key: None,
            passwords: PasswordHasher::default(),
            max_connections: config::DEFAULT_MAX_CONNECTIONS,
            db_acquire_timeout: crate::store::DEFAULT_ACQUIRE_TIMEOUT,
            sqlite_sync: crate::store::SqliteSync::default(),
            request_timeout: crate::http::unavailable::DEFAULT_REQUEST_TIMEOUT,
            clock: Arc::new(SystemClock),
            hook_runtime: None,
            compiler: CompilerSettings::current_exe(),
            upload_rate: UploadRate::default(),
            hook_pool: RuntimeSettings::default(),
            hook_fetch: FetchSettings::new(),
            hook_fetch_ceilings: FetchCeilings::default(),
            hook_ceilings: Limits::default(),
            trusted_proxies: Vec::new(),
            sessions: Default::default(),
            login_lock: Default::default(),
            refresh_retry_grace: std::time::Duration::from_secs(
                config::DEFAULT_REFRESH_RETRY_GRACE_SECONDS,
            ),
            traces_kept: crate::flows::TRACES_KEPT,
            traces_per_second: crate::flows::trace_rate::DEFAULT_PER_SECOND,
            metrics_listen: None,
            metrics_token: None,
            metrics_tenant_labels: false,
            drain: std::time::Duration::from_secs(crate::http::serve::DEFAULT_DRAIN_SECONDS),
            change_probe: crate::store::changes::PROBE_WHEN_QUIET,
            artifact_cache: None,
        }
    }
}

/// The migrated database and its data key: what every command that opens the database
/// needs, and nothing that runs hooks (no wasm engine, no threads).
#[derive(Debug)]
pub struct Connected {
    /// The database, migrated.
    pub store: Store,
    /// The data key every stored secret derives from, opened with the master key (see
    /// [`crate::root_key`]).
    pub master: MasterKey,
    /// Where the root key came from.
    pub key_source: KeySource,
}

/// Resolves the master key, connects, migrates and opens the data key with the master key.
pub async fn connect(settings: &Settings) -> Result<Connected, StartupError> {
    let (master, key_source) =
        config::master_key(&settings.database_url, settings.master_key.as_deref())?;
    let store = Store::connect_with(
        &settings.database_url,
        settings.max_connections,
        settings.db_acquire_timeout,
        settings.sqlite_sync,
    )
    .await?
    .with_direct_url(settings.database_direct_url.as_deref())?;
    store.migrate().await?;
    let data = crate::root_key::open(&store, &master, settings.clock.now_ms()).await?;
    Ok(Connected {
        store,
        master: data,
        key_source,
    })
}

/// The hook runtime (or the shared one the settings carry) and what managing hooks needs, with
/// keys derived from `master`. Building it starts a wasm engine: only the server and the
/// commands that manage hooks call this.
pub fn hooks(
    settings: &Settings,
    store: &Store,
    master: &MasterKey,
) -> Result<Hooks, StartupError> {
    let runtime_settings = match &settings.hook_runtime {
        Some(r) => r.settings(),
        None => settings.hook_pool,
    };
    config::check_hook_ceilings(&settings.hook_ceilings, &runtime_settings)?;
    let runtime = match &settings.hook_runtime {
        Some(r) => r.clone(),
        None => HookRuntime::with_fetch(settings.hook_pool, settings.hook_fetch.clone())?,
    };
    // The server's one registry: the hook side counts into it, and `services` hands the same
    // one to the rest.
    let metrics = Arc::new(Metrics::new(settings.metrics_tenant_labels));
    Ok(Hooks {
        runtime,
        compiler: settings.compiler.clone(),
        compile_gate: CompileGate::new(settings.compiler.workers, settings.compiler.queue),
        uploads: UploadLimiter::new(settings.upload_rate),
        seal: ArtifactSeal::new(master.derive("artifact-mac")),
        artifact_disk: settings
            .artifact_cache
            .clone()
            .map(crate::flows::artifact_disk::ArtifactDisk::new),
        secrets: Sealer::new(master, "hook-secrets"),
        ceilings: settings.hook_ceilings,
        fetch_ceilings: settings.hook_fetch_ceilings,
        flows: Default::default(),
        traces: crate::flows::traces::TraceWriter::start(
            store.clone(),
            settings.traces_kept,
            settings.traces_per_second,
            crate::flows::traces::TraceCounters {
                dropped: metrics.traces_dropped(),
                skipped: metrics.traces_skipped(),
            },
        ),
        metrics,
    })
}

/// Connects, migrates, resolves the master key and starts the hook runtime: everything but
/// the listener.
pub async fn services(
    settings: &Settings,
    public_url: String,
) -> Result<(Services, KeySource), StartupError> {
    let Connected {
        store,
        master,
        key_source: source,
    } = connect(settings).await?;
    let hooks = hooks(settings, &store, &master)?;
    let metrics = hooks.metrics.clone();
    let svc = Services::new(
        Db::new(store, settings.clock.clone()),
        master,
        settings.passwords.clone(),
        public_url,
        hooks,
        crate::services::LoginPolicy {
            trusted_proxies: settings.trusted_proxies.clone(),
            sessions: settings.sessions,
            lock: settings.login_lock,
            refresh_retry_grace: settings.refresh_retry_grace,
        },
        metrics,
    )?;
    Ok((svc, source))
}

/// A built, bound, not yet serving server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    /// The separate `/metrics` listener, when configured.
    metrics_listener: Option<TcpListener>,
    metrics: crate::http::metrics::Exposure,
    request_timeout: std::time::Duration,
    svc: Services,
    bootstrap_key: Option<ApiKeyCreated>,
    key_source: KeySource,
    drain: std::time::Duration,
    change_probe: std::time::Duration,
}

impl Application {
    /// Builds the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| StartupError::Bind(settings.listen, e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| StartupError::Bind(settings.listen, e))?;
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartupError::Bind(addr, e))?,
            ),
            None => None,
        };
        let metrics = match (&metrics_listener, &settings.metrics_token) {
            (Some(_), _) => crate::http::metrics::Exposure::Elsewhere,
            (None, Some(token)) => crate::http::metrics::Exposure::Token(Arc::new(token.clone())),
            (None, None) => crate::http::metrics::Exposure::Off,
        };
        let public_url = config::public_url(settings.public_url.as_deref(), bound)?;
        config::check_direct_url(
            &settings.database_url,
            settings.database_direct_url.as_deref(),
        )?;
        let (svc, key_source) = services(&settings, public_url).await?;
        sweep(&svc.db.store).await;
        let bootstrap_key = tenants::bootstrap(&svc.db, &svc.secrets).await?;
        let issuers = svc.issuers.clone();
        crate::manage::dashboard::follow_public_url(&svc.db, |t| issuers.of(t))
            .await
            .map_err(StartupError::Dashboard)?;
        Ok(Self {
            listener,
            metrics_listener,
            metrics,
            request_timeout: settings.request_timeout,
            svc,
            bootstrap_key,
            key_source,
            drain: settings.drain,
            change_probe: settings.change_probe,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The bound address (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The public base URL: issuers are `{public_url}/t/{tenant}`.
    pub fn public_url(&self) -> &str {
        self.svc.issuers.base()
    }

    /// The bound port of the separate `/metrics` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        let l = self.metrics_listener.as_ref()?;
        l.local_addr().ok().map(|a| a.port())
    }

    /// The operator key created on first start (`None` on later starts).
    pub fn bootstrap_key(&self) -> Option<&ApiKeyCreated> {
        self.bootstrap_key.as_ref()
    }

    /// Where the master key came from.
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    /// The services, for tests that inspect state directly.
    pub fn services(&self) -> &Services {
        &self.svc
    }

    /// Serves until `shutdown` resolves, then drains: `/readyz` answers 503 `draining`, new
    /// connections are refused, in-flight requests have the drain bound to finish and the
    /// connections still open after it are dropped (see [`crate::http::serve`]); then the
    /// queued hook traces are stored and the pool closed. Meanwhile the tenants' bound hooks
    /// are prepared in the background (`/readyz` says `starting` until they are).
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let maintenance = tokio::spawn(maintenance(self.svc.db.clone()));
        let changes = self
            .svc
            .db
            .store
            .change_feed(self.change_probe)
            .map(|feed| tokio::spawn(follow_changes(feed, self.svc.clone())));
        let warm_up = tokio::spawn(warm_up(self.svc.clone()));
        let metrics_server = self.serve_metrics();
        let app = crate::http::app(self.svc.clone(), self.metrics.clone(), self.request_timeout);
        let health = self.svc.health.clone();
        let drain = self.drain;
        let shutdown = async move {
            shutdown.await;
            health.start_draining();
            tracing::info!(
                drain_seconds = drain.as_secs_f64(),
                "draining: refusing new connections, finishing in-flight requests"
            );
        };
        let drained = crate::http::serve::serve(self.listener, app, shutdown, drain).await;
        maintenance.abort();
        if let Some(c) = changes {
            c.abort();
        }
        warm_up.abort();
        if let Some(m) = metrics_server {
            m.abort();
        }
        self.svc.hooks.traces.flush().await;
        self.svc.db.store.close().await;
        tracing::info!(
            connections = drained.open,
            dropped = drained.dropped,
            "stopped"
        );
        Ok(())
    }
}

impl Application {
    /// Starts the separate `/metrics` listener, if any (stopped with the main one: a scrape
    /// needs no draining), and logs how `/metrics` can be reached.
    fn serve_metrics(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        use crate::http::metrics::Exposure;
        match &self.metrics {
            Exposure::Off => tracing::info!(
                "/metrics is off: set SIGIL_METRICS_TOKEN to serve it here to \
                 `Authorization: Bearer <token>`, or --metrics-listen ADDR to serve it on a \
                 private listener"
            ),
            Exposure::Token(_) => tracing::info!(
                "/metrics is served here to `Authorization: Bearer <SIGIL_METRICS_TOKEN>`"
            ),
            Exposure::Elsewhere => {}
        }
        let listener = self.metrics_listener.take()?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "/metrics is served on its own listener, without authentication");
        }
        let app = crate::http::metrics::router(self.svc.clone());
        Some(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        }))
    }
}

/// Start-up work in the background: the tenants' bound hooks prepared (then `/readyz` says
/// ready), then the disk cache of compiled artifacts swept of what no version uses.
async fn warm_up(svc: Services) {
    crate::health::warm_hooks(&svc.db, &svc.hooks, &svc.health).await;
    match crate::flows::sweep_disk_artifacts(&svc.db.store, &svc.hooks, svc.db.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deleted = n,
            "deleted cached artifact files no hook version of this engine uses"
        ),
        Err(e) => tracing::warn!(error = %e, "sweeping the disk artifact cache failed"),
    }
}

/// Start-up housekeeping: deletes compiled artifacts no hook version references. A failure
/// is logged, not fatal: orphans only cost disk space, and the next start tries again.
async fn sweep(store: &Store) {
    match crate::flows::sweep_orphan_artifacts(store).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deleted = n,
            "deleted compiled artifacts no hook version uses"
        ),
        Err(e) => tracing::warn!(error = %e, "sweeping unused compiled artifacts failed"),
    }
}

/// How often expired authorization codes are deleted.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
/// How long an expired code row is kept before it is deleted (as before this task existed).
const EXPIRED_CODES_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Periodic housekeeping, off the request path: expired authorization codes are deleted at
/// start and then every [`PURGE_EVERY`]. Time comes from the injected clock.
async fn maintenance(db: Db) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        let before = db.now() - EXPIRED_CODES_KEPT_MS;
        let purged = async {
            let mut tx = db.store.begin_write().await?;
            let n = crate::store::codes::purge_codes(&mut tx, before).await?;
            tx.commit().await?;
            Ok::<u64, StoreError>(n)
        }
        .await;
        match purged {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "deleted expired authorization codes"),
            Err(e) => tracing::warn!(error = %e, "purging expired authorization codes failed"),
        }
    }
}

/// Applies every change the database announces to this node's caches, for as long as the
/// server runs (see [`crate::invalidation`]).
async fn follow_changes(mut feed: crate::store::changes::ChangeFeed, svc: Services) {
    loop {
        let heard = feed.next().await;
        svc.caches().apply(&heard);
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining connections");
}
