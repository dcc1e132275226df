//! What the sequencer says about itself: its batches, and whether its
//! durable writes (the database commit and the publication store) are
//! failing. Read by `raffled`'s readiness check, its metrics and the
//! console's status screen; written only by the sequencer's task.
//!
//! Error texts are kept for staff (the status screen, the logs); the
//! public readiness answer says only what is failing and since when.

use crate::Timestamp;
use std::sync::Mutex;
use std::time::Duration;

/// One durable batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchStats {
    /// Entries in the batch.
    pub entries: usize,
    /// Time to write its entries and projections in the database.
    pub database: Duration,
    /// Time until its tiles and checkpoint were published.
    pub published: Duration,
    /// Time until the database commit.
    pub committed: Duration,
    /// The log's size after it.
    pub log_size: u64,
    pub at: Timestamp,
}

/// The sequencer's state as of the last batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Durable batches since start, and their entries.
    pub batches: u64,
    pub entries: u64,
    /// The time spent in durable batches, summed (for a mean per batch).
    pub batch_time: Duration,
    pub last_batch: Option<BatchStats>,
    /// Failed batches or recoveries since start.
    pub failures: u64,
    /// Set from the first failure until the next durable batch.
    pub failing_since: Option<Timestamp>,
    /// The latest failure's text (staff only).
    pub last_error: Option<String>,
    /// Changes waiting for the sequencer.
    pub queue_depth: usize,
    /// Checkpoints witnesses cosigned, and offers that failed, since start.
    pub witness: (u64, u64),
    /// The log size each witness last cosigned, by key name.
    pub witness_sizes: std::collections::BTreeMap<String, u64>,
    /// When the batch being made durable now started, if one is.
    pub in_flight_since: Option<Timestamp>,
}

/// Shared between the sequencer's task and its handles.
#[derive(Debug, Default)]
pub struct Health(Mutex<HealthSnapshot>);

impl Health {
    /// A batch starts its durable writes.
    pub fn writing(&self, at: Timestamp) {
        self.0.lock().expect("health lock").in_flight_since = Some(at);
    }

    /// The batch's durable writes ended, made durable or not.
    pub fn written(&self) {
        self.0.lock().expect("health lock").in_flight_since = None;
    }

    /// A batch was made durable: published and committed.
    pub fn batch(&self, stats: BatchStats) {
        let mut h = self.0.lock().expect("health lock");
        h.batches += 1;
        h.entries += stats.entries as u64;
        h.batch_time += stats.committed;
        h.last_batch = Some(stats);
        h.failing_since = None;
    }

    /// A batch, or the recovery after one, failed.
    pub fn failed(&self, at: Timestamp, error: &str) {
        let mut h = self.0.lock().expect("health lock");
        h.failures += 1;
        h.failing_since.get_or_insert(at);
        h.last_error = Some(error.to_string());
    }

    /// The witnesses' answers so far.
    pub fn witnesses(
        &self,
        cosigned: u64,
        failed: u64,
        sizes: &std::collections::HashMap<String, u64>,
    ) {
        let mut h = self.0.lock().expect("health lock");
        h.witness = (cosigned, failed);
        h.witness_sizes = sizes.iter().map(|(k, v)| (k.clone(), *v)).collect();
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        self.0.lock().expect("health lock").clone()
    }
}
