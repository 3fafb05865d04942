//! The node's disk cache of compiled artifacts (`--artifact-cache-dir`): a node that restarts,
//! or a second node on the same machine, prepares a hook from its own disk instead of reading
//! the artifact (megabytes) from the database or compiling it again.
//!
//! One file per content hash and engine compatibility hash, `{hash}-{compat}.cwasm`: an
//! engine upgrade changes the compatibility hash, so its files are never confused with the old
//! engine's (and the start-up [`ArtifactDisk::sweep`] deletes the old ones). A file holds a
//! header, the artifact's MAC (the same [`ArtifactSeal`] as the database's artifacts, over the
//! hash, the compatibility hash and the bytes) and the artifact. wasmtime's deserialization
//! trusts its input (the bytes are machine code), so a file is loaded only once its MAC
//! verifies; a file that does not (tampered with, truncated, another deployment's, moved to
//! another name) is deleted, logged and counted, and the caller reads the database instead.
//!
//! Files are written to a temporary name and renamed, so a reader sees a whole file or none;
//! they are not synced: a file torn by a crash fails its MAC and is deleted like any other bad
//! file. All file system work runs on the blocking pool, never on an async worker.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sigil_hooks::compile::ArtifactSeal;

/// The first bytes of every file (the format's version is in it).
const MAGIC: &[u8] = b"sigil-artifact/1\n";
/// A MAC is 32 bytes, hex-encoded.
const MAC_LEN: usize = 64;
/// Files whose names end in this are ours.
const EXTENSION: &str = "cwasm";
/// Temporary files older than this (epoch ms) are left from a crash mid-write.
const STALE_TEMP_MS: i64 = 10 * 60 * 1000;

/// The cache directory for the operator's setting (`--artifact-cache-dir`): `none` turns the
/// cache off; no setting means `artifacts` beside the SQLite database (where its master key
/// is), or `./data/artifacts` for PostgreSQL.
pub fn resolve_dir(database_url: &str, setting: Option<&str>) -> Option<PathBuf> {
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.eq_ignore_ascii_case("none") => None,
        Some(s) => Some(PathBuf::from(s)),
        None => Some(crate::config::master_key_file(database_url).with_file_name("artifacts")),
    }
}

/// What [`ArtifactDisk::read`] found.
#[derive(Debug)]
pub enum DiskRead {
    /// An authenticated artifact.
    Hit(Vec<u8>),
    /// No file (or the cache could not be read: the database is the fallback).
    Miss,
    /// A file that failed authentication; it has been deleted.
    Rejected,
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct ArtifactDisk {
    dir: PathBuf,
}

impl ArtifactDisk {
    /// The cache in `dir` (created with the first file).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `hash` for engine `compat`. Both are lowercase hex when they come from this
    /// server (a SHA-256 and a 64-bit hash); anything else names no file, so no stored value
    /// can point a path outside the directory.
    fn path(&self, hash: &str, compat: &str) -> Option<PathBuf> {
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (hex(hash) && hex(compat)).then(|| self.dir.join(format!("{hash}-{compat}.{EXTENSION}")))
    }

    /// Reads the artifact of `hash` for engine `compat` and checks its MAC with `seal`.
    pub async fn read(&self, seal: &ArtifactSeal, hash: &str, compat: &str) -> DiskRead {
        let Some(path) = self.path(hash, compat) else {
            return DiskRead::Miss;
        };
        let (seal, hash, compat) = (seal.clone(), hash.to_string(), compat.to_string());
        let read = tokio::task::spawn_blocking(move || read_file(&path, &seal, &hash, &compat));
        read.await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the artifact cache was interrupted");
            DiskRead::Miss
        })
    }

    /// Writes the artifact of `hash` for engine `compat` with its MAC. A failure is logged, not
    /// returned: the cache only saves work.
    pub async fn write(&self, hash: &str, compat: &str, mac: &str, artifact: Vec<u8>) {
        let Some(path) = self.path(hash, compat) else {
            return;
        };
        if mac.len() != MAC_LEN {
            return;
        }
        let mac = mac.to_string();
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || write_file(&dir, &path, &mac, &artifact));
        match written.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(
                dir = %self.dir.display(),
                error = %e,
                "writing a compiled artifact to the disk cache failed"
            ),
            Err(e) => tracing::warn!(error = %e, "writing the artifact cache was interrupted"),
        }
    }

    /// Deletes the files no longer worth keeping: another engine's (`compat` is this one's),
    /// those of hashes no stored version has (`keep`), and temporary files a crash left
    /// (older than ten minutes at `now`, epoch ms). Returns how many went.
    pub async fn sweep(&self, compat: &str, keep: HashSet<String>, now: i64) -> usize {
        let dir = self.dir.clone();
        let compat = compat.to_string();
        tokio::task::spawn_blocking(move || sweep_dir(&dir, &compat, &keep, now))
            .await
            .unwrap_or(0)
    }
}

fn read_file(path: &Path, seal: &ArtifactSeal, hash: &str, compat: &str) -> DiskRead {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DiskRead::Miss,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "reading the artifact cache");
            return DiskRead::Miss;
        }
    };
    let authentic = bytes
        .strip_prefix(MAGIC)
        .filter(|rest| rest.len() > MAC_LEN && rest[MAC_LEN] == b'\n')
        .and_then(|rest| {
            let mac = std::str::from_utf8(&rest[..MAC_LEN]).ok()?;
            let artifact = &rest[MAC_LEN + 1..];
            seal.verify(hash, compat, artifact, mac).ok()?;
            Some(artifact.len())
        });
    match authentic {
        Some(len) => {
            let mut bytes = bytes;
            bytes.drain(..bytes.len() - len);
            DiskRead::Hit(bytes)
        }
        None => {
            tracing::error!(
                path = %path.display(),
                hash,
                "a compiled artifact in the disk cache failed authentication (tampered with, \
                 truncated, or another deployment's); deleted it, reading the database instead"
            );
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), error = %e, "deleting a refused artifact");
            }
            DiskRead::Rejected
        }
    }
}

fn write_file(dir: &Path, path: &Path, mac: &str, artifact: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artifact");
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Machine code: nobody else on the machine needs to read it.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options.open(&temp).and_then(|mut f| {
        f.write_all(MAGIC)?;
        f.write_all(mac.as_bytes())?;
        f.write_all(b"\n")?;
        f.write_all(artifact)
    });
    // Another node sharing the directory may be writing the same file: the last rename wins,
    // and both are the same bytes.
    match result.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

fn sweep_dir(dir: &Path, compat: &str, keep: &HashSet<String>, now: i64) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut deleted = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = if name.starts_with('.') && name.ends_with(".tmp") {
            modified_ms(&entry).is_some_and(|at| now - at > STALE_TEMP_MS)
        } else if let Some(stem) = name.strip_suffix(&format!(".{EXTENSION}")) {
            match stem.split_once('-') {
                Some((hash, c)) => c != compat || !keep.contains(hash),
                None => false,
            }
        } else {
            false
        };
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            deleted += 1;
        }
    }
    deleted
}

fn modified_ms(entry: &std::fs::DirEntry) -> Option<i64> {
    let at = entry.metadata().ok()?.modified().ok()?;
    let since = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> ArtifactSeal {
        ArtifactSeal::new([7; 32])
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sigil-artifact-disk-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const HASH: &str = "ab12";
    const COMPAT: &str = "00ff";

    async fn written(disk: &ArtifactDisk, artifact: &[u8]) -> PathBuf {
        let mac = seal().seal(HASH, COMPAT, artifact);
        disk.write(HASH, COMPAT, &mac, artifact.to_vec()).await;
        disk.path(HASH, COMPAT).unwrap()
    }

    #[tokio::test]
    async fn a_written_artifact_reads_back_once_its_mac_verifies() {
        let dir = temp_dir();
        let disk = ArtifactDisk::new(dir.join("cache"));
        written(&disk, b"machine code").await;
        match disk.read(&seal(), HASH, COMPAT).await {
            DiskRead::Hit(bytes) => assert_eq!(bytes, b"machine code"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            disk.read(&seal(), HASH, "0000").await,
            DiskRead::Miss
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_tampered_truncated_or_foreign_file_is_refused_and_deleted() {
        let dir = temp_dir();
        let disk = ArtifactDisk::new(dir.clone());
        type Damage = fn(&mut Vec<u8>);
        let bad: [(&str, Damage); 3] = [
            ("tampered", |b| *b.last_mut().unwrap() ^= 1),
            ("truncated", |b| b.truncate(b.len() - 3)),
            ("header only", |b| b.truncate(MAGIC.len() + 10)),
        ];
        for (what, damage) in bad {
            let path = written(&disk, b"machine code").await;
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
            assert!(
                matches!(disk.read(&seal(), HASH, COMPAT).await, DiskRead::Rejected),
                "{what}"
            );
            assert!(!path.exists(), "{what}: deleted");
        }
        // Another deployment's key.
        written(&disk, b"machine code").await;
        let other = ArtifactSeal::new([8; 32]);
        assert!(matches!(
            disk.read(&other, HASH, COMPAT).await,
            DiskRead::Rejected
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_default_directory_is_beside_the_sqlite_database_and_none_turns_the_cache_off() {
        assert_eq!(
            resolve_dir("sqlite:///var/lib/sigil/sigil.db", None),
            Some(PathBuf::from("/var/lib/sigil/artifacts"))
        );
        assert_eq!(
            resolve_dir("postgres://db/sigil", None),
            Some(PathBuf::from("./data/artifacts"))
        );
        assert_eq!(
            resolve_dir("postgres://db/sigil", Some("/cache/sigil")),
            Some(PathBuf::from("/cache/sigil"))
        );
        assert_eq!(resolve_dir("sqlite://x.db", Some("none")), None);
    }

    #[tokio::test]
    async fn names_that_are_not_hex_name_no_file() {
        let disk = ArtifactDisk::new(PathBuf::from("/nonexistent"));
        assert!(disk.path("../../etc/passwd", COMPAT).is_none());
        assert!(disk.path(HASH, "a/b").is_none());
        assert!(disk.path("", COMPAT).is_none());
    }

    #[tokio::test]
    async fn the_sweep_deletes_other_engines_unreferenced_hashes_and_stale_temp_files() {
        let dir = temp_dir();
        let disk = ArtifactDisk::new(dir.clone());
        for name in [
            "ab12-00ff.cwasm", // kept
            "ab12-0001.cwasm", // another engine
            "cd34-00ff.cwasm", // no version has this hash
            ".ab12-00ff.cwasm.1.tmp",
            "notes.txt", // not ours
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let keep: HashSet<String> = [HASH.to_string()].into();
        let far_future = i64::MAX / 2;
        assert_eq!(disk.sweep(COMPAT, keep, far_future).await, 3);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["ab12-00ff.cwasm", "notes.txt"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
