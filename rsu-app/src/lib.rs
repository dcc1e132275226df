//! The sales unit (RSU) app, `raffle-rsu` (GLI-31 chapter 3, 6.1): selling
//! offline for handheld sellers, implementing the server's protocol
//! (`raffle_core::rsu`, `docs/entry-schema.md`, "Sales units") on the
//! device.
//!
//! A platform-free core ([`unit`], over the [`journal`]) with ports for the
//! printer ([`printer`]), the card terminal ([`payment`]), the key store
//! ([`keystore`]), the clock ([`clock`]) and the network ([`server`]); the
//! Linux shells are the kiosk UI ([`kiosk`]) and the headless mode
//! ([`headless`]). An Android shell would implement the same ports.

pub mod book;
pub mod clock;
pub mod config;
pub mod error;
pub mod escpos;
pub mod headless;
pub mod i18n;
pub mod journal;
pub mod keystore;
pub mod kiosk;
pub mod payment;
pub mod printer;
pub mod server;
pub mod ticket;
pub mod unit;

pub use error::{Error, Result};
