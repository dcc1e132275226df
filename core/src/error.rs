//! The crate's one error type.

/// Everything that can go wrong in the raffle domain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A value that does not follow its format (`what` is the value's name).
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// An entry of a type or version this build does not know.
    #[error("unknown entry {0}: upgrade raffle-audit")]
    UnknownEntry(String),
    /// Arithmetic that would overflow (sums of money, counts).
    #[error("overflow: {0}")]
    Overflow(String),
    /// A change the raffle rules refuse, with the rule that refused it
    /// (a typed [`crate::Refusal`]: a stable code and its parameters).
    #[error("refused: {0}")]
    Refused(crate::Refusal),
    /// The database, the publication store or the log failed; the change
    /// was not acknowledged.
    #[error("storage: {0}")]
    Storage(String),
    /// A sale whose validation number's commitment is already sold in its
    /// raffle (GLI-31 2.3.2): only that change is refused; the online path
    /// draws a new number and tries again.
    #[error("refused: the validation number is already used in this raffle")]
    ValidationNumberTaken,
    /// The system cannot take the change now (recovering, shutting down).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The OS random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
