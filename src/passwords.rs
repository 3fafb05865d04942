//! Password hashing: argon2id for every password Sigil sets, and verification of the hashes
//! customers import from other systems (argon2 PHC strings, bcrypt MCF strings).
//!
//! Imported hashes are checked against a cost ceiling before they are stored: a hash claiming
//! 4 GiB of memory or bcrypt cost 31 would otherwise let an import make every login for that
//! account arbitrarily slow (a denial of service planted in the data). After a successful login
//! with a non-argon2id or weaker hash, the caller rehashes with [`PasswordHasher::hash`].

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Errors from password handling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The password breaks the length policy.
    #[error("password must be between {min} and {max} characters")]
    Length {
        /// Minimum characters.
        min: usize,
        /// Maximum characters.
        max: usize,
    },
    /// An imported hash is not a supported format.
    #[error("unsupported password hash format: {0}")]
    UnsupportedHash(String),
    /// An imported hash's cost exceeds the ceiling.
    #[error("password hash cost exceeds the ceiling: {0}")]
    CostTooHigh(String),
    /// Hashing itself failed (should not happen with valid parameters), or the blocking task
    /// running it was lost.
    #[error("password hashing failed")]
    Internal,
}

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_LEN: usize = 8;
/// Longest password accepted: bounds the work an attacker can make one login do.
pub const MAX_LEN: usize = 256;

/// Ceilings for imported hashes.
const MAX_ARGON2_M_KIB: u32 = 64 * 1024;
const MAX_ARGON2_T: u32 = 10;
const MAX_ARGON2_P: u32 = 4;
const MAX_BCRYPT_COST: u32 = 12;

/// argon2id with fixed parameters, and the gate that bounds how many hashes run at once;
/// cheap to clone (clones share the gate).
///
/// Every argon2 computation of a running server goes through [`PasswordHasher::hash_bounded`]
/// or [`PasswordHasher::verify_bounded`]: at most `workers` run at once (default: the number of
/// cores), each on a blocking thread, and the rest wait as small futures. Without the gate a
/// password spray queued one 19 MiB, CPU-bound job per request on tokio's blocking pool (up to
/// 512 threads), taking the memory and the cores every other request needs.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    gate: Arc<Semaphore>,
    workers: usize,
}

impl Default for PasswordHasher {
    /// OWASP's first recommended argon2id setting: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self::new(19 * 1024, 2, 1)
    }
}

/// Hashes allowed to run at once by default: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password.
    No,
    /// Right password; the hash is current.
    Yes,
    /// Right password; the hash should be replaced by a fresh argon2id one.
    YesRehash,
}

impl PasswordHasher {
    /// argon2id with `m_kib` KiB of memory, `t` passes and `p` lanes.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Self {
        let workers = default_workers();
        Self {
            params: Params::new(m_kib, t, p, None).expect("valid argon2 parameters"),
            gate: Arc::new(Semaphore::new(workers)),
            workers,
        }
    }

    /// The same parameters with at most `workers` (at least one) hashes running at once.
    pub fn with_workers(self, workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            gate: Arc::new(Semaphore::new(workers)),
            workers,
            ..self
        }
    }

    /// Hashes allowed to run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `work` on a blocking thread once the gate admits it.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self
            .gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Internal)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            // Held for the computation, not for the caller's wait: a client that hangs up
            // does not free a slot while its hash still runs.
            let _permit = permit;
            work(&me)
        })
        .await
        .map_err(|_| PasswordError::Internal)
    }

    /// [`PasswordHasher::hash`] on the bounded pool.
    pub async fn hash_bounded(&self, password: String) -> Result<String, PasswordError> {
        self.bounded(move |h| h.hash(&password)).await?
    }

    /// [`PasswordHasher::verify`] on the bounded pool.
    pub async fn verify_bounded(
        &self,
        password: String,
        stored: String,
    ) -> Result<Verified, PasswordError> {
        self.bounded(move |h| h.verify(&password, &stored)).await
    }

    /// The parameters, for reports.
    pub fn describe(&self) -> String {
        format!(
            "argon2id m={} KiB, t={}, p={}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Checks the length policy.
    pub fn check_policy(password: &str) -> Result<(), PasswordError> {
        let n = password.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(PasswordError::Length {
                min: MIN_LEN,
                max: MAX_LEN,
            });
        }
        Ok(())
    }

    /// Hashes a new password (after the policy check). CPU-heavy: a server calls
    /// [`PasswordHasher::hash_bounded`] instead.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        Self::check_policy(password)?;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Internal)
    }

    /// Verifies `password` against a stored argon2 or bcrypt hash, in constant time with respect
    /// to the password. An unparseable hash verifies as `No`.
    pub fn verify(&self, password: &str, stored: &str) -> Verified {
        if is_bcrypt(stored) {
            return match bcrypt::verify(password, stored) {
                Ok(true) => Verified::YesRehash,
                _ => Verified::No,
            };
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verified::No;
        };
        if self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Verified::No;
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() >= self.params.m_cost()
                    && p.t_cost() >= self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        if current {
            Verified::Yes
        } else {
            Verified::YesRehash
        }
    }
}

fn is_bcrypt(s: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Checks that an imported hash is argon2 (PHC) or bcrypt (MCF) and within the cost ceiling.
pub fn check_imported_hash(hash: &str) -> Result<(), PasswordError> {
    if is_bcrypt(hash) {
        let parts = hash
            .parse::<bcrypt::HashParts>()
            .map_err(|_| PasswordError::UnsupportedHash("malformed bcrypt hash".into()))?;
        if parts.get_cost() > MAX_BCRYPT_COST {
            return Err(PasswordError::CostTooHigh(format!(
                "bcrypt cost {} > {MAX_BCRYPT_COST}",
                parts.get_cost()
            )));
        }
        return Ok(());
    }
    let parsed = PasswordHash::new(hash).map_err(|_| {
        PasswordError::UnsupportedHash("expected an argon2 PHC string or a bcrypt hash".into())
    })?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return Err(PasswordError::UnsupportedHash(format!(
            "algorithm {}",
            parsed.algorithm
        )));
    }
    let p = Params::try_from(&parsed)
        .map_err(|_| PasswordError::UnsupportedHash("malformed argon2 parameters".into()))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(PasswordError::UnsupportedHash(
            "argon2 hash without salt or output".into(),
        ));
    }
    if p.m_cost() > MAX_ARGON2_M_KIB || p.t_cost() > MAX_ARGON2_T || p.p_cost() > MAX_ARGON2_P {
        return Err(PasswordError::CostTooHigh(format!(
            "argon2 m={} t={} p={} exceeds m<={MAX_ARGON2_M_KIB} t<={MAX_ARGON2_T} p<={MAX_ARGON2_P}",
            p.m_cost(),
            p.t_cost(),
            p.p_cost()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(1024, 1, 1)
    }

    #[test]
    fn argon2id_round_trip() {
        let h = cheap();
        let stored = h.hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert_eq!(h.verify("correct horse", &stored), Verified::Yes);
        assert_eq!(h.verify("wrong horse", &stored), Verified::No);
        assert_eq!(h.verify("x", "not a hash"), Verified::No);
    }

    #[test]
    fn policy() {
        assert!(cheap().hash("short").is_err());
        assert!(cheap().hash(&"x".repeat(257)).is_err());
    }

    #[test]
    fn weaker_argon2_asks_for_rehash() {
        let weak = PasswordHasher::new(512, 1, 1)
            .hash("correct horse")
            .unwrap();
        assert_eq!(
            cheap().verify("correct horse", &weak),
            Verified::YesRehash,
            "lower memory than current must be upgraded"
        );
    }

    #[test]
    fn bcrypt_verifies_and_asks_for_rehash() {
        let stored = bcrypt::hash("correct horse", 4).unwrap();
        check_imported_hash(&stored).unwrap();
        assert_eq!(
            cheap().verify("correct horse", &stored),
            Verified::YesRehash
        );
        assert_eq!(cheap().verify("nope nope", &stored), Verified::No);
    }

    #[test]
    fn import_ceiling() {
        let too_costly = "$2b$14$abcdefghijklmnopqrstuu9vQK2Ogr7LcM5XwlSR0Vw1VxX3e5Wba";
        assert!(matches!(
            check_imported_hash(too_costly),
            Err(PasswordError::CostTooHigh(_))
        ));
        let huge = "$argon2id$v=19$m=4194304,t=3,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert!(matches!(
            check_imported_hash(huge),
            Err(PasswordError::CostTooHigh(_))
        ));
        let ok = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        check_imported_hash(ok).unwrap();
        assert!(matches!(
            check_imported_hash("$1$md5crypt$xyz"),
            Err(PasswordError::UnsupportedHash(_))
        ));
        assert!(check_imported_hash("plaintext").is_err());
    }
}

#[cfg(test)]
mod bounded_tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_hash_waits_for_a_free_worker_instead_of_queueing_on_the_blocking_pool() {
        let h = PasswordHasher::new(8, 1, 1).with_workers(1);
        // Every worker busy: the hash must not start.
        let busy = h.gate.clone().acquire_owned().await.unwrap();
        let waiting = tokio::spawn({
            let h = h.clone();
            async move { h.hash_bounded("correct horse battery".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "a hash ran past a full gate");
        drop(busy);
        let hash = waiting.await.unwrap().unwrap();
        assert_eq!(
            h.verify_bounded("correct horse battery".into(), hash)
                .await
                .unwrap(),
            Verified::Yes
        );
    }
}
