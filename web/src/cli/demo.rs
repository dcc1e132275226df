//! `raffled demo`: on first start, a demo organisation's open 50/50 raffle
//! with three packages, an early-bird and a main draw.

use crate::AppState;
use raffle_core::entry::*;
use raffle_core::ids::{RaffleId, StaffId};
use raffle_core::store::sequencer::Change;
use raffle_core::{Currency, Money, Role, Timestamp};

/// Creates and opens the demo raffle unless a raffle exists; returns its id.
pub async fn ensure_demo_raffle(state: &AppState) -> Result<RaffleId, String> {
    if let Some(r) = state.sequencer.ledger().raffles().next() {
        return Ok(r.id.clone());
    }
    let staff = StaffId::new_random().map_err(|e| e.to_string())?;
    let now = Timestamp::now().as_micros();
    let day = 86_400_000_000i64;
    let at = |offset: i64| Timestamp::from_micros(now - now % 1_000_000 + offset);
    // The schema's example raffle, as a demo organisation's, on sale now.
    let mut config = example_config();
    config.name = "Demo Hospital 50/50".into();
    config.organisation = "Demo Hospital Foundation".into();
    config.licence = Some("DEMO-0001".into());
    config.approvers = vec![Role::Finance, Role::Administrator];
    config.max_tickets = None;
    config.sales_start = at(-60_000_000);
    config.sales_end = at(30 * day);
    config.draws[0].cutoff = at(7 * day);
    config.draws[0].draw_at = at(7 * day + 3_600_000_000);
    config.draws[0].prize = Prize::Fixed {
        amount: Money::new(50_000, Currency::CAD),
    };
    config.draws[1].cutoff = at(30 * day);
    config.draws[1].draw_at = at(30 * day + 3_600_000_000);
    config.early_bird = EarlyBirdDeduction::FromProceeds;
    let raffle = RaffleId::new_random();
    let submit = |c| state.sequencer.submit(c);
    submit(Change::CreateRaffle {
        raffle: raffle.clone(),
        config,
        by: staff.clone(),
    })
    .await
    .map_err(|e| e.to_string())?;
    submit(Change::OpenRaffle {
        raffle: raffle.clone(),
        by: staff,
        payment_account: state.payments.payment_account(),
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(raffle)
}

/// Creates the first administrator when no user exists; returns the
/// username, password and TOTP secret to print once.
pub async fn ensure_administrator(
    store: &raffle_core::store::Store,
) -> Result<Option<(String, String, String)>, String> {
    if store.user_count().await.map_err(|e| e.to_string())? > 0 {
        return Ok(None);
    }
    let (user, password) = crate::app::auth::new_user("admin", &[raffle_core::Role::Administrator])
        .map_err(|e| e.message)?;
    store.create_user(&user).await.map_err(|e| e.to_string())?;
    Ok(Some((user.username, password, user.totp_secret)))
}

/// The demo's card payments: the fake Stripe (crate `stripe-fake`) on a
/// local port, with a fixed account id (so that the demo raffle, opened
/// for it, takes cards again after a restart), its webhooks sent to this
/// `raffled`. No money moves; every page says so.
pub async fn fake_stripe(config: &mut crate::config::Config) -> stripe_fake::FakeStripe {
    use crate::config::Secret;
    let options = stripe_fake::Options {
        account: "acct_1DemoRaffleFake0".into(),
        ..stripe_fake::Options::test()
    };
    let fake = stripe_fake::FakeStripe::start(options).await;
    fake.set_endpoint(format!(
        "{}/api/v1/payments/stripe/webhook",
        config.public_url()
    ));
    config.stripe = crate::config::StripeSettings {
        secret_key: Some(Secret(fake.options.secret_key.clone())),
        account: Some(fake.options.account.clone()),
        webhook_secrets: vec![Secret(fake.options.webhook_secret.clone())],
        api_base: fake.url.clone(),
    };
    if !config.payment_providers.iter().any(|p| p == "stripe") {
        config.payment_providers.push("stripe".into());
    }
    fake
}
