//! Metrics in the Prometheus (OpenMetrics) text format, served on their own listen
//! address (`RAFFLE_METRICS_LISTEN`, off by default) so that they are never
//! on the public site. Counters are recorded where things happen (requests,
//! purchases); the sequencer's, the publication lag and the database pool
//! are read from their owners when the metrics are scraped.
//!
//! Labels are routes (the route table's templates, never a raw path),
//! statuses, refusal codes and witness names: nothing that identifies a
//! buyer, an order or a sale.

use crate::AppState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    /// A route template of the tables ([`crate::routes::template`]).
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurchaseLabels {
    /// `acknowledged` or `refused`.
    pub outcome: &'static str,
    /// The refusal's code; empty when acknowledged.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `idle` or `in_use`.
    pub state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every series `raffled` exposes.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub purchases: Family<PurchaseLabels, Counter>,
    pub verifications: Family<ResultLabels, Counter>,
    batches: Counter,
    batch_entries: Counter,
    batch_seconds: Counter<f64, AtomicU64>,
    last_batch_entries: Gauge,
    queue_depth: Gauge,
    sequencer_failures: Counter,
    publication_lag: FloatGauge,
    witness_requests: Family<ResultLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    communication: Family<LinkLabels, Counter>,
    program_errors: Counter,
    queue_full: Family<QueueLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkLabels {
    /// `database`, `publication_store` or `witness`.
    pub link: String,
    /// `lost` or `restored`.
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: &'static str,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("raffle");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route",
            request_seconds.clone(),
        );
        let purchases = Family::<PurchaseLabels, Counter>::default();
        registry.register(
            "purchases",
            "Paid orders issued a ticket (acknowledged) or refunded (refused, by refusal code)",
            purchases.clone(),
        );
        let verifications = Family::<ResultLabels, Counter>::default();
        registry.register(
            "verifications",
            "Software verifications, by result",
            verifications.clone(),
        );
        // Shown at zero until the first verification (an empty family prints nothing).
        for result in ["passed", "failed"] {
            let _ = verifications.get_or_create(&ResultLabels { result });
        }
        let batches = Counter::default();
        registry.register(
            "sequencer_batches",
            "Durable sequencer batches",
            batches.clone(),
        );
        let batch_entries = Counter::default();
        registry.register(
            "sequencer_batch_entries",
            "Log entries in durable batches",
            batch_entries.clone(),
        );
        let batch_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "sequencer_batch_seconds",
            "Time spent making batches durable",
            batch_seconds.clone(),
        );
        let last_batch_entries = Gauge::default();
        registry.register(
            "sequencer_last_batch_entries",
            "Entries in the latest durable batch",
            last_batch_entries.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "sequencer_queue_depth",
            "Changes waiting for the sequencer",
            queue_depth.clone(),
        );
        let sequencer_failures = Counter::default();
        registry.register(
            "sequencer_failures",
            "Failed batches and recoveries",
            sequencer_failures.clone(),
        );
        let publication_lag = FloatGauge::default();
        registry.register(
            "publication_lag_seconds",
            "Now minus the time the latest checkpoint was published",
            publication_lag.clone(),
        );
        let witness_requests = Family::<ResultLabels, Counter>::default();
        registry.register(
            "witness_requests",
            "Checkpoints offered to witnesses, by result",
            witness_requests.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "database_connections",
            "Database pool connections, by state",
            pool.clone(),
        );
        let communication = Family::<LinkLabels, Counter>::default();
        registry.register(
            "communication_events",
            "Links lost and restored (GLI-31 5.6.1)",
            communication.clone(),
        );
        for link in ["database", "publication_store", "witness"] {
            for event in ["lost", "restored"] {
                let _ = communication.get_or_create(&LinkLabels {
                    link: link.into(),
                    event,
                });
            }
        }
        let program_errors = Counter::default();
        registry.register(
            "program_errors",
            "Request handlers that panicked",
            program_errors.clone(),
        );
        let queue_full = Family::<QueueLabels, Counter>::default();
        registry.register(
            "queue_full",
            "Requests turned away, or the sequencer's queue nine-tenths full",
            queue_full.clone(),
        );
        for queue in ["requests", "sequencer"] {
            let _ = queue_full.get_or_create(&QueueLabels { queue });
        }
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "payment_webhooks",
            "Payment webhook deliveries: stored (a new event), duplicate, refused (bad signature)",
            webhooks.clone(),
        );
        for outcome in ["stored", "duplicate", "refused"] {
            let _ = webhooks.get_or_create(&WebhookLabels { outcome });
        }
        Metrics {
            webhooks,
            registry,
            communication,
            program_errors,
            queue_full,
            requests,
            request_seconds,
            purchases,
            verifications,
            batches,
            batch_entries,
            batch_seconds,
            last_batch_entries,
            queue_depth,
            sequencer_failures,
            publication_lag,
            witness_requests,
            pool,
        }
    }

    pub fn communication(&self, link: &str, event: &'static str) {
        self.communication
            .get_or_create(&LinkLabels {
                link: link.into(),
                event,
            })
            .inc();
    }

    pub fn program_error(&self) {
        self.program_errors.inc();
    }

    /// A webhook delivery: `stored`, `duplicate` or `refused`.
    pub fn webhook(&self, outcome: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels { outcome })
            .inc();
    }

    pub fn queue_full(&self, queue: &'static str) {
        self.queue_full.get_or_create(&QueueLabels { queue }).inc();
    }

    /// A purchase's outcome: issued, or refunded with a refusal.
    pub fn purchase(&self, refusal: Option<&str>) {
        let labels = match refusal {
            None => PurchaseLabels {
                outcome: "acknowledged",
                reason: String::new(),
            },
            Some(code) => PurchaseLabels {
                outcome: "refused",
                reason: code.to_string(),
            },
        };
        self.purchases.get_or_create(&labels).inc();
    }

    /// The text format, with the read-at-scrape series brought up to date.
    pub fn render(&self, state: &AppState) -> String {
        let h = state.sequencer.health();
        set_counter(&self.batches, h.batches);
        set_counter(&self.batch_entries, h.entries);
        set_counter(&self.sequencer_failures, h.failures);
        let seconds = h.batch_time.as_secs_f64();
        let inc = seconds - self.batch_seconds.get();
        if inc > 0.0 {
            self.batch_seconds.inc_by(inc);
        }
        self.last_batch_entries
            .set(h.last_batch.map_or(0, |b| b.entries as i64));
        self.queue_depth.set(h.queue_depth as i64);
        let published = super::health::last_published(state, &h);
        let lag = (raffle_core::Timestamp::now().as_micros() - published.as_micros()) as f64 / 1e6;
        self.publication_lag.set(lag.max(0.0));
        let (ok, failed) = h.witness;
        set_counter(
            &self
                .witness_requests
                .get_or_create(&ResultLabels { result: "cosigned" }),
            ok,
        );
        set_counter(
            &self
                .witness_requests
                .get_or_create(&ResultLabels { result: "failed" }),
            failed,
        );
        let size = i64::from(state.store.pool.size());
        let idle = state.store.pool.num_idle() as i64;
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set((size - idle).max(0));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

/// Brings a counter up to a total its owner keeps.
fn set_counter(c: &Counter, total: u64) {
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}

/// The metrics listener's application: `GET /metrics` only.
pub fn router(state: AppState) -> axum::Router {
    use axum::http::header;
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |axum::extract::State(state): axum::extract::State<AppState>| async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        state.metrics.render(&state),
                    )
                },
            ),
        )
        .with_state(state)
}

/// Middleware on the application: counts each request by its route
/// template (from the route tables) and status, and times it.
pub async fn layer(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        _ => "OTHER",
    };
    let route = match req.extensions().get::<super::request_id::Route>() {
        Some(r) => r.0,
        None => crate::routes::template(req.method(), req.uri().path()),
    };
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .request_seconds
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    response
}
