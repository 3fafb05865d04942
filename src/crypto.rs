//! Key material and the hashing of high-entropy secrets.
//!
//! The master key (32 bytes, from `SIGIL_MASTER_KEY` or a file beside the SQLite data) never
//! signs or encrypts anything itself: purpose-specific keys are derived from it with
//! HMAC-SHA256 over a fixed label, so one leaked derived key exposes one purpose only.
//!
//! API keys and client secrets carry 256 random bits, so a password hash would add latency and
//! no safety; they are stored as HMAC-SHA256 under a derived key (a database dump alone cannot
//! be used to check guesses offline) and compared in constant time.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Errors loading key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key is not 32 bytes of standard base64.
    #[error("the master key must be 32 bytes encoded as base64 (got {0})")]
    BadMasterKey(String),
    /// Reading or writing the key file failed.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// The deployment's root secret. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Parses the base64 form used in `SIGIL_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| CryptoError::BadMasterKey(e.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| CryptoError::BadMasterKey(format!("{} bytes", b.len())))?;
        Ok(Self(arr))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key from `path`, creating it (mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let io = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_base64(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(path, &key.to_base64()).map_err(io)?;
                Ok((key, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A short public name of this key (hex of a keyed hash of it): tells keys apart in
    /// the database and in messages without revealing anything of them.
    pub fn fingerprint(&self) -> String {
        let d = self.derive("fingerprint");
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `key` sealed under this key (to store it).
    pub fn wrap(&self, key: &MasterKey) -> String {
        Sealer::new(self, "data-key").seal(&key.0, "sigil/data-key")
    }

    /// The key [`Self::wrap`] sealed; `None` when `sealed` was not sealed under this key (or
    /// was tampered with).
    pub fn unwrap_key(&self, sealed: &str) -> Option<MasterKey> {
        let bytes = Sealer::new(self, "data-key").open(sealed, "sigil/data-key")?;
        Some(MasterKey(bytes.try_into().ok()?))
    }

    /// A key for one purpose, derived so purposes never share key material.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"sigil/derive/v1/");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

/// Hashes high-entropy secrets (API keys, client secrets) with a keyed SHA-256.
#[derive(Clone)]
pub struct SecretHasher {
    key: [u8; 32],
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

impl SecretHasher {
    /// The hasher whose key is derived from the master key.
    pub fn new(master: &MasterKey) -> Self {
        Self {
            key: master.derive("secret-hash"),
        }
    }

    /// The stored form of `secret`: base64url of HMAC-SHA256.
    pub fn hash(&self, secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `secret` hashes to `stored`, compared in constant time.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        constant_time_eq(self.hash(secret).as_bytes(), stored.as_bytes())
    }
}

/// Constant-time byte comparison (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A new random secret: `prefix` followed by 32 random bytes in base64url.
pub fn random_secret(prefix: &str) -> Secret {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    Secret(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b)))
}

/// A secret value: a generated one shown to its owner once, or a client secret or password
/// received in a request. `Debug` prints `[redacted]`; it is deliberately not `Display` so it
/// cannot slip into a log line by formatting; equality is constant-time (it compares secrets).
/// It deserializes from a plain JSON string, so request structs hold it from the start.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps a secret string.
    pub fn new(s: String) -> Self {
        Self(s)
    }
    /// The secret itself, for the one place that must show or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Authenticated encryption of secrets at rest (XChaCha20-Poly1305 under a key derived from
/// the master key). The associated data binds a ciphertext to its owner and name, so a sealed
/// value copied to another row does not open.
#[derive(Clone)]
pub struct Sealer(chacha20poly1305::Key);

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// The sealer keyed from the master key for `purpose`.
    pub fn new(master: &MasterKey, purpose: &str) -> Self {
        Sealer(master.derive(&format!("seal/{purpose}")).into())
    }

    /// Encrypts `plain` bound to `aad`; returns base64 of nonce || ciphertext.
    pub fn seal(&self, plain: &[u8], aad: &str) -> String {
        use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0);
        let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    /// Decrypts what [`Sealer::seal`] produced for the same `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ct) = bytes.split_at(24);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0);
        cipher
            .decrypt(
                chacha20poly1305::XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_key() {
        let h1 = SecretHasher::new(&MasterKey::generate());
        let h2 = SecretHasher::new(&MasterKey::generate());
        let s = random_secret("sk_");
        let stored = h1.hash(s.expose());
        assert!(h1.verify(s.expose(), &stored));
        assert!(!h1.verify("sk_other", &stored));
        assert!(!h2.verify(s.expose(), &stored));
    }

    #[test]
    fn a_secret_from_a_request_never_prints_and_compares_by_value() {
        let s: Secret = serde_json::from_str("\"hunter2-hunter2\"").unwrap();
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(s, Secret::new("hunter2-hunter2".into()));
        assert_ne!(s, Secret::new("hunter2-hunter3".into()));
        assert_ne!(s, Secret::new("hunter2".into()));
    }

    #[test]
    fn master_key_round_trips_and_redacts() {
        let k = MasterKey::generate();
        let back = MasterKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k.derive("x"), back.derive("x"));
        assert_ne!(k.derive("x"), k.derive("y"));
        assert_eq!(format!("{k:?}"), "MasterKey([redacted])");
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{:?}", random_secret("sk_")), "Secret([redacted])");
    }

    #[test]
    fn a_wrapped_key_opens_only_under_the_key_that_wrapped_it() {
        let (a, b, data) = (
            MasterKey::generate(),
            MasterKey::generate(),
            MasterKey::generate(),
        );
        let sealed = a.wrap(&data);
        let opened = a.unwrap_key(&sealed).expect("opens under a");
        assert_eq!(opened.derive("x"), data.derive("x"));
        assert!(b.unwrap_key(&sealed).is_none());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }

    #[test]
    fn sealed_values_open_only_with_their_aad() {
        let s = Sealer::new(&MasterKey::generate(), "t");
        let sealed = s.seal(b"hunter2", "hook_1/API_KEY");
        assert_eq!(s.open(&sealed, "hook_1/API_KEY").unwrap(), b"hunter2");
        assert!(s.open(&sealed, "hook_2/API_KEY").is_none());
        assert!(!sealed.contains("hunter2"));
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("sigil-key-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let (a, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.to_base64(), b.to_base64());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
