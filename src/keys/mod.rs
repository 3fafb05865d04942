//! Per-tenant signing keys: generated on first use, private keys sealed under the master key
//! at rest, parsed once and kept in a key ring (RSA key parsing alone costs ~190 us; see
//! ../shared/PERF.md), and published as a JWKS.
//!
//! JWTs are assembled here (`base64url(header).base64url(claims)`) and signed with the parsed
//! aws-lc-rs key pair; verification uses `jsonwebtoken` with the algorithm taken from the key
//! found by `kid`, never from the token header (RFC 8725 3.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

use crate::crypto::Sealer;
use crate::ids::{IdKind, new_id};
use crate::store::changes::{self, Cached};
use crate::store::signing_keys::{self as store, KeyRow};
use crate::store::{SigningAlg, Store, StoreError};

/// The algorithms an application may sign with (RS256 is the default).
pub const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// Errors of the key ring.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation, parsing or signing failed.
    #[error("key operation failed: {0}")]
    Crypto(String),
    /// An unsupported algorithm name.
    #[error("unsupported signing algorithm {0}")]
    Alg(String),
}

/// The stored algorithm of a name (`KeyError::Alg` for an unsupported one).
fn parse_alg(alg: &str) -> Result<SigningAlg, KeyError> {
    alg.parse().map_err(|_| KeyError::Alg(alg.to_string()))
}

enum Pair {
    Rsa(signature::RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed signing key.
pub struct SigningKey {
    /// The key id (`kid`) tokens name in their header.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    pair: Pair,
    /// The public JWK.
    pub jwk: Value,
    /// For verification.
    pub decoding: DecodingKey,
    /// The jsonwebtoken algorithm, fixed by the key.
    pub algorithm: Algorithm,
    /// `next`, `current` or `previous` (all published; only `current` signs).
    pub status: String,
    /// When the key was made, epoch ms.
    pub created_at: i64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

fn crypto<E: std::fmt::Debug>(e: E) -> KeyError {
    KeyError::Crypto(format!("{e:?}"))
}

impl SigningKey {
    fn parse(kid: &str, alg: &str, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let (pair, jwk, decoding, algorithm) = match alg {
            "RS256" => {
                let kp = signature::RsaKeyPair::from_pkcs8(pkcs8).map_err(crypto)?;
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = kp.public_key().into();
                let jwk = json!({"kty": "RSA", "n": B64.encode(&c.n), "e": B64.encode(&c.e)});
                let dec = DecodingKey::from_rsa_raw_components(&c.n, &c.e);
                (Pair::Rsa(kp), jwk, dec, Algorithm::RS256)
            }
            "ES256" => {
                let kp =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                        .map_err(crypto)?;
                let point = kp.public_key().as_ref();
                let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
                let dec = DecodingKey::from_ec_components(&x, &y).map_err(crypto)?;
                (
                    Pair::Ec(kp),
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                    dec,
                    Algorithm::ES256,
                )
            }
            "EdDSA" => {
                let kp = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(crypto)?;
                let x = B64.encode(kp.public_key().as_ref());
                let dec = DecodingKey::from_ed_components(&x).map_err(crypto)?;
                (
                    Pair::Ed(kp),
                    json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                    dec,
                    Algorithm::EdDSA,
                )
            }
            other => return Err(KeyError::Alg(other.into())),
        };
        let mut jwk = jwk;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg);
        jwk["use"] = json!("sig");
        Ok(SigningKey {
            kid: kid.into(),
            alg: alg.into(),
            pair,
            jwk,
            decoding,
            algorithm,
            status: "current".into(),
            // Set from the row by whoever loads a stored key.
            created_at: 0,
        })
    }

    fn generate(alg: &str) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        Ok(match alg {
            "RS256" => {
                let kp = signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(crypto)?;
                use aws_lc_rs::encoding::AsDer;
                let der: aws_lc_rs::encoding::Pkcs8V1Der = kp.as_der().map_err(crypto)?;
                der.as_ref().to_vec()
            }
            "ES256" => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(crypto)?
                    .as_ref()
                    .to_vec()
            }
            "EdDSA" => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(crypto)?
                .as_ref()
                .to_vec(),
            other => return Err(KeyError::Alg(other.into())),
        })
    }

    /// A fresh key of `alg`, for benchmarks (never stored).
    pub fn generate_for_bench(alg: &str) -> SigningKey {
        let pkcs8 = Self::generate(alg).expect("key generation");
        Self::parse("bench", alg, &pkcs8).expect("fresh key parses")
    }

    /// Signs a JWT with `typ` in the header and this key's `alg` and `kid`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": self.alg, "typ": typ, "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let sig = match &self.pair {
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .map_err(crypto)?;
                sig
            }
            Pair::Ec(kp) => kp
                .sign(&rng, input.as_bytes())
                .map_err(crypto)?
                .as_ref()
                .to_vec(),
            Pair::Ed(kp) => kp.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", B64.encode(sig)))
    }
}

/// A tenant's parsed keys and when they were read.
type CachedKeys = (i64, Vec<Arc<SigningKey>>);

/// The tenants' keys, parsed once per process.
pub struct KeyRing {
    sealer: Sealer,
    cache: Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    tenants: HashMap<String, CachedKeys>,
    /// Counts invalidations: a read that began before one does not store what it read.
    generation: u64,
}

/// How long a node trusts its parsed keys before re-reading them. A rotation reaches every
/// node at once through invalidation (the server's change feed); this bound is the safety
/// net for an announcement that was lost.
const CACHE_TTL_MS: i64 = 60_000;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

impl KeyRing {
    /// The key ring of a server whose root key is `master`: private keys are sealed under a
    /// key derived from it for this one purpose (the server and the CLI must agree on it).
    pub fn for_master(master: &crate::crypto::MasterKey) -> Self {
        Self::new(Sealer::new(master, "signing-keys"))
    }

    /// A key ring sealing private keys with `sealer`.
    pub fn new(sealer: Sealer) -> Self {
        KeyRing {
            sealer,
            cache: Mutex::new(KeyCache::default()),
        }
    }

    fn cached(&self, tenant_id: &str, now: i64) -> Option<Vec<Arc<SigningKey>>> {
        self.cache.lock().ok().and_then(|c| {
            c.tenants
                .get(tenant_id)
                .filter(|(at, _)| (*at..*at + CACHE_TTL_MS).contains(&now))
                .map(|(_, k)| k.clone())
        })
    }

    /// The tenant's published keys (loaded and parsed once, re-read after a minute by the
    /// injected clock's `now`).
    pub async fn keys(
        &self,
        store: &Store,
        tenant_id: &str,
        now: i64,
    ) -> Result<Vec<Arc<SigningKey>>, KeyError> {
        if let Some(k) = self.cached(tenant_id, now) {
            return Ok(k);
        }
        self.reload(store, tenant_id, now).await
    }

    /// Re-reads the tenant's keys (a `kid` this node has not seen may be new).
    pub async fn reload(
        &self,
        store: &Store,
        tenant_id: &str,
        now: i64,
    ) -> Result<Vec<Arc<SigningKey>>, KeyError> {
        let generation = self.cache.lock().map(|c| c.generation).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for row in store::list(store, tenant_id).await? {
            let pkcs8 = self
                .sealer
                .open(&row.private_sealed, &row.kid)
                .ok_or_else(|| {
                    KeyError::Crypto(format!(
                        "key {} does not open with this master key",
                        row.kid
                    ))
                })?;
            let mut key = SigningKey::parse(&row.kid, row.alg.as_str(), &pkcs8)?;
            key.status = row.status.clone();
            key.created_at = row.created_at;
            out.push(Arc::new(key));
        }
        if let Ok(mut c) = self.cache.lock()
            && c.generation == generation
        {
            c.tenants.insert(tenant_id.to_string(), (now, out.clone()));
        }
        Ok(out)
    }

    /// Forgets a tenant's parsed keys (they changed, perhaps on another node).
    pub fn forget(&self, tenant_id: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.tenants.remove(tenant_id);
            c.generation += 1;
        }
    }

    /// Forgets every tenant's keys (changes may have been missed).
    pub fn clear(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.tenants.clear();
            c.generation += 1;
        }
    }

    /// The newest key of `alg`, generated (and published, with the next key) on first use.
    pub async fn signing_key(
        &self,
        store: &Store,
        tenant_id: &str,
        alg: &str,
        now: i64,
    ) -> Result<Arc<SigningKey>, KeyError> {
        let newest = |keys: &[Arc<SigningKey>]| {
            keys.iter()
                .rev()
                .find(|k| k.alg == alg && k.status == "current")
                .cloned()
        };
        if let Some(k) = newest(&self.keys(store, tenant_id, now).await?) {
            return Ok(k);
        }
        // Another node may have made one meanwhile.
        if let Some(k) = newest(&self.reload(store, tenant_id, now).await?) {
            return Ok(k);
        }
        // The first key of an algorithm comes with its successor, published as `next` from
        // the start: relying parties that cache the JWKS (RFC 7517) then already hold the key
        // the first rotation promotes, as they do for every later one.
        let a = alg.to_string();
        let (current, next) = tokio::task::spawn_blocking(move || -> Result<_, KeyError> {
            Ok((SigningKey::generate(&a)?, SigningKey::generate(&a)?))
        })
        .await
        .map_err(crypto)??;
        let parsed = parse_alg(alg)?;
        let made = async {
            let mut tx = store.begin_write().await?;
            for (pkcs8, status, n) in [(&current, "current", 0), (&next, "next", 1)] {
                store::insert_in(
                    &mut tx,
                    &self.row(tenant_id, parsed, pkcs8, status, now + n),
                )
                .await?;
            }
            changes::announce(&mut tx, Cached::Keys, tenant_id).await?;
            tx.commit().await.map_err(StoreError::from)
        }
        .await;
        match made {
            // Another node (or request) made this tenant's first keys between our read and our
            // insert: the unique index (migration 0009) refused ours, and theirs are the keys.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        newest(&self.reload(store, tenant_id, now).await?)
            .ok_or_else(|| KeyError::Crypto("new key not found".into()))
    }

    /// Rotates the tenant's `alg` keys: the next key (or a new one) becomes current, current
    /// becomes previous (still published, so tokens it signed keep verifying), the old
    /// previous is retired, and a new next key is published ahead of its use.
    pub async fn rotate(
        &self,
        store: &Store,
        tenant_id: &str,
        alg: &str,
        now: i64,
    ) -> Result<Vec<Arc<SigningKey>>, KeyError> {
        let a = alg.to_string();
        let fresh = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, Vec<u8>), KeyError> {
            Ok((SigningKey::generate(&a)?, SigningKey::generate(&a)?))
        })
        .await
        .map_err(crypto)??;
        let parsed = parse_alg(alg)?;
        let has_next = store::list(store, tenant_id)
            .await?
            .iter()
            .any(|k| k.alg == parsed && k.status == "next");
        let mut tx = store.begin_write().await?;
        store::shift_statuses(&mut tx, tenant_id, parsed).await?;
        if !has_next {
            store::insert_in(
                &mut tx,
                &self.row(tenant_id, parsed, &fresh.0, "current", now),
            )
            .await?;
        }
        store::insert_in(
            &mut tx,
            &self.row(tenant_id, parsed, &fresh.1, "next", now + 1),
        )
        .await?;
        changes::announce(&mut tx, Cached::Keys, tenant_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.forget(tenant_id);
        self.reload(store, tenant_id, now).await
    }

    /// A new key's row, its private key sealed under its own `kid`. `created_at` orders keys
    /// of one status, so a `next` key is made 1 ms after the key it follows.
    fn row(&self, tenant_id: &str, alg: SigningAlg, pkcs8: &[u8], status: &str, at: i64) -> KeyRow {
        let kid = new_id(IdKind::SigningKey, at);
        KeyRow {
            private_sealed: self.sealer.seal(pkcs8, &kid),
            kid,
            tenant_id: tenant_id.into(),
            alg,
            status: status.into(),
            created_at: at,
        }
    }

    /// The tenant's JWKS document. Every algorithm an application may select has its current
    /// key published before any token is signed with it: relying parties often fetch the JWKS
    /// once, and a key appearing only with its first token would fail their verification.
    pub async fn jwks(&self, store: &Store, tenant_id: &str, now: i64) -> Result<Value, KeyError> {
        let mut keys = self.keys(store, tenant_id, now).await?;
        for alg in SIGNING_ALGS {
            if !keys.iter().any(|k| k.alg == alg && k.status == "current") {
                self.signing_key(store, tenant_id, alg, now).await?;
                keys = self.keys(store, tenant_id, now).await?;
            }
        }
        Ok(json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in ["RS256", "ES256", "EdDSA"] {
            let pkcs8 = SigningKey::generate(alg).unwrap();
            let key = SigningKey::parse("k1", alg, &pkcs8).unwrap();
            let token = key
                .sign("JWT", &json!({"sub": "u", "exp": 4_000_000_000u64}))
                .unwrap();
            let mut v = jsonwebtoken::Validation::new(key.algorithm);
            v.validate_aud = false;
            let data = jsonwebtoken::decode::<Value>(&token, &key.decoding, &v).unwrap();
            assert_eq!(data.claims["sub"], "u", "{alg}");
            assert_eq!(data.header.kid.as_deref(), Some("k1"));
        }
    }
}
