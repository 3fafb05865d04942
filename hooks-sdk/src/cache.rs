//! A small cache kept by the host for this hook (contract 0.2.0), so that a hook can skip its
//! customer's API on most logins.
//!
//! Per tenant and hook, on one node, best-effort: an entry may be gone before its time
//! (bounds, a restart, another node served the login), so treat a miss as normal. Bounded per
//! tenant (1,000 entries and 1 MiB by default; keys up to 256 bytes, values up to 64 KiB).
//!
//! ```no_run
//! use std::time::Duration;
//! use sigil_hooks::cache;
//!
//! # fn f(id: &str) -> Result<(), String> {
//! let key = format!("plan:{id}");
//! let plan: String = match cache::get_json(&key) {
//!     Some(plan) => plan,
//!     None => {
//!         let plan = String::from("pro"); // fetched from the billing system
//!         let _ = cache::set_json(&key, &plan, Duration::from_secs(60));
//!         plan
//!     }
//! };
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::sigil::hooks::cache as wit;

/// Why a value was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// The key or the value is over its size limit.
    TooLarge(String),
    /// The tenant's cache is full.
    Quota(String),
}

impl From<wit::CacheError> for CacheError {
    fn from(e: wit::CacheError) -> Self {
        match e {
            wit::CacheError::TooLarge(why) => CacheError::TooLarge(why),
            wit::CacheError::Quota(why) => CacheError::Quota(why),
        }
    }
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheError::TooLarge(why) | CacheError::Quota(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CacheError {}

/// The bytes stored under `key`, unless absent or expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    wit::get(key)
}

/// Stores `value` under `key` for `ttl` (at most a day).
pub fn set(key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
    let ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX);
    wit::set(key, value, ms).map_err(CacheError::from)
}

/// Removes `key`.
pub fn delete(key: &str) {
    wit::delete(key)
}

/// The JSON value stored under `key`; `None` when absent, expired or not a `T`.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    serde_json::from_slice(&get(key)?).ok()
}

/// Stores `value` as JSON under `key` for `ttl`.
pub fn set_json(key: &str, value: &impl Serialize, ttl: Duration) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| format!("value is not serializable: {e}"))?;
    set(key, &bytes, ttl).map_err(|e| e.to_string())
}
