//! raffle-audit: the regulator's and the buyer's verifier of a published
//! raffle log, and the regulator's witness.
//!
//! It depends on `transparency` (the log formats) and on `raffle-core`
//! without its store (the entry schema and domain values) — never on the
//! server, its database or sqlx. Its rule checks ([`rules`]) and the draw
//! recomputation ([`draw`]) are its own code, written from the architecture
//! page and the GLI-31 checklist, so that a bug in the server cannot hide
//! itself in the audit.
//!
//! Guarantees: a verdict of "pass" means every file verified against the
//! signed checkpoint and every entry kept every rule; anything else names
//! each violation with its leaf index, raffle and GLI-31 section. Bad input
//! is one clear error line, never a panic. Memory follows the raffles still
//! open, not the length of the log.

pub mod audit;
pub mod draw;
mod error;
pub mod keys;
pub mod report;
pub mod rsu;
pub mod rules;
pub mod sales;
pub mod source;
pub mod state;
pub mod ticket;
pub mod walk;
pub mod witness;

pub use error::{Error, Result};
