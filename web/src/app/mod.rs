//! What the API, the site and the console share: the operations on the
//! raffle (each a checked change submitted to the sequencer), payments and
//! the issuing of paid orders, receipts, authentication and sessions,
//! people and their approvals, the witnesses, and the log's key.

pub mod auth;
pub mod keys;
pub mod mail;
pub mod operations;
pub mod payments;
pub mod people;
pub mod receipt;
pub mod rsu;
pub mod stripe;
pub mod witness;
