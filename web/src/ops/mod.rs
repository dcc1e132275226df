//! Operating `raffled`: structured logs ([`logging`]), a request id on
//! every request and error page ([`request_id`]), the liveness and
//! readiness checks ([`health`]), metrics in the Prometheus text format
//! on their own listen address ([`metrics`]), and the significant events
//! for lost communications, program errors and full queues ([`monitor`]).
//!
//! Nothing here is a secret or reveals one: the request id is random and
//! means nothing outside this server's logs; the readiness answer says what
//! is failing, not the error; the metrics count, they hold no ids.

pub mod health;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod request_id;

use crate::routes::{Access, Table, entry};
use axum::http::Method;

/// The operations routes: open to anyone (a load balancer has no session).
pub fn table() -> Table {
    Table(vec![
        entry(
            Method::GET,
            "/healthz",
            Access::Public,
            "Whether the process is alive.",
            health::healthz,
        ),
        entry(
            Method::GET,
            "/readyz",
            Access::Public,
            "Whether this instance may take sales: it sequences, its database answers and its writes succeed.",
            health::readyz,
        ),
    ])
}
