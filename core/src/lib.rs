//! The raffle domain, without a database: money, times, identifiers,
//! validation numbers, the log entry schema, the prize formula and the draw.
//!
//! This crate is what the auditor (`raffle-audit`) shares with the server:
//! the entry schema ([`entry`]) and the draw ([`draw`]) are defined once,
//! here. It links neither sqlx nor PostgreSQL.
//!
//! Guarantees: domain values can only be built valid (`Money`, `Timestamp`,
//! `ValidationNumber`, ...) and every parser rejects malformed input with an
//! [`Error`] naming what is wrong. Money is integer minor units; times are
//! UTC with microseconds; randomness comes only from the OS CSPRNG.

pub mod chunked;
pub mod clock;
pub mod draw;
pub mod entry;
mod error;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod mutants;
pub mod prize;
pub mod refusal;
pub mod role;
pub mod rsu;
#[cfg(feature = "store")]
pub mod store;
pub mod timestamp;
pub mod validation;

pub use error::{Error, Result};
pub use money::{Currency, Money};
pub use refusal::Refusal;
pub use role::Role;
pub use timestamp::Timestamp;
