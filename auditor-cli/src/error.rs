//! The crate's one error type: what stops an audit before a verdict (bad
//! input, an unreadable source, a log that does not verify). Rule
//! violations are not errors: they are findings ([`crate::rules::Violation`]).
//! Every message is one line.

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the user gave that is not usable (a missing file, a malformed key or policy).
    #[error("{0}")]
    Input(String),
    /// The published log could not be read (HTTP error, unreadable file).
    #[error("{0}")]
    Source(String),
    /// The log's files, signatures or proofs do not verify.
    #[error(transparent)]
    Log(#[from] transparency::Error),
    /// The audit state directory could not be read or written.
    #[error("audit state: {0}")]
    State(String),
    /// The witness server failed.
    #[error("witness: {0}")]
    Witness(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
