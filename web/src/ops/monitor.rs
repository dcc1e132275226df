//! Significant events for lost communications, program errors and full
//! queues (GLI-31 5.6.1).
//!
//! A background task probes each link every few seconds: the database
//! (`SELECT 1`), the publication store (a read of the checkpoint, and the
//! sequencer's durable writes) and each witness with a URL (any HTTP
//! answer). A link that has not answered for longer than
//! `RAFFLE_COMM_LOSS_SECS` raises one `communication/lost` event; its
//! first answer after that raises one `communication/restored` event with
//! how long it was down. A panic in a request handler (caught at the edge
//! and answered 500) is a `program/error` event, and a full queue (the
//! edge turning requests away, or the sequencer's queue nine-tenths full)
//! a `program/queue_full` event, at most one a minute for each queue (and
//! for panics).
//! Each is counted in the metrics.
//!
//! SMTP is not watched: `raffled` sends no e-mail yet.
//!
//! The event records a link by kind and, for a witness, its key name: no
//! address, error text or secret goes into the significant events.

use crate::AppState;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Something the request path noticed, for the monitor to record.
#[derive(Debug)]
pub enum Incident {
    /// A handler panicked (the message, cut short).
    Panic(String),
    /// The edge refused a request: too many in progress.
    RequestsFull,
}

/// A link as the status screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub up: bool,
    /// When it stopped answering, while it does not.
    pub down_since: Option<raffle_core::Timestamp>,
    /// Whether a `communication/lost` event was raised for this outage.
    pub reported: bool,
}

/// Every watched link's state, by name (`database`, `publication_store`,
/// `witness:<name>`).
#[derive(Debug, Default)]
pub struct Links(Mutex<BTreeMap<String, LinkState>>);

impl Links {
    pub fn snapshot(&self) -> BTreeMap<String, LinkState> {
        self.0.lock().expect("links lock").clone()
    }
}

/// Incidents that may wait for the monitor; beyond, new ones are dropped
/// (they are counted in the metrics where they happen).
pub const INCIDENTS: usize = 1024;

/// The sender the edge reports incidents to, and its receiver.
pub fn incidents() -> (mpsc::Sender<Incident>, mpsc::Receiver<Incident>) {
    mpsc::channel(INCIDENTS)
}

/// A handler's panic, caught at the edge: reported, and answered 500 with
/// nothing of the panic in the answer.
pub fn panicked(
    metrics: &super::metrics::Metrics,
    incidents: &mpsc::Sender<Incident>,
    panic: Box<dyn std::any::Any + Send>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    let message: String = message.chars().take(200).collect();
    tracing::error!(panic = %message, "a request handler panicked");
    metrics.program_error();
    let _ = incidents.try_send(Incident::Panic(message));
    crate::error::AppError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "an internal error: it has been recorded",
    )
    .into_response()
}

/// How often links are probed, for an outage bound of `bound`.
fn interval(bound: Duration) -> Duration {
    (bound / 3).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

/// Runs the monitor until the process ends.
pub async fn run(state: AppState, mut incidents: mpsc::Receiver<Incident>) {
    let bound = state.config.comm_loss();
    let every = interval(bound);
    let mut since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut last_full: BTreeMap<&'static str, Instant> = BTreeMap::new();
    loop {
        for (link, up) in probe(&state).await {
            observe(&state, &link, up, bound, &mut since).await;
        }
        let depth = state.sequencer.health().queue_depth;
        if depth * 10 >= raffle_core::store::sequencer::QUEUE * 9 {
            state.metrics.queue_full("sequencer");
            queue_full(&state, "sequencer", &mut last_full).await;
        }
        let sleep = tokio::time::sleep(every);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                Some(incident) = incidents.recv() => {
                    record_incident(&state, incident, &mut last_full).await;
                }
            }
        }
    }
}

/// Each link and whether it answered.
async fn probe(state: &AppState) -> Vec<(String, bool)> {
    let wait = Duration::from_secs(2);
    let database = matches!(
        tokio::time::timeout(
            wait,
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.store.pool)
        )
        .await,
        Ok(Ok(1))
    );
    let publications = state.publications.clone();
    let readable = tokio::task::spawn_blocking(move || publications.checkpoint().is_ok())
        .await
        .unwrap_or(false);
    // Durable writes failing, or hung, while the database answers: the store.
    let health = state.sequencer.health();
    let writing = (health.failing_since.is_none()
        && super::health::stalled(&health, state.config.comm_loss()).is_none())
        || !database;
    let mut links = vec![
        ("database".to_string(), database),
        ("publication_store".to_string(), readable && writing),
    ];
    for w in state.witnesses.iter() {
        links.push((format!("witness:{}", w.name()), w.reachable(wait).await));
    }
    links
}

/// One probe's answer: an outage longer than `bound` is reported once, and
/// so is the recovery after it.
async fn observe(
    state: &AppState,
    link: &str,
    up: bool,
    bound: Duration,
    since: &mut BTreeMap<String, Instant>,
) {
    let now = raffle_core::Timestamp::now();
    let (kind, name) = match link.split_once(':') {
        Some((kind, name)) => (kind, Some(name)),
        None => (link, None),
    };
    let mut report = None;
    {
        let mut links = state.links.0.lock().expect("links lock");
        let s = links.entry(link.to_string()).or_insert(LinkState {
            up: true,
            down_since: None,
            reported: false,
        });
        if up {
            if s.reported {
                let down_for = since.get(link).map_or(0, |t| t.elapsed().as_secs());
                report = Some((
                    "restored",
                    json!({ "link": kind, "name": name, "down_for_secs": down_for }),
                ));
            }
            *s = LinkState {
                up: true,
                down_since: None,
                reported: false,
            };
            since.remove(link);
        } else {
            s.up = false;
            s.down_since.get_or_insert(now);
            let started = *since.entry(link.to_string()).or_insert_with(Instant::now);
            if !s.reported && started.elapsed() >= bound {
                s.reported = true;
                report = Some((
                    "lost",
                    json!({ "link": kind, "name": name, "since": s.down_since.map(|t| t.to_string()) }),
                ));
            }
        }
    }
    if let Some((what, detail)) = report {
        state.metrics.communication(kind, what);
        if what == "lost" {
            tracing::error!(link, "communication lost");
        } else {
            tracing::warn!(link, "communication restored");
        }
        if let Err(e) = state
            .store
            .record_event("communication", what, &detail, None)
            .await
        {
            // The database itself may be the lost link: the log line stays.
            tracing::error!(error = %e, link, what, "recording a communication event");
        }
    }
}

async fn record_incident(
    state: &AppState,
    incident: Incident,
    last_full: &mut BTreeMap<&'static str, Instant>,
) {
    match incident {
        Incident::Panic(message) => {
            // At most one event a minute: a panic a visitor could repeat
            // must not flood the events.
            if last_full
                .get("panic")
                .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
            {
                return;
            }
            last_full.insert("panic", Instant::now());
            let _ = state
                .store
                .record_event("program", "error", &json!({ "panic": message }), None)
                .await;
        }
        Incident::RequestsFull => queue_full(state, "requests", last_full).await,
    }
}

/// A full queue (counted in the metrics where it is seen), recorded at
/// most once a minute for each.
async fn queue_full(
    state: &AppState,
    queue: &'static str,
    last: &mut BTreeMap<&'static str, Instant>,
) {
    if last
        .get(queue)
        .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    {
        return;
    }
    last.insert(queue, Instant::now());
    tracing::warn!(queue, "queue full");
    let _ = state
        .store
        .record_event("program", "queue_full", &json!({ "queue": queue }), None)
        .await;
}
