//! `raffled` taking card payments from the fake Stripe (crate
//! `stripe-fake`): the application listening on a real local port (the
//! fake delivers its webhooks over HTTP), configured with the fake's
//! account, key and signing secret, and the demo raffle opened for that
//! account.

use crate::app::{App, fresh_database};
use stripe_fake::{FakeStripe, Options};

/// The application, its address, the fake and the demo raffle.
pub struct CardApp {
    pub app: App,
    pub addr: String,
    pub stripe: FakeStripe,
    pub raffle: String,
    pub config: web::config::Config,
}

/// The path of the webhook route.
pub const WEBHOOK: &str = "/api/v1/payments/stripe/webhook";

/// The settings that point `raffled` at `fake`.
pub fn settings(fake: &FakeStripe) -> web::config::StripeSettings {
    use web::config::Secret;
    web::config::StripeSettings {
        secret_key: Some(Secret(fake.options.secret_key.clone())),
        account: Some(fake.options.account.clone()),
        webhook_secrets: vec![Secret(fake.options.webhook_secret.clone())],
        api_base: fake.url.clone(),
    }
}

/// A fresh `raffled` selling by card through a fresh fake.
pub async fn card_app() -> CardApp {
    let stripe = FakeStripe::start(Options::test()).await;
    card_app_with(stripe, |_| {}).await
}

/// A fresh `raffled` selling through `stripe`, with settings changed by `change`.
pub async fn card_app_with(
    stripe: FakeStripe,
    change: impl FnOnce(&mut web::config::Config),
) -> CardApp {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut config = web::config::Config::for_tests(url, dir.path().to_path_buf(), &["stripe"]);
    config.allow_test_payments = true;
    config.stripe = settings(&stripe);
    config.public_url = Some(format!("http://{addr}"));
    change(&mut config);
    let state = web::start(config.clone()).await.unwrap();
    tokio::spawn(web::cli::serve::serve(state.clone(), listener));
    stripe.set_endpoint(format!("http://{addr}{WEBHOOK}"));
    let raffle = web::cli::demo::ensure_demo_raffle(&state).await.unwrap();
    CardApp {
        app: App::with_dir(state, db, dir),
        addr,
        stripe,
        raffle: raffle.to_string(),
        config,
    }
}

/// The session id in a payment URL of the fake (`.../pay/{id}`).
pub fn session_of(payment_url: &str) -> String {
    payment_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}
