//! `/healthz` and `/readyz`.
//!
//! Alive: the process answers. Ready: this instance may take sales, which
//! holds only while its sequencer runs (and so holds the database's
//! single-writer lock), the database answered the monitor's latest probe
//! ([`crate::ops::monitor`], every few seconds, within 2 s), no durable
//! write (the database commit or the publication store) has been failing
//! since the last batch that succeeded, and none has hung for longer than
//! `RAFFLE_COMM_LOSS_SECS`. The answer says which check fails
//! and since when, never the error's text (it is in the logs and on the
//! console's status screen).
//!
//! Neither route touches the database or the disk: an anonymous flood of
//! them costs a lock and a clone, and takes no database connection from
//! the buyers.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// When the latest checkpoint was published: the last durable batch's
/// time, or the process's start (recovery publishes nothing new).
pub fn last_published(
    state: &AppState,
    health: &raffle_core::store::health::HealthSnapshot,
) -> raffle_core::Timestamp {
    health.last_batch.map_or(state.started, |b| b.at)
}

/// When the batch being written started, if its writes have taken longer
/// than `bound` (a publication store or database that hangs rather than
/// fails).
pub fn stalled(
    health: &raffle_core::store::health::HealthSnapshot,
    bound: std::time::Duration,
) -> Option<raffle_core::Timestamp> {
    let since = health.in_flight_since?;
    let waited = raffle_core::Timestamp::now().as_micros() - since.as_micros();
    (waited >= bound.as_micros() as i64).then_some(since)
}

pub async fn healthz() -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({ "alive": true })))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut not_ready = Vec::new();
    if !state.sequencer.running() {
        not_ready.push("the sequencer has stopped".to_string());
    }
    // Not probed yet (the first seconds after start, when the database
    // just answered the start itself) counts as answering.
    if let Some(db) = state.links.snapshot().get("database").filter(|s| !s.up) {
        let since = db.down_since.map(|t| t.to_string()).unwrap_or_default();
        not_ready.push(format!("the database has not answered since {since}"));
    }
    let health = state.sequencer.health();
    if let Some(since) = health.failing_since {
        not_ready.push(format!(
            "durable writes (database commit or publication store) failing since {since}"
        ));
    }
    if let Some(since) = stalled(&health, state.config.comm_loss()) {
        not_ready.push(format!(
            "a batch's durable writes (database commit or publication store) have not finished since {since}"
        ));
    }
    let ready = not_ready.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "not_ready": not_ready,
            "log_size": health.last_batch.map(|b| b.log_size),
            "queue_depth": health.queue_depth,
        })),
    )
}
