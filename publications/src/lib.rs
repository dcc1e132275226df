//! The publication store: where the log is published as static files
//! (`checkpoint`, `tile/...`, `vkey`), served read-only under `/log/`.
//!
//! Guarantees: tiles and bundles are written atomically and made durable
//! before [`Publications::swap_checkpoint`] may publish a checkpoint covering
//! them (the [`transparency::store::Appender`] enforces the order); the
//! checkpoint is replaced only by compare-and-swap against the checkpoint the
//! caller last saw, under an exclusive lock, so two writers (or a rolled-back
//! writer) cannot overwrite each other's history unnoticed.
//!
//! Today: a local directory. S3 arrives later behind the same interface.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use transparency::store::{CHECKPOINT_PATH, DirStorage, TileStorage};

/// This crate's one error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Log(#[from] transparency::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the published checkpoint changed under us (another writer, or a restored publication store): {0}"
    )]
    Conflict(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A local publication directory.
#[derive(Debug)]
pub struct Publications {
    dir: PathBuf,
    storage: DirStorage,
    lock: fs::File,
}

impl Publications {
    /// Opens (creating) the directory. `fsync` makes every write durable
    /// before it is acknowledged (production); tests may turn it off.
    pub fn open(dir: impl Into<PathBuf>, fsync: bool) -> Result<Publications> {
        let dir = dir.into();
        let storage = DirStorage::new(&dir, fsync)?;
        let lock_path = dir.join(".lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| Error::Io {
                path: lock_path.clone(),
                source,
            })?;
        Ok(Publications { dir, storage, lock })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tile storage the log appender writes to.
    pub fn storage(&self) -> &DirStorage {
        &self.storage
    }

    /// The published checkpoint's bytes, if any.
    pub fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.storage.read(CHECKPOINT_PATH)?)
    }

    /// Replaces the checkpoint with `new` if the published one is still
    /// `expected` (`None`: no checkpoint yet), and makes it durable.
    pub fn swap_checkpoint(&self, expected: Option<&[u8]>, new: &[u8]) -> Result<()> {
        self.lock.lock().map_err(|source| Error::Io {
            path: self.dir.join(".lock"),
            source,
        })?;
        let result = (|| {
            let current = self.checkpoint()?;
            if current.as_deref() != expected {
                return Err(Error::Conflict(format!(
                    "expected {} bytes, found {}",
                    expected.map_or(0, <[u8]>::len),
                    current.as_ref().map_or(0, Vec::len)
                )));
            }
            self.storage.write(CHECKPOINT_PATH, new)?;
            self.storage.sync()?;
            Ok(())
        })();
        let _ = self.lock.unlock();
        result
    }

    /// Publishes the log's verifier key beside the checkpoint.
    pub fn write_vkey(&self, vkey: &str) -> Result<()> {
        let path = self.dir.join("vkey");
        if fs::read_to_string(&path).is_ok_and(|v| v.trim() == vkey) {
            return Ok(());
        }
        let mut f = fs::File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        f.write_all(format!("{vkey}\n").as_bytes())
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_is_replaced_only_by_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let p = Publications::open(dir.path(), false).unwrap();
        assert_eq!(p.checkpoint().unwrap(), None);
        p.swap_checkpoint(None, b"one").unwrap();
        assert!(matches!(
            p.swap_checkpoint(None, b"two"),
            Err(Error::Conflict(_))
        ));
        p.swap_checkpoint(Some(b"one"), b"two").unwrap();
        assert!(matches!(
            p.swap_checkpoint(Some(b"one"), b"three"),
            Err(Error::Conflict(_))
        ));
        assert_eq!(p.checkpoint().unwrap().as_deref(), Some(&b"two"[..]));
        p.write_vkey("example+00000000+AQ==").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("vkey")).unwrap(),
            "example+00000000+AQ==\n"
        );
    }
}
