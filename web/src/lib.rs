//! `raffled`: the raffle server. It runs the sequencer, serves the JSON API
//! under `/api/v1`, the public site, the staff console and the published
//! log read-only under `/log/`.
//!
//! The crate is divided by surface: [`api`] (the JSON API and its OpenAPI
//! document), [`site`] (the public pages), [`console`] (the staff's pages),
//! each with one route table ([`routes`]); [`app`] holds what they share
//! (operations, payments, receipts, authentication, people, witnesses, the
//! log key); [`cli`] the commands (`serve`, `demo`, `rng`); and the HTTP
//! [`edge`], [`config`], [`error`] and [`i18n`] serve them all.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod edge;
pub mod error;
pub mod i18n;
pub mod ops;
pub mod routes;
pub mod site;

use app::{auth, keys, payments, witness};
use config::Config;
use raffle_core::store::Store;
use raffle_core::store::sequencer::{Change, Sequencer, SequencerConfig};
use std::sync::Arc;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub sequencer: Sequencer,
    pub config: Arc<Config>,
    pub vkey: String,
    pub orders: raffle_core::store::orders::OrderBatcher,
    pub payments: payments::Providers,
    /// Witnesses reachable over HTTP (cosigning and draw contributions).
    pub witnesses: Arc<[Arc<witness::HttpWitness>]>,
    /// The HTTP edge's limits (per-address rates, requests in progress).
    pub edge: Arc<edge::Edge>,
    /// Password hashing (Argon2) runs on blocking threads, this many at once.
    pub argon2: Arc<tokio::sync::Semaphore>,
    /// The server's own secret, from the data directory (never logged).
    pub secret: Arc<[u8; 32]>,
    /// The series `raffled` exposes on its metrics address.
    pub metrics: Arc<ops::metrics::Metrics>,
    /// When this process started.
    pub started: raffle_core::Timestamp,
    /// The publication store the sequencer writes (probed by the monitor).
    pub publications: Arc<dyn publications::PublicationStore>,
    /// The watched links' states, kept by [`ops::monitor`].
    pub links: Arc<ops::monitor::Links>,
    /// The SHA-256 of the running executable (GLI-31 5.8.1).
    pub release_sha256: [u8; 32],
    /// Where the request path reports panics and full queues.
    pub incidents: tokio::sync::mpsc::Sender<ops::monitor::Incident>,
    /// The mail server receipts go through, if configured.
    pub mailer: Option<Arc<app::mail::Mailer>>,
    /// The log's key, which also signs the answers to sales units (they
    /// pin it at enrolment; the messages are domain-separated).
    pub rsu_signer: Arc<transparency::key::NoteSigner>,
    /// Sales units' syncs in progress (one per unit at a time).
    pub rsu_syncs: Arc<app::rsu::Syncs>,
}

/// Opens the database, the key and the publications, recovers the log and
/// starts the sequencer; logs `software.started` (GLI-31 5.8.1).
pub async fn start(config: Config) -> Result<AppState, String> {
    start_with(config, None).await
}

/// [`start`], with the publication store's calls and the sequencer's
/// commit obeying a fault plan (tests).
pub async fn start_with(
    config: Config,
    faults: Option<Arc<publications::faults::Plan>>,
) -> Result<AppState, String> {
    let payments = payments::Providers::from_config(&config)?;
    let mailer = app::mail::Mailer::from_config(&config)?.map(Arc::new);
    payments.check_accounts().await?;
    let origin = config.origin();
    let signer = keys::load_or_create(&config.key_path(), &origin)?;
    let vkey = signer.verifier().vkey();
    let rsu_signer = Arc::new(
        transparency::key::NoteSigner::from_private_key(&signer.private_key_text())
            .map_err(|e| e.to_string())?,
    );
    let secret = keys::load_or_create_secret(&config.secret_path())?;
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let dir: Arc<dyn publications::PublicationStore> = Arc::new(
        publications::DirStore::open(config.publications_dir(), true).map_err(|e| e.to_string())?,
    );
    let publications: Arc<dyn publications::PublicationStore> = match &faults {
        Some(plan) => Arc::new(publications::faults::Faulty::new(dir, plan.clone())),
        None => dir,
    };
    let witnesses = witness::from_config(&config)?;
    let sequencer = Sequencer::start(
        store.clone(),
        SequencerConfig {
            origin,
            signer,
            publications: publications.clone(),
            witnesses: witness::cosigners(&witnesses),
            clock: Arc::new(raffle_core::clock::SystemClock),
            faults,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe()
        .and_then(std::fs::read)
        .map_err(|e| format!("reading our own executable: {e}"))?;
    use sha2::Digest as _;
    let sha256: [u8; 32] = sha2::Sha256::digest(&exe).into();
    sequencer
        .submit(Change::SoftwareStarted {
            program: "raffled".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sha256,
        })
        .await
        .map_err(|e| format!("logging software.started: {e}"))?;
    // A fetch of the card provider's books a stopped process left running
    // ended with it (the sequencer's lock makes this process the only one).
    store
        .interrupt_provider_fetches()
        .await
        .map_err(|e| e.to_string())?;
    let orders = raffle_core::store::orders::OrderBatcher::start(store.clone());
    let (incidents, incidents_rx) = ops::monitor::incidents();
    let state = AppState {
        store,
        sequencer,
        config: Arc::new(config.clone()),
        vkey,
        orders,
        payments,
        witnesses: witnesses.into(),
        edge: Arc::new(edge::Edge::new(&config)),
        argon2: Arc::new(tokio::sync::Semaphore::new(ARGON2_AT_ONCE)),
        secret: Arc::new(secret),
        metrics: Arc::new(ops::metrics::Metrics::new()),
        started: raffle_core::Timestamp::now(),
        publications,
        links: Arc::default(),
        release_sha256: sha256,
        incidents,
        mailer,
        rsu_signer,
        rsu_syncs: Arc::default(),
    };
    state
        .store
        .record_event(
            "server",
            "started",
            &serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    // TOTP secrets stored before they were sealed are sealed now.
    auth::seal_stored_secrets(&state)
        .await
        .map_err(|e| format!("sealing TOTP secrets: {}", e.message))?;
    if state.payments.test_enabled() {
        // No money moves: a significant event, and every page says so.
        state
            .store
            .record_event(
                "payments",
                "test_payments_enabled",
                &serde_json::json!({ "providers": state.payments.names() }),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    // Orders a stopped process left paid but not issued, or waiting for
    // their provider, are finished before anything new is accepted.
    let resumed = payments::resume_unfinished_orders(&state)
        .await
        .map_err(|e| format!("resuming unfinished orders: {}", e.message))?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed unfinished orders");
    }
    if let Some(stripe) = state.payments.stripe() {
        tokio::spawn(app::stripe::webhook::run(state.clone(), stripe.clone()));
    }
    tokio::spawn(ops::monitor::run(state.clone(), incidents_rx));
    let background = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVENTS_DIGEST_INTERVAL).await;
            if let Err(e) = digest_events(&background).await {
                tracing::error!(error = %e, "anchoring significant events (events.digest)");
            }
            background.edge.forget_idle();
            // Stored responses hold validation numbers: kept 24 hours at most.
            if let Err(e) = background.store.purge_idempotency().await {
                tracing::error!(error = %e, "purging idempotent responses");
            }
            // Buyers' e-mail addresses go once their raffle has been closed
            // for the retention period.
            if let Err(e) = purge_personal_data(&background).await {
                tracing::error!(error = %e, "purging buyers' e-mail addresses");
            }
            // Captures and releases that failed, and refunds of voided
            // card sales that failed, are tried again.
            if let Err(e) = payments::settle_held_funds(&background).await {
                tracing::error!(error = %e.message, "settling held card payments");
            }
            if let Err(e) = payments::retry_refunds(&background).await {
                tracing::error!(error = %e.message, "retrying refunds");
            }
        }
    });
    Ok(state)
}

/// The whole application: the API, the public site, the console, and the
/// published log read-only under `/log/`, behind the HTTP edge (rate
/// limits, body limits, timeouts).
pub fn router(state: AppState) -> axum::Router {
    use axum::http::{HeaderValue, StatusCode, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let log = tower_http::services::ServeDir::new(state.config.publications_dir());
    axum::Router::new()
        .merge(api::router(&state))
        .merge(site::router(state.clone()))
        .merge(console::router(state.clone()))
        .merge(ops::table().router(|_| panic!("the operations routes are public")))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            site::scope,
        ))
        // Bodies are small (a raffle's configuration is one log entry, at
        // most 64 KiB); slow ones are cut at the request timeout.
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(api::MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.limits.request_timeout(),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::edge,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::metrics::layer,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom({
            let (metrics, incidents) = (state.metrics.clone(), state.incidents.clone());
            move |panic: Box<dyn std::any::Any + Send>| {
                ops::monitor::panicked(&metrics, &incidents, panic)
            }
        }))
        .layer(axum::middleware::from_fn(ops::request_id::layer))
        .nest_service(
            "/log",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ))
                .service(log),
        )
        .with_state(state)
}

/// Argon2 hashes computed at once (each takes about 19 MiB and a core for
/// tens of milliseconds): a flood of sign-ins waits for these, while the
/// async workers go on serving everyone else.
pub const ARGON2_AT_ONCE: usize = 2;

/// How often significant events are anchored in the log.
pub const EVENTS_DIGEST_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Anchors the events recorded since the last `events.digest` entry (if any).
pub async fn digest_events(
    state: &AppState,
) -> Result<Option<raffle_core::store::sequencer::Sequenced>, raffle_core::Error> {
    match state.store.pending_events_digest().await? {
        None => Ok(None),
        Some(digest) => state
            .sequencer
            .submit(Change::DigestEvents { digest })
            .await
            .map(Some),
    }
}

/// Forgets the e-mail addresses of buyers of raffles closed longer ago
/// than `RAFFLE_PERSONAL_DATA_DAYS`; returns how many orders it cleared.
pub async fn purge_personal_data(state: &AppState) -> Result<u64, String> {
    let keep = i64::from(state.config.personal_data_days) * 86_400_000_000;
    let now = raffle_core::Timestamp::now().as_micros();
    let raffles: Vec<String> = state
        .sequencer
        .ledger()
        .raffles()
        .filter(|r| r.closed_at.is_some_and(|t| t.as_micros() + keep <= now))
        .map(|r| r.id.to_string())
        .collect();
    state
        .store
        .purge_buyer_emails(&raffles)
        .await
        .map_err(|e| e.to_string())
}
