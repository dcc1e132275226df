//! `/healthz` and `/readyz`.
//!
//! Alive: the process answers. Ready: this instance may take sales, which
//! holds only while its sequencer runs (and so holds the database's
//! single-writer lock), the database answers within [`DATABASE_BOUND`],
//! and no durable write (the database commit or the publication store) has
//! been failing since the last batch that succeeded. The answer says which
//! check fails and since when, never the error's text (it is in the logs
//! and on the console's status screen).

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// How long the database may take to answer the readiness check.
pub const DATABASE_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn healthz() -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({ "alive": true })))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut not_ready = Vec::new();
    if !state.sequencer.running() {
        not_ready.push("the sequencer has stopped".to_string());
    }
    let database = tokio::time::timeout(
        DATABASE_BOUND,
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.store.pool),
    )
    .await;
    if !matches!(database, Ok(Ok(1))) {
        not_ready.push(format!(
            "the database did not answer within {} s",
            DATABASE_BOUND.as_secs()
        ));
    }
    let health = state.sequencer.health();
    if let Some(since) = health.failing_since {
        not_ready.push(format!(
            "durable writes (database commit or publication store) failing since {since}"
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
