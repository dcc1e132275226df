//! The clock the sequencer stamps entries with, injected so that tests can
//! move time (a raffle's end time, a draw's cutoff) instead of sleeping.
//!
//! Guarantee: [`SystemClock`] is the only clock production code builds;
//! [`ManualClock`] exists for tests and moves only when told. The sequencer
//! never lets entry times go backwards whatever its clock says (an entry's
//! time is the later of the clock and the previous entry's time).

use crate::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the current time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The operating system's clock (UTC).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until a test sets or advances it.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(at.as_micros()))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.as_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.0.load(Ordering::SeqCst))
    }
}
