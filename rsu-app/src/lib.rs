//! The sales unit (RSU) app, `raffle-rsu` (issue 16): selling offline for
//! handheld sellers, implementing the server's protocol
//! (`raffle_core::rsu`, `docs/entry-schema.md`, "Sales units") on the
//! device. Built so far: the journal ([`journal`]), which also sells from
//! the unit's ranges within its offline limits. Not yet: the sync client,
//! printing, sign-in, payments and the kiosk shell.

pub mod journal;
