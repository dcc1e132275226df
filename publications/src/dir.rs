//! [`DirStore`]: the publication store in a local directory. Each file is
//! written to a temporary name and renamed into place (fsynced before the
//! rename, and its directory after, when `fsync` is on); the checkpoint is
//! swapped under an exclusive file lock.

use crate::{Error, PublicationStore, Result};
use std::fs;
use std::path::{Path, PathBuf};
use transparency::store::{CHECKPOINT_PATH, DirStorage, TileStorage};

/// A local publication directory.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
    storage: DirStorage,
    lock: fs::File,
}

impl DirStore {
    /// Opens (creating) the directory. `fsync` makes every write durable
    /// before it is acknowledged (production); tests may turn it off.
    pub fn open(dir: impl Into<PathBuf>, fsync: bool) -> Result<DirStore> {
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
        Ok(DirStore { dir, storage, lock })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl PublicationStore for DirStore {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.storage.read(path)?)
    }

    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        self.storage.write_many(files)?;
        self.storage.sync()?;
        Ok(())
    }

    fn swap_checkpoint(&self, expected: Option<&[u8]>, new: &[u8]) -> Result<()> {
        self.lock.lock().map_err(|source| Error::Io {
            path: self.dir.join(".lock"),
            source,
        })?;
        let result = (|| {
            let current = self.storage.read(CHECKPOINT_PATH)?;
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

    fn put(&self, path: &str, data: &[u8]) -> Result<()> {
        if path == CHECKPOINT_PATH || path.starts_with("tile/") {
            return Err(Error::Conflict(format!(
                "{path} is written only by the log's own calls"
            )));
        }
        self.storage.write(path, data)?;
        self.storage.sync()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_is_replaced_only_by_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let p = DirStore::open(dir.path(), false).unwrap();
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
        assert!(
            p.put("checkpoint", b"x").is_err(),
            "no checkpoint but by swap"
        );
        assert!(
            p.put("tile/0/000", b"x").is_err(),
            "no tile but by write_tiles"
        );
        assert_eq!(p.checkpoint().unwrap().as_deref(), Some(&b"two"[..]));
    }
}
