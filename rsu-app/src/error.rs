//! The crate's one error type: what stops a sale, a sign-in, a sync or a
//! start, each said so the operator knows what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal does not hold this unit's valid chain: selling stops
    /// (GLI-31 3.4.4, 3.5).
    #[error("the journal is corrupt at record {seq}: {why}")]
    Corrupt { seq: u64, why: String },
    /// The file is another unit's, another log's, or another key's.
    #[error("the journal is not this unit's: {0}")]
    NotThisUnits(String),
    /// What the operator asked cannot be done, and why.
    #[error("{0}")]
    Refused(String),
    /// The unit sells no more until it syncs (GLI-31 6.1.4).
    #[error("{0}")]
    MustSync(String),
    /// No operator is signed in, or the session locked (GLI-31 3.2.2).
    #[error("{0}")]
    SignIn(String),
    /// The printer cannot print: its state.
    #[error("the printer cannot print: {0}")]
    Printer(&'static str),
    /// The card was not paid: no sale.
    #[error("the card payment did not go through: {0}")]
    Payment(String),
    /// The server did not answer, or not as the protocol says.
    #[error("the server: {0}")]
    Server(String),
    #[error("the key file {path}: {why}")]
    KeyFile { path: PathBuf, why: String },
    #[error(
        "the passphrase does not open the key file, or it or unit.json (the log's key, the unit's id, its limits, its card terminal) was altered"
    )]
    WrongPassphrase,
    #[error(
        "the passphrase must be at least {} characters",
        crate::keystore::MIN_PASSPHRASE
    )]
    WeakPassphrase,
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("the journal's storage failed: {0}")]
    Storage(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
