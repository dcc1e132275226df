//! The publication store: where the log is published as static files
//! (`checkpoint`, `tile/...`, `vkey`, and later the other public objects:
//! verification results, report digests), served read-only under `/log/`.
//!
//! [`PublicationStore`] is the one interface the sequencer writes through.
//! Implementations: [`DirStore`], a local directory (today's deployments);
//! [`faults::Faulty`], which wraps another store and fails or slows the
//! calls a test names; S3 arrives behind the same trait.
//!
//! Guarantees every implementation gives:
//! - [`PublicationStore::write_tiles`] returns only once every tile and
//!   bundle it was given is durable, each replaced atomically (readers see
//!   the old or the new bytes, never a mix);
//! - [`PublicationStore::swap_checkpoint`] replaces the checkpoint only if
//!   the published one is still the one the caller last saw, and returns
//!   once the new one is durable, so two writers (or a rolled-back writer)
//!   cannot overwrite each other's history unnoticed;
//! - a read of an object that does not exist is `Ok(None)`.
//!
//! The order (tiles durable before the checkpoint that covers them) is the
//! caller's: the [`transparency::store::Appender`] writes the tiles, the
//! sequencer swaps the checkpoint after.

mod dir;
pub mod faults;

pub use dir::DirStore;

use std::path::PathBuf;
use std::sync::Arc;
use transparency::store::{CHECKPOINT_PATH, TileStorage};

/// Path of the log's verifier key, beside the checkpoint.
pub const VKEY_PATH: &str = "vkey";

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
    /// A failure a [`faults::Plan`] injected (tests only).
    #[error("injected fault: {0}")]
    Injected(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the log is published.
pub trait PublicationStore: Send + Sync + std::fmt::Debug {
    /// A published object's bytes (a tile, a bundle, the checkpoint, the
    /// key), or `None` if there is none at `path`.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;

    /// Writes the tiles and entry bundles of one batch (paths below
    /// `tile/`); durable when it returns. On error some may be written:
    /// no checkpoint covers them yet, and the next batch rewrites them.
    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<()>;

    /// Replaces the checkpoint with `new` if the published one is still
    /// `expected` (`None`: no checkpoint yet); durable when it returns.
    fn swap_checkpoint(&self, expected: Option<&[u8]>, new: &[u8]) -> Result<()>;

    /// Writes a public object outside the tree (the verifier key; later
    /// verification results and report digests), replacing what was there.
    fn put(&self, path: &str, data: &[u8]) -> Result<()>;

    /// The published checkpoint's bytes, if any.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        self.read(CHECKPOINT_PATH)
    }

    /// Publishes the log's verifier key beside the checkpoint (once: an
    /// unchanged key is not rewritten).
    fn write_vkey(&self, vkey: &str) -> Result<()> {
        let line = format!("{vkey}\n");
        if self.read(VKEY_PATH)?.as_deref() == Some(line.as_bytes()) {
            return Ok(());
        }
        self.put(VKEY_PATH, line.as_bytes())
    }
}

/// A publication store seen as the log's tile storage, for the
/// [`transparency::store::Appender`] and for proofs read from the tiles.
/// The checkpoint is not writable through it: it is replaced only by
/// [`PublicationStore::swap_checkpoint`].
#[derive(Clone, Debug)]
pub struct Tiles(pub Arc<dyn PublicationStore>);

impl TileStorage for Tiles {
    fn read(&self, path: &str) -> transparency::Result<Option<Vec<u8>>> {
        self.0.read(path).map_err(into_log_error)
    }

    fn write(&self, path: &str, data: &[u8]) -> transparency::Result<()> {
        self.write_many(&[(path.to_string(), data.to_vec())])
    }

    fn write_many(&self, files: &[(String, Vec<u8>)]) -> transparency::Result<()> {
        if files.iter().any(|(p, _)| p == CHECKPOINT_PATH) {
            return Err(transparency::Error::InvalidArgument(
                "the checkpoint is replaced only by compare-and-swap".into(),
            ));
        }
        self.0.write_tiles(files).map_err(into_log_error)
    }

    /// [`PublicationStore::write_tiles`] is durable when it returns.
    fn sync(&self) -> transparency::Result<()> {
        Ok(())
    }
}

fn into_log_error(e: Error) -> transparency::Error {
    match e {
        Error::Log(e) => e,
        other => transparency::Error::Io {
            path: PathBuf::from("publication store"),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
