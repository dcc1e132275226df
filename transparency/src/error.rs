//! The crate's one error type. Every variant carries enough context to tell a
//! user what was wrong (which file, which line, which rule), in one line.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not follow its format: `what` names the thing being
    /// parsed ("signed note", "checkpoint", "tile path"...), `reason` the rule broken.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// A proof, root or hash that does not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// A signature that is missing, unknown or invalid.
    #[error("signature: {0}")]
    Signature(String),
    /// Two views of the log that cannot both be true (a fork or a rollback).
    #[error("inconsistent log: {0}")]
    Inconsistent(String),
    /// A file or tile that should exist but does not.
    #[error("missing {0}")]
    Missing(String),
    /// An operating-system error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An argument that the caller should never pass (a size beyond the tree, an entry too large).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Malformed {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
