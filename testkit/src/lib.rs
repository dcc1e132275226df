//! Dev-only tooling shared by every crate's tests and by the measuring
//! programs (`load-purchases`, `bench-draw`, `bench-pages`):
//!
//! - [`db`]: the one scratch-database helper (a fresh PostgreSQL database
//!   per test on `TEST_DATABASE_URL`, dropped by name);
//! - [`app`]: `raffled` in-process on a fresh database, requests through
//!   its router, and the enrolment and approval steps tests repeat;
//! - [`sequencer`]: a sequencer of its own on a fresh database, with a
//!   clock the test moves and a fault plan its durable steps obey;
//! - [`raffles`]: raffle configurations in a window the test chooses;
//! - [`programs`]: the workspace's programs, built and current, for the
//!   end-to-end tests that run them as processes;
//! - [`measure`]: CPU time from `/proc`, a `raffled serve` process and an
//!   HTTP client for it, and the verification of the log it published.
//!
//! `raffled` depends on none of this: `reqwest` and `tempfile` stay out of
//! the server (`cargo tree -p web -e normal`).

pub mod app;
pub mod db;
pub mod mail;
pub mod measure;
pub mod programs;
pub mod raffles;
pub mod rsu;
pub mod sequencer;
pub mod stripe;
