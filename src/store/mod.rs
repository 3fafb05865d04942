//! Every SQL statement Sigil runs, grouped by aggregate.
//!
//! One set of queries serves SQLite (the embedded default) and PostgreSQL through sqlx's `Any`
//! driver. That works because the two schemas in `migrations/` are column-for-column the same
//! and restricted to types both agree on: TEXT (ids, JSON), BIGINT (epoch milliseconds,
//! counters, booleans as 0/1). Placeholders are `$N`, which both accept.
//!
//! Where the dialects differ, [`Store`] hides it: [`Store::begin_write`] takes SQLite's write
//! lock up front (`BEGIN IMMEDIATE`), and the `*_for_update` reads (which take the
//! [`WriteTx`]) add PostgreSQL's row lock to a read that is followed by a write of the same row.
//!
//! Every statement runs on an [`Exec`] from a [`Read`] ([`Store::read`]) or a [`WriteTx`], so
//! the one place that knows about a transaction pooler in front of PostgreSQL ([`conn`]) sends
//! them all the way it needs, and on SQLite runs them on the calling thread on connections the
//! store holds ([`lite`]) rather than through sqlx's driver, which hops to a thread per
//! connection for every statement. On PostgreSQL a read keeps its connection for the next read
//! ([`warm`]) rather than handing it back to sqlx, which would check it once more on the way.
//!
//! Rows are decoded once, here ([`types`]): flags are `bool`, JSON columns typed values, grant
//! types, client types and signing algorithms enums; a value that does not decode is
//! [`StoreError::Corrupt`], never a default. Every function that writes takes the [`WriteTx`],
//! so on SQLite no write bypasses the writer queue.

pub mod api_keys;
pub mod apis;
pub mod apps;
pub mod audit;
pub mod changes;
pub mod client_grants;
pub mod codes;
pub mod conn;
pub mod consents;
pub mod data_key_seals;
mod error;
pub mod flows;
pub mod grants;
pub mod hook_traces;
pub mod hooks;
pub mod hot;
pub mod legacy;
pub mod like;
pub mod lite;
pub mod login_failures;
pub mod metadata_keys;
pub mod orgs;
mod page;
pub mod read_retried;
pub mod refresh_read;
pub mod refresh_tokens;
pub mod roles;
pub mod rotation;
pub mod schema;
pub mod sessions;
pub mod signing_keys;
pub mod sqlite_open;
pub mod templates;
pub mod tenants;
pub mod types;
pub mod unavailable;
pub mod unique;
pub mod users;
pub mod warm;
mod write_tx;

pub use conn::{Exec, Pooler, Read};
pub use error::StoreError;
pub use page::Page;
pub use sqlite_open::SqliteSync;
use sqlite_open::retry_while_busy;
pub use types::{ApiScope, ClientType, GrantType, SigningAlg};
pub(crate) use types::{flag, to_json};
pub(crate) use unique::unique;
use write_tx::WriteConn;
pub use write_tx::{WriteAnnounced, WriteTx};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Transaction};

/// A transaction on either back-end.
pub type Tx = Transaction<'static, Any>;

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How much of the connection pool is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The connection pool and the dialect it speaks.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL (without `pooler=`), for the change listener's own connection (PostgreSQL).
    url: crate::crypto::Secret,
    /// A URL straight to PostgreSQL for the change listener, when `url` goes through a pooler
    /// ([`Store::with_direct_url`]).
    direct_url: Option<crate::crypto::Secret>,
    pooler: Pooler,
    /// The SQLite connections statements run on ([`lite`]); `None` on PostgreSQL.
    lite: Option<std::sync::Arc<lite::LiteDb>>,
    /// This node's copies of tenants and applications ([`hot`]).
    hot: std::sync::Arc<hot::HotRows>,
    /// The SQLite database's file (its migration lock file sits beside it: [`schema::migrate`]).
    sqlite_file: Option<PathBuf>,
    /// PostgreSQL connections kept between reads ([`warm`]).
    warm: std::sync::Arc<warm::Warm>,
}

/// How long a request waits for a database connection by default (`--db-acquire-timeout-ms`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) with the default acquire timeout.
    /// For SQLite the file and its directory are created when missing. A PostgreSQL URL reached
    /// through a transaction pooler says so with `pooler=transaction` (see [`conn`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(
            url,
            max_connections,
            DEFAULT_ACQUIRE_TIMEOUT,
            SqliteSync::default(),
        )
        .await
    }

    /// Connects with a pool of at most `max_connections` that waits at most `acquire_timeout`
    /// for a connection. That one deadline bounds everything a connection can wait on before
    /// its first statement: a free slot in the pool, the liveness ping of an idle connection
    /// (sqlx's `test_before_acquire`, on by default, so a connection the database dropped while
    /// it sat idle is replaced, not handed out), and opening a new one, which also makes it the
    /// connect timeout (a host that drops SYNs cannot hang a request; a refused connect is
    /// retried with backoff until the deadline, so a restart shorter than it costs latency,
    /// not an error). Past it the failure is [`StoreError::Unavailable`].
    ///
    /// On SQLite every connection commits with `sync` ([`SqliteSync`]).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
        sync: SqliteSync,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let (url, pooler) = conn::split_pooler(url)?;
        let url = url.as_str();
        if backend == Backend::Sqlite && pooler != Pooler::None {
            return Err(StoreError::Pooler("a pooler in front of SQLite".into()));
        }
        let given = crate::crypto::Secret::new(url.to_string());
        let url = match backend {
            Backend::Sqlite => {
                if let Some(dir) = sqlite_path(url).and_then(|p| p.parent().map(Path::to_path_buf))
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| StoreError::DataDir(dir.display().to_string(), e))?;
                }
                if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            Backend::Postgres => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pragma = (backend == Backend::Sqlite).then(|| sync.pragma());
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            // sqlx's default, set here because recovery after a database restart relies on it:
            // a PostgreSQL connection the server ended while it sat idle is replaced, not handed
            // out. A SQLite connection is a file handle nothing can end from outside, and the
            // check would cost every read a round trip to the connection's thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if let Some(pragma) = pragma {
                        sqlx::Executor::execute(conn, pragma).await?;
                    }
                    Ok(())
                })
            });
        let sqlite_file = sqlite_path(&url);
        let (pool, lite) = match backend {
            Backend::Postgres => (options.connect_with(opts).await?, None),
            Backend::Sqlite => {
                // sqlx's pool opens the file (and is what migrations and tests' own SQL use);
                // the server's statements run on `lite`'s connections.
                let Some(file) = sqlite_file.as_deref() else {
                    return Err(StoreError::UnsupportedUrl(format!(
                        "{url} (SQLite needs a file)"
                    )));
                };
                let pool = retry_while_busy(|| options.clone().connect_with(opts.clone())).await?;
                // WAL lets readers proceed while one writer holds the lock; the setting
                // persists in the file, so once per start is enough.
                retry_while_busy(|| sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&pool))
                    .await?;
                // Its connections meet the same switch and recovery; they wait in no busy
                // handler (the writer's is off), so they are retried the same way.
                let lite = retry_while_busy(|| async {
                    lite::LiteDb::open(file, max_connections, acquire_timeout, sync)
                })
                .await?;
                (pool, Some(lite))
            }
        };
        Ok(Self {
            pool,
            backend,
            url: given,
            direct_url: None,
            pooler,
            lite,
            hot: Default::default(),
            sqlite_file,
            warm: std::sync::Arc::new(warm::Warm::new(acquire_timeout, max_connections)),
        })
    }

    /// Applies the embedded migrations for this back-end, one node at a time.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        schema::migrate(self, self.sqlite_file.as_deref()).await
    }

    /// The migrations this binary embeds for this back-end.
    pub(crate) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// A subscription to the changes every node announces ([`changes`]); `None` on SQLite,
    /// where one process serves, and behind a transaction pooler without a direct URL (which
    /// `config::check_direct_url` refuses at a server's start). `probe` is how long it may hear
    /// nothing before it checks its connection ([`changes::PROBE_WHEN_QUIET`] in production).
    pub fn change_feed(&self, probe: std::time::Duration) -> Option<changes::ChangeFeed> {
        let url = match (&self.direct_url, self.pooler) {
            (Some(direct), _) => direct,
            (None, Pooler::None) => &self.url,
            (None, Pooler::Transaction) => return None,
        };
        (self.backend == Backend::Postgres).then(|| changes::ChangeFeed::new(url.clone(), probe))
    }

    /// Sets the URL the change listener connects to instead of the store's own. Behind a
    /// transaction pooler it is needed: `LISTEN` subscribes a session, and the pooler hands
    /// the session's server connection to other clients between transactions (notifications
    /// would reach whoever holds it). It must name PostgreSQL itself, without a pooler.
    pub fn with_direct_url(mut self, direct: Option<&str>) -> Result<Self, StoreError> {
        let Some(direct) = direct.filter(|d| !d.trim().is_empty()) else {
            return Ok(self);
        };
        let (plain, pooler) = conn::split_pooler(direct)?;
        if self.backend != Backend::Postgres
            || backend_of(&plain)? != Backend::Postgres
            || pooler != Pooler::None
        {
            return Err(StoreError::DirectUrl);
        }
        self.direct_url = Some(crate::crypto::Secret::new(plain));
        Ok(self)
    }

    /// The back-end in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool itself, for tests and tools that inspect the database with SQL of their own.
    /// The server reads through [`Store::read`] instead (clippy.toml bans this outside tests):
    /// statements sent straight to the pool would break behind a transaction pooler.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// This node's copies of tenants and applications, for the change feed to drop.
    pub fn hot(&self) -> &hot::HotRows {
        &self.hot
    }

    /// What stands between this store and PostgreSQL.
    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// A connection for reads: `store_fn(store.read().await?.conn(), ...)` for one statement,
    /// or a `Read` held for several that belong together. Costs what a read from the pool
    /// costs; behind a transaction pooler it is a transaction (see [`conn`]).
    pub async fn read(&self) -> Result<Read, StoreError> {
        self.open_read(false).await
    }

    /// A read whose connection, with `retryable`, may be one a read gave back within
    /// [`warm::RECENT`], unchecked ([`Store::read_retried`] is the one caller that can run its
    /// statement again).
    async fn open_read(&self, retryable: bool) -> Result<Read, StoreError> {
        match &self.lite {
            Some(lite) => Ok(Read::lite(lite.reader().await?)),
            None => Read::open(&self.pool, self.pooler, &self.warm, retryable).await,
        }
    }

    /// Checks the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        // The simple protocol (`raw_sql`), one round trip, nothing prepared: safe behind any
        // pooler. `sqlx::query` would prepare a named statement even without parameters, which
        // behind a transaction pooler stays on a server connection that another client (a
        // starting node's migrator) later gets, and its own `sqlx_s_1` then fails with "already
        // exists".
        match &self.lite {
            Some(lite) => {
                let mut read = lite.reader().await?;
                sqlx::Executor::execute(Exec::lite(read.conn()), "SELECT 1").await?;
            }
            None => {
                sqlx::raw_sql("SELECT 1").execute(&self.pool).await?;
            }
        }
        Ok(())
    }

    /// A transaction for writes. On SQLite it takes the write lock at `BEGIN` so a
    /// read-modify-write cannot interleave with another writer (a deferred transaction would
    /// fail with SQLITE_BUSY when upgrading its read lock).
    ///
    /// Cancellation-safe: a request can be dropped at any `.await` (its client hung up). On
    /// SQLite `BEGIN` runs on this thread, so there is no moment when it has begun and no
    /// [`WriteTx`] owns it ([`lite::LiteDb::begin`]). On PostgreSQL, were the request dropped
    /// while `BEGIN` was in flight, the driver would already have opened the transaction on a
    /// connection that no `WriteTx` owns; so `BEGIN` is sent from a task of its own, which
    /// finishes whatever becomes of the caller: a transaction nobody receives is dropped there
    /// and rolled back.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let conn = match &self.lite {
            Some(lite) => WriteConn::Sqlite(lite.begin().await?),
            None => {
                let pool = self.pool.clone();
                match tokio::spawn(async move { pool.begin().await }).await {
                    Ok(tx) => WriteConn::Postgres(tx?),
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Only when the runtime shuts down.
                    Err(_) => return Err(StoreError::from(sqlx::Error::PoolClosed)),
                }
            }
        };
        Ok(WriteTx {
            conn,
            pooler: self.pooler,
            hot: self.hot.clone(),
            forget: Vec::new(),
        })
    }

    /// The connections as of now, for `/metrics` (read at scrape, not counted): the pool's on
    /// PostgreSQL, on SQLite the server's readers ([`lite::LiteDb::usage`]).
    pub fn pool_usage(&self) -> PoolUsage {
        if let Some(lite) = &self.lite {
            return lite.usage();
        }
        // A connection kept between reads is idle too ([`warm`]).
        let idle = self.pool.num_idle() + self.warm.len();
        PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Closes the pool (and on SQLite the server's own connections: [`lite::LiteDb::close`]).
    pub async fn close(&self) {
        if let Some(lite) = &self.lite {
            lite.close();
        }
        // The pool waits for every connection to come back, kept ones too.
        self.warm.close();
        self.pool.close().await;
    }
}

/// Which back-end a URL names.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

/// The file a `sqlite://` URL points at, if it names one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(backend_of("sqlite://data/x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(backend_of("mysql://x").is_err());
        assert_eq!(
            sqlite_path("sqlite://./data/sigil.db?mode=rwc"),
            Some(PathBuf::from("./data/sigil.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[tokio::test]
    async fn every_sqlite_connection_commits_at_the_synchronous_level_asked_for() {
        let dir = std::env::temp_dir().join(format!("sigil-sync-{}", std::process::id()));
        for (sync, level) in [(SqliteSync::Normal, 1_i64), (SqliteSync::Full, 2)] {
            let url = format!("sqlite://{}/{level}.db", dir.display());
            let store = Store::connect_with(&url, 3, DEFAULT_ACQUIRE_TIMEOUT, sync)
                .await
                .unwrap();
            // Several connections at once, so each is a new one that ran the setting.
            let mut reads = Vec::new();
            for _ in 0..3 {
                reads.push(store.read().await.unwrap());
            }
            for r in &mut reads {
                let (got,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                    .fetch_one(r.conn())
                    .await
                    .unwrap();
                assert_eq!(got, level, "{sync:?}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_synchronous_level_reads_from_its_flag_value() {
        assert_eq!("normal".parse::<SqliteSync>(), Ok(SqliteSync::Normal));
        assert_eq!("full".parse::<SqliteSync>(), Ok(SqliteSync::Full));
        assert!("off".parse::<SqliteSync>().unwrap_err().contains("off"));
    }
}
