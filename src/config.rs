//! Server configuration: flags and environment variables, validated at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::crypto::{CryptoError, MasterKey};
use crate::store::{self, Backend};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default database: an embedded SQLite file under `./data/`.
pub const DEFAULT_DATABASE: &str = "sqlite://./data/sigil.db";

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
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SIGIL_MASTER_KEY`.
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
            let dir = store::sqlite_path(database_url)
                .and_then(|p| p.parent().map(|d| d.to_path_buf()))
                .unwrap_or_else(|| PathBuf::from("./data"));
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            std::fs::create_dir_all(&dir).map_err(|e| CryptoError::KeyFile {
                path: dir.display().to_string(),
                source: e,
            })?;
            let path = dir.join("master.key");
            let (key, created) = MasterKey::load_or_create(&path)?;
            Ok((key, KeySource::File(path, created)))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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

/// Browser login session lifetimes (operator settings).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends a session unused for this long (ms).
    pub idle_ms: i64,
    /// Ends a session this long after the login, used or not (ms).
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    /// Three days idle, seven days absolute (Auth0's defaults).
    fn default() -> Self {
        Self {
            idle_ms: 3 * 24 * 3600 * 1000,
            absolute_ms: 7 * 24 * 3600 * 1000,
        }
    }
}
