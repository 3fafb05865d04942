//! The database's data key, and the master keys that open it.
//!
//! Every secret Sigil stores hangs off one root: signing keys and hook secrets are sealed, and
//! API keys, client secrets, codes, refresh tokens and session cookies are keyed hashes, under
//! keys derived from it. That root is the **data key**. It is kept in the database only
//! sealed, once per **master key** allowed to open it (`data_key_seals`); the master key itself
//! is never stored. So the master key can be rotated without touching anything it protects:
//!
//! 1. `sigil master-key add` (with the current key in `SIGIL_MASTER_KEY` and the new one in
//!    `SIGIL_NEW_MASTER_KEY`) stores a second copy, sealed under the new key;
//! 2. the nodes move to the new key one by one (both keys open the database meanwhile);
//! 3. `sigil master-key retire` (with the new key) deletes every other copy: the old key opens
//!    nothing stored from then on (backups taken before still hold its copy).
//!
//! A database that has no copy yet (a new one, or one from before this scheme) takes the
//! master key it is first opened with as its data key and stores it sealed under itself, so
//! every key derived before stays the same.

use crate::crypto::MasterKey;
use crate::store::data_key_seals::{self as store, SealRow};
use crate::store::{Store, StoreError};

/// Why the data key could not be opened or changed.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key opens no copy of this database's data key.
    #[error(
        "this master key (fingerprint {given}) cannot open this database: it is opened by the \
         master key(s) {known} (set SIGIL_MASTER_KEY to one of them; `sigil master-key add` \
         allows another)"
    )]
    UnknownMasterKey {
        /// The fingerprint of the key given.
        given: String,
        /// Those of the keys that can open it.
        known: String,
    },
    /// A stored copy does not open under the key it is filed under (tampering, corruption).
    #[error("the data key copy of master key {0} does not open: it is corrupt")]
    Corrupt(String),
}

/// The database's data key, opened with `master` (see the module doc); on a database with no
/// copy yet, `master` becomes the data key.
pub async fn open(store: &Store, master: &MasterKey, now: i64) -> Result<MasterKey, RootKeyError> {
    let id = master.fingerprint();
    let mut seals = store::list(store).await?;
    if seals.is_empty() {
        // First open: this key is the data key from now on, as it was before copies existed.
        // Of two nodes doing this at once, the first insert wins; the other reads it below.
        let mut tx = store.begin_write().await?;
        store::insert(
            &mut tx,
            &SealRow {
                master_id: id.clone(),
                sealed: master.wrap(master),
                created_at: now,
            },
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        seals = store::list(store).await?;
    }
    match seals.iter().find(|s| s.master_id == id) {
        Some(s) => master
            .unwrap_key(&s.sealed)
            .ok_or_else(|| RootKeyError::Corrupt(id.clone())),
        None => Err(RootKeyError::UnknownMasterKey {
            given: id,
            known: seals
                .iter()
                .map(|s| s.master_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Allows `new` to open the database too (opened with `current`); `false` when it already
/// could.
pub async fn add(
    store: &Store,
    current: &MasterKey,
    new: &MasterKey,
    now: i64,
) -> Result<bool, RootKeyError> {
    let data = open(store, current, now).await?;
    let mut tx = store.begin_write().await?;
    let added = store::insert(
        &mut tx,
        &SealRow {
            master_id: new.fingerprint(),
            sealed: new.wrap(&data),
            created_at: now,
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(added)
}

/// Leaves `current` the only master key that opens the database; returns how many others
/// were removed. Refuses (as [`open`] does) when `current` itself cannot open it.
pub async fn retire_others(
    store: &Store,
    current: &MasterKey,
    now: i64,
) -> Result<u64, RootKeyError> {
    open(store, current, now).await?;
    let mut tx = store.begin_write().await?;
    let n = store::delete_others(&mut tx, &current.fingerprint()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(n)
}

/// The fingerprints of the master keys that open the database, with when each was added.
pub async fn list(store: &Store) -> Result<Vec<(String, i64)>, RootKeyError> {
    Ok(store::list(store)
        .await?
        .into_iter()
        .map(|s| (s.master_id, s.created_at))
        .collect())
}
