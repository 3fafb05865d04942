//! Server configuration: the checks and resolutions of what the operator sets (the binary's
//! flags and environment variables, `startup::Settings` in code), run at start so a bad value
//! stops the server with a message naming it instead of failing the first login.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sigil_hooks::Limits;
use sigil_hooks::caches::CacheBounds;
use sigil_hooks::engine::EngineSettings;
use sigil_hooks::runtime::RuntimeSettings;

use crate::crypto::{CryptoError, MasterKey};
use crate::passwords::PasswordHasher;
use crate::store::{self, Backend};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default database: an embedded SQLite file under `./data/`.
pub const DEFAULT_DATABASE: &str = "sqlite://./data/sigil.db";
/// Seconds after a refresh token's rotation during which presenting it again is a retry of a
/// lost answer, not reuse: long enough for a client's immediate retry through a balancer
/// after a node died, short enough that a stolen token replayed later is still caught.
pub const DEFAULT_REFRESH_RETRY_GRACE_SECONDS: u64 = 5;
/// Default size of the database pool.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default argon2id parameters (memory KiB, passes, lanes): `PasswordHasher::default()`'s,
/// OWASP's first recommendation.
pub const DEFAULT_ARGON2: (u32, u32, u32) = (19 * 1024, 2, 1);

/// Errors in the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// PostgreSQL mode needs an explicit key so every node shares it.
    #[error(
        "SIGIL_MASTER_KEY is required with PostgreSQL (every node must share it); generate one with `openssl rand -base64 32`"
    )]
    MasterKeyRequired,
    /// A key was given but is malformed, or the key file failed.
    #[error(transparent)]
    Key(#[from] CryptoError),
    /// The database URL is not supported.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The public URL is not a URL.
    #[error("--public-url must be an absolute http(s) URL: {0}")]
    PublicUrl(String),
    /// argon2 refuses the parameters.
    #[error("argon2id parameters m={memory_kib} KiB, t={passes}, p={lanes}: {reason}")]
    Argon2 {
        /// `--argon2-memory-kib`.
        memory_kib: u32,
        /// `--argon2-passes`.
        passes: u32,
        /// `--argon2-lanes`.
        lanes: u32,
        /// argon2's reason.
        reason: String,
    },
    /// A limit of the brute-force lock out of its range (0 would lock every login, or never
    /// end a window; beyond the maximum it is a typo).
    #[error("{flag} must be between 1 and {max}, got {value}")]
    LoginLock {
        /// The flag and its variable, e.g. `--login-max-failures (SIGIL_LOGIN_MAX_FAILURES)`.
        flag: &'static str,
        /// The largest value accepted.
        max: u32,
        /// The value given.
        value: u32,
    },
    /// The database URL goes through a transaction pooler and no direct URL is set.
    #[error(
        "the database URL says pooler=transaction: the change listener (LISTEN) cannot work through the pooler, so set --database-direct-url (SIGIL_DATABASE_DIRECT_URL) to PostgreSQL itself"
    )]
    DirectUrlRequired,
    /// A hook ceiling the runtime cannot honour.
    #[error("hook ceiling {name}: {reason}")]
    HookCeiling {
        /// The limit's name, as in the API (`memory_bytes`).
        name: &'static str,
        /// Why it cannot be used.
        reason: String,
    },
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From the `SIGIL_MASTER_KEY` environment variable.
    Env,
    /// A file beside the SQLite data; `true` when it was created just now.
    File(PathBuf, bool),
}

/// Resolves the master key: the given value, else (SQLite only) a file beside the database,
/// created on first start.
pub fn master_key(
    database_url: &str,
    given: Option<&str>,
) -> Result<(MasterKey, KeySource), ConfigError> {
    if let Some(k) = given.filter(|k| !k.trim().is_empty()) {
        return Ok((MasterKey::from_base64(k)?, KeySource::Env));
    }
    match store::backend_of(database_url)? {
        Backend::Postgres => Err(ConfigError::MasterKeyRequired),
        Backend::Sqlite => {
            let path = master_key_file(database_url);
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| CryptoError::KeyFile {
                path: dir.display().to_string(),
                source: e,
            })?;
            let (key, created) = MasterKey::load_or_create(&path)?;
            Ok((key, KeySource::File(path, created)))
        }
    }
}

/// Where a SQLite database's master key file is: `master.key` beside the database file
/// (under `./data` for a URL that names no file).
pub fn master_key_file(database_url: &str) -> PathBuf {
    let dir = match store::sqlite_path(database_url) {
        None => PathBuf::from("./data"),
        Some(file) => file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    dir.join("master.key")
}

/// Where the first start leaves the operator API key when no terminal is there to show it:
/// beside the master key (the SQLite database's directory, or `./data`).
pub fn operator_key_file(database_url: &str) -> PathBuf {
    master_key_file(database_url).with_file_name("operator-key")
}

/// Where `sigil serve` listens, as the operator wrote it: `IP:PORT`, or `HOST:PORT` resolved
/// once at start.
#[derive(Debug, Clone)]
pub struct Listen {
    /// The address to bind.
    pub addr: SocketAddr,
    /// The host name, when the address was given by name (`localhost:8080`).
    pub name: Option<String>,
}

impl std::str::FromStr for Listen {
    type Err = String;

    /// A name resolves to its IPv4 address when it has one, so `localhost:8080` answers the
    /// `curl http://127.0.0.1:8080` of the README whichever order the resolver returns.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use std::net::ToSocketAddrs;
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Self { addr, name: None });
        }
        let (host, port) = s
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| {
                format!("`{s}` is not HOST:PORT (e.g. 127.0.0.1:8080 or localhost:8080)")
            })?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{port}` is not a port (0-65535)"))?;
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| format!("`{host}` resolves to no address"))?;
        Ok(Self {
            addr,
            name: Some(s.to_string()),
        })
    }
}

impl Listen {
    /// The public URL this listen address implies when none is configured: a name the operator
    /// wrote stays a name (`http://localhost:8080`, so issuers read as they expect); `None`
    /// means `http://{bound address}`, decided once bound (port 0 picks the port then).
    pub fn implied_public_url(&self) -> Option<String> {
        self.name
            .as_ref()
            .filter(|_| self.addr.port() != 0)
            .map(|n| format!("http://{n}"))
    }
}

/// The public base URL: the given one (trailing slash removed) or `http://{listen}`.
pub fn public_url(given: Option<&str>, listen: SocketAddr) -> Result<String, ConfigError> {
    match given.filter(|s| !s.is_empty()) {
        None => Ok(format!("http://{listen}")),
        Some(u) => {
            let parsed = url::Url::parse(u).map_err(|_| ConfigError::PublicUrl(u.into()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                return Err(ConfigError::PublicUrl(u.into()));
            }
            Ok(u.trim_end_matches('/').to_string())
        }
    }
}

/// argon2id with the operator's parameters, checked first (the hasher itself treats bad
/// parameters as a bug and panics).
pub fn password_hasher(
    memory_kib: u32,
    passes: u32,
    lanes: u32,
) -> Result<PasswordHasher, ConfigError> {
    argon2::Params::new(memory_kib, passes, lanes, None).map_err(|e| ConfigError::Argon2 {
        memory_kib,
        passes,
        lanes,
        reason: e.to_string(),
    })?;
    Ok(PasswordHasher::new(memory_kib, passes, lanes))
}

/// Checks the operator's hook ceilings against the runtime that will enforce them: every
/// budget at least 1 (a zero deadline or fuel would fail every hook), and the memory ceiling
/// within what the engine's pool reserves per instance (above it, the ceiling would be a
/// promise the pool cannot keep).
pub fn check_hook_ceilings(
    ceilings: &Limits,
    runtime: &RuntimeSettings,
) -> Result<(), ConfigError> {
    for (name, value) in [
        ("deadline_ms", ceilings.deadline_ms),
        ("flow_deadline_ms", ceilings.flow_deadline_ms),
        ("fuel", ceilings.fuel),
    ] {
        if value == 0 {
            return Err(ConfigError::HookCeiling {
                name,
                reason: "must be at least 1".into(),
            });
        }
    }
    let engine_max = runtime.engine.max_memory_bytes;
    if ceilings.memory_bytes > engine_max {
        return Err(ConfigError::HookCeiling {
            name: "memory_bytes",
            reason: format!(
                "{} bytes is over the {engine_max} bytes the engine reserves per instance",
                ceilings.memory_bytes
            ),
        });
    }
    Ok(())
}

/// The hook runtime's sizing from what the operator gave; what is not given follows
/// [`RuntimeSettings::default`]'s rules, a tenant's share included: half the threads given
/// (at least one), so a tenant's spinning hooks can never hold the whole pool.
pub fn hook_runtime(
    threads: Option<usize>,
    per_tenant: Option<usize>,
    pool_instances: u32,
    caches: CacheBounds,
) -> RuntimeSettings {
    let defaults = RuntimeSettings::default();
    let threads = threads.unwrap_or(defaults.threads);
    RuntimeSettings {
        engine: EngineSettings {
            pool_instances,
            ..defaults.engine
        },
        threads,
        per_tenant: per_tenant.unwrap_or((threads / 2).max(1)),
        caches,
    }
}

/// A server whose database URL goes through a transaction pooler (`pooler=transaction`, see
/// `store::conn`) needs a direct URL too: every node listens for the others' changes
/// (`store::changes`), and `LISTEN` needs a session of its own, which such a pooler does not
/// keep. Without it, changes made on one node would reach the others only when their caches
/// expire, so the server refuses to start. (The direct URL itself is checked by
/// `Store::with_direct_url`.)
pub fn check_direct_url(database_url: &str, direct: Option<&str>) -> Result<(), ConfigError> {
    let (_, pooler) = store::conn::split_pooler(database_url)?;
    if pooler == store::Pooler::Transaction && direct.is_none_or(|d| d.trim().is_empty()) {
        return Err(ConfigError::DirectUrlRequired);
    }
    Ok(())
}

/// A database URL fit for a log line: its password replaced by `redacted`.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    let in_query = u.query_pairs().any(|(k, _)| k == "password");
    if u.password().is_none() && !in_query {
        return url.to_string(); // nothing to hide: the URL exactly as configured
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("redacted"));
    }
    // libpq-style URLs may carry the password as a query parameter instead.
    if in_query {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "redacted".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Browser login session lifetimes (operator settings).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends a session unused for this long (ms).
    pub idle_ms: i64,
    /// Ends a session this long after the login, used or not (ms).
    pub absolute_ms: i64,
    /// The session cookie outlives the browser (`Max-Age` of the absolute lifetime), so single
    /// sign-on survives a browser restart; `false` makes it a session-only cookie that the
    /// browser forgets when it closes (kiosks, shared machines).
    pub persistent_cookie: bool,
}

impl Default for SessionPolicy {
    /// Three days idle, seven days absolute (Auth0's defaults).
    fn default() -> Self {
        Self {
            idle_ms: 3 * 24 * 3600 * 1000,
            absolute_ms: 7 * 24 * 3600 * 1000,
            persistent_cookie: true,
        }
    }
}

/// Default of `--login-max-failures`: password attempts one IP may make for one user per window.
pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 10;
/// Default of `--login-lock-minutes`: the window, from the first attempt.
pub const DEFAULT_LOGIN_LOCK_MINUTES: u32 = 15;
/// The most attempts a window may allow: beyond it the lock no longer slows a guesser.
pub const MAX_LOGIN_MAX_FAILURES: u32 = 1000;
/// The longest window: a week (a longer one is a typo, and only locks users out).
pub const MAX_LOGIN_LOCK_MINUTES: u32 = 7 * 24 * 60;

/// The brute-force lock's limits (operator settings): a (user, IP) pair may make
/// `max_failures` password attempts in a window that starts at its first attempt and lasts
/// `lock_minutes`; further attempts are refused until the window ends (a success clears the
/// count). Made only by [`LoginLock::new`], so the values are always in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLock {
    max_failures: u32,
    lock_minutes: u32,
}

impl LoginLock {
    /// Checks the limits; the error names the flag at fault.
    pub fn new(max_failures: u32, lock_minutes: u32) -> Result<Self, ConfigError> {
        if !(1..=MAX_LOGIN_MAX_FAILURES).contains(&max_failures) {
            return Err(ConfigError::LoginLock {
                flag: "--login-max-failures (SIGIL_LOGIN_MAX_FAILURES)",
                max: MAX_LOGIN_MAX_FAILURES,
                value: max_failures,
            });
        }
        if !(1..=MAX_LOGIN_LOCK_MINUTES).contains(&lock_minutes) {
            return Err(ConfigError::LoginLock {
                flag: "--login-lock-minutes (SIGIL_LOGIN_LOCK_MINUTES)",
                max: MAX_LOGIN_LOCK_MINUTES,
                value: lock_minutes,
            });
        }
        Ok(Self {
            max_failures,
            lock_minutes,
        })
    }

    /// Attempts a pair may make in one window.
    pub fn max_failures(&self) -> i64 {
        i64::from(self.max_failures)
    }

    /// The window's length in minutes.
    pub fn lock_minutes(&self) -> i64 {
        i64::from(self.lock_minutes)
    }

    /// The window's length in milliseconds.
    pub fn window_ms(&self) -> i64 {
        self.lock_minutes() * 60 * 1000
    }

    /// Whether a pair that made `attempts` in the window begun at `window_start` is locked at
    /// `now` (ms): the next attempt would be refused without comparing the password.
    pub fn locks(&self, attempts: i64, window_start: i64, now: i64) -> bool {
        attempts >= self.max_failures() && now < window_start + self.window_ms()
    }
}

impl Default for LoginLock {
    /// Ten attempts per fifteen minutes.
    fn default() -> Self {
        Self {
            max_failures: DEFAULT_LOGIN_MAX_FAILURES,
            lock_minutes: DEFAULT_LOGIN_LOCK_MINUTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_lock_limits_are_checked_naming_the_flag() {
        assert_eq!(
            LoginLock::new(DEFAULT_LOGIN_MAX_FAILURES, DEFAULT_LOGIN_LOCK_MINUTES).unwrap(),
            LoginLock::default()
        );
        let err = LoginLock::new(0, 15).unwrap_err().to_string();
        assert!(err.starts_with("--login-max-failures"), "{err}");
        let err = LoginLock::new(10, 0).unwrap_err().to_string();
        assert!(err.starts_with("--login-lock-minutes"), "{err}");
        assert!(LoginLock::new(MAX_LOGIN_MAX_FAILURES + 1, 15).is_err());
        assert!(LoginLock::new(10, MAX_LOGIN_LOCK_MINUTES + 1).is_err());
        assert!(LoginLock::new(MAX_LOGIN_MAX_FAILURES, MAX_LOGIN_LOCK_MINUTES).is_ok());
    }

    #[test]
    fn a_pair_is_locked_from_its_last_allowed_attempt_until_the_window_ends() {
        let lock = LoginLock::new(3, 1).unwrap();
        assert!(!lock.locks(2, 0, 1));
        assert!(lock.locks(3, 0, 1));
        assert!(lock.locks(3, 0, 59_999));
        assert!(!lock.locks(3, 0, 60_000), "the window has ended");
    }

    #[test]
    fn argon2_parameters_are_checked_not_panicked_on() {
        let (m, t, p) = DEFAULT_ARGON2;
        assert_eq!(
            password_hasher(m, t, p).unwrap().describe(),
            PasswordHasher::default().describe(),
            "the flags' defaults are the hasher's"
        );
        let err = password_hasher(19 * 1024, 0, 1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("argon2id parameters m=19456 KiB, t=0, p=1: "),
            "{err}"
        );
        assert!(
            password_hasher(4, 1, 1).is_err(),
            "memory below 8 KiB per lane"
        );
        assert!(password_hasher(4096, 1, 0).is_err(), "no lanes");
    }

    #[test]
    fn hook_ceilings_must_fit_the_runtime() {
        let runtime = RuntimeSettings::default();
        assert!(check_hook_ceilings(&Limits::default(), &runtime).is_ok());
        let zero_fuel = Limits {
            fuel: 0,
            ..Limits::default()
        };
        assert!(matches!(
            check_hook_ceilings(&zero_fuel, &runtime),
            Err(ConfigError::HookCeiling { name: "fuel", .. })
        ));
        let too_much = Limits {
            memory_bytes: runtime.engine.max_memory_bytes + 1,
            ..Limits::default()
        };
        assert!(matches!(
            check_hook_ceilings(&too_much, &runtime),
            Err(ConfigError::HookCeiling {
                name: "memory_bytes",
                ..
            })
        ));
    }

    #[test]
    fn a_tenants_share_of_the_hook_threads_follows_the_threads_given() {
        let defaults = RuntimeSettings::default();
        let instances = defaults.engine.pool_instances;
        let caches = CacheBounds::default();
        let d = hook_runtime(None, None, instances, caches);
        assert_eq!(
            (d.threads, d.per_tenant),
            (defaults.threads, defaults.per_tenant)
        );
        let eight = hook_runtime(Some(8), None, instances, caches);
        assert_eq!((eight.threads, eight.per_tenant), (8, 4));
        assert_eq!(hook_runtime(Some(1), None, instances, caches).per_tenant, 1);
        let given = hook_runtime(Some(8), Some(8), 16, caches);
        assert_eq!((given.per_tenant, given.engine.pool_instances), (8, 16));
        assert_eq!(
            given.engine.max_memory_bytes,
            defaults.engine.max_memory_bytes
        );
    }

    #[test]
    fn database_passwords_do_not_reach_the_log() {
        assert_eq!(
            redact_url("postgres://sigil:hunter2@db.internal/sigil"),
            "postgres://sigil:redacted@db.internal/sigil"
        );
        assert_eq!(
            redact_url("postgres://db.internal/sigil?user=sigil&password=hunter2"),
            "postgres://db.internal/sigil?user=sigil&password=redacted"
        );
        assert_eq!(
            redact_url("sqlite://./data/sigil.db"),
            "sqlite://./data/sigil.db"
        );
    }

    #[test]
    fn postgres_needs_a_key() {
        assert!(matches!(
            master_key("postgres://x@y/z", None),
            Err(ConfigError::MasterKeyRequired)
        ));
        let k = MasterKey::generate().to_base64();
        assert_eq!(
            master_key("postgres://x@y/z", Some(&k)).unwrap().1,
            KeySource::Env
        );
    }

    #[test]
    fn a_listen_address_may_name_its_host() {
        let l: Listen = "localhost:8080".parse().unwrap();
        assert!(l.addr.ip().is_loopback() && l.addr.is_ipv4(), "{l:?}");
        assert_eq!(l.addr.port(), 8080);
        assert_eq!(
            l.implied_public_url().as_deref(),
            Some("http://localhost:8080")
        );
        let ip: Listen = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(ip.implied_public_url(), None);
        assert!("[::1]:9000".parse::<Listen>().unwrap().addr.is_ipv6());
        for bad in ["localhost", ":80", "localhost:http", "localhost:70000"] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_server_behind_a_transaction_pooler_needs_a_direct_url_for_its_listener() {
        let pooled = "postgres://u@pgbouncer:6432/sigil?pooler=transaction";
        assert!(matches!(
            check_direct_url(pooled, None),
            Err(ConfigError::DirectUrlRequired)
        ));
        assert!(matches!(
            check_direct_url(pooled, Some(" ")),
            Err(ConfigError::DirectUrlRequired)
        ));
        assert!(check_direct_url(pooled, Some("postgres://u@primary:5432/sigil")).is_ok());
        assert!(check_direct_url("postgres://u@primary:5432/sigil", None).is_ok());
        assert!(check_direct_url("sqlite://data/sigil.db", None).is_ok());
    }

    #[test]
    fn public_url_defaults_to_listen() {
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(public_url(None, addr).unwrap(), "http://127.0.0.1:9000");
        assert_eq!(
            public_url(Some("https://id.example.com/"), addr).unwrap(),
            "https://id.example.com"
        );
        assert!(public_url(Some("id.example.com"), addr).is_err());
    }
}
