//! `raffled`: the raffle server. It runs the sequencer, serves the JSON API
//! under `/api/v1` and the published log read-only under `/log/`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod edge;
pub mod error;
pub mod i18n;
pub mod keys;
pub mod openapi;
pub mod operations;
pub mod pages;
pub mod payments;
pub mod people;
pub mod receipt;
pub mod rng;
pub mod serve;
pub mod witness;

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
}

/// Opens the database, the key and the publications, recovers the log and
/// starts the sequencer; logs `software.started` (GLI-31 5.8.1).
pub async fn start(config: Config) -> Result<AppState, String> {
    let payments =
        payments::Providers::from_config(&config.payment_providers, config.allow_test_payments)?;
    let origin = config.origin();
    let signer = keys::load_or_create(&config.key_path(), &origin)?;
    let vkey = signer.verifier().vkey();
    let secret = keys::load_or_create_secret(&config.secret_path())?;
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let publications: Arc<dyn publications::PublicationStore> = Arc::new(
        publications::DirStore::open(config.publications_dir(), true).map_err(|e| e.to_string())?,
    );
    let witnesses = witness::from_config(&config)?;
    let sequencer = Sequencer::start(
        store.clone(),
        SequencerConfig {
            origin,
            signer,
            publications,
            witnesses: witness::cosigners(&witnesses),
            clock: Arc::new(raffle_core::clock::SystemClock),
            faults: None,
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
    let orders = raffle_core::store::orders::OrderBatcher::start(store.clone());
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
        println!("raffled: resumed {resumed} unfinished orders");
    }
    let background = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVENTS_DIGEST_INTERVAL).await;
            if let Err(e) = digest_events(&background).await {
                eprintln!("raffled: events.digest: {e}");
            }
            background.edge.forget_idle();
            // Stored responses hold validation numbers: kept 24 hours at most.
            if let Err(e) = background.store.purge_idempotency().await {
                eprintln!("raffled: purging idempotent responses: {e}");
            }
        }
    });
    Ok(state)
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
