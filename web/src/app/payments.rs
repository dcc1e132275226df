//! Payment providers, and the one issuing path every payment ends in.
//!
//! A provider takes payment for an order. Some confirm at once (the built-in
//! `test` provider by default; cash at an RSU), and their orders are created
//! paid. Others confirm later (the `test` provider's `later` mode now; a
//! card payment's webhook once Stripe is added), and their orders are
//! created pending. However and whenever payment is confirmed, it ends in
//! [`confirm_payment`], then [`issue_paid_order`]: adding a provider means
//! adding a [`PaymentProvider`] (and, for a webhook, a route that verifies
//! the provider's signature and calls `confirm_payment`), never changing the
//! issuing code.
//!
//! Guarantees: an order is issued at most once (the sale id is the order
//! id, and the ledger refuses a second sale with the same id); an order the
//! rules refuse (sold out, sales closed: an order paid after its raffle
//! closed) is refunded, never issued; a confirmation delivered twice
//! changes nothing; after a restart, [`resume_unfinished_orders`] issues
//! the orders that were paid but not yet issued, and hands the pending ones
//! back to their provider.

use crate::AppState;
use crate::app::receipt::{proof_for_sale, receipt};
use crate::app::stripe::StripeProvider;
use crate::config::Config;
use crate::error::AppError;
use axum::http::StatusCode;
use raffle_core::entry::Channel;
use raffle_core::ids::{PackageId, RaffleId, SaleId};
use raffle_core::store::orders::OrderRecord;
use raffle_core::store::sequencer::Change;
use raffle_core::validation::ValidationNumber;
use raffle_core::{Refusal, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// When a provider confirms payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Before the order is created: it is created paid and issued at once.
    Immediate,
    /// After the order is created, through [`confirm_payment`].
    Later,
}

/// What a buyer is told while a payment confirmed later is under way.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    /// Where the buyer completes payment (a provider's checkout page), if anywhere.
    pub payment_url: Option<String>,
}

pub type ProviderFuture<'a> = Pin<Box<dyn Future<Output = Result<Pending, AppError>> + Send + 'a>>;

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// The name a purchase request gives in `payment.provider`.
    fn id(&self) -> &'static str;

    /// Checks the request's `payment` object (the provider's options) and
    /// says when payment will be confirmed. Runs before the order exists.
    fn check(&self, payment: &Value) -> Result<Confirmation, AppError>;

    /// Starts payment for a new order that is confirmed later. `confirmer`
    /// reaches [`confirm_payment`] for providers that confirm from inside
    /// raffled; a webhook-driven provider ignores it.
    fn start<'a>(
        &'a self,
        order: &'a OrderRecord,
        payment: &'a Value,
        confirmer: Confirmer,
    ) -> ProviderFuture<'a>;

    /// After a restart: picks up a pending order of this provider (asks the
    /// provider where the payment stands, or waits for its webhook).
    fn resume<'a>(&'a self, order: &'a OrderRecord, confirmer: Confirmer) -> ProviderFuture<'a>;

    /// Where the buyer of a pending order pays, asked again (a purchase
    /// retried with the same key while its order waits): the same page as
    /// the first answer gave.
    fn pending<'a>(&'a self, _state: &'a AppState, _order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async { Ok(Pending::default()) })
    }

    /// Whether the provider holds and moves real money (then issuing
    /// captures it, and a refusal releases it).
    fn moves_money(&self) -> bool {
        false
    }

    /// Takes the money held for an issued order (idempotent: a second
    /// call, or one for an order captured already, changes nothing).
    fn capture<'a>(&'a self, _state: &'a AppState, _order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async { Ok(Pending::default()) })
    }

    /// Releases the money held for an order the rules refused, or stops
    /// an unpaid one from being paid (idempotent, as above).
    fn cancel<'a>(&'a self, _state: &'a AppState, _order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async { Ok(Pending::default()) })
    }

    /// Returns the captured money of a voided order to the buyer
    /// (idempotent; a failure is recorded on the order and retried).
    fn refund<'a>(&'a self, _state: &'a AppState, _order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async { Ok(Pending::default()) })
    }
}

/// The providers a purchase may name.
#[derive(Clone)]
pub struct Providers {
    by_id: Arc<BTreeMap<&'static str, Arc<dyn PaymentProvider>>>,
    stripe: Option<Arc<StripeProvider>>,
}

impl Providers {
    pub fn new(providers: Vec<Arc<dyn PaymentProvider>>) -> Providers {
        Providers {
            by_id: Arc::new(providers.into_iter().map(|p| (p.id(), p)).collect()),
            stripe: None,
        }
    }

    /// The providers the configuration names (`RAFFLE_PAYMENT_PROVIDERS`).
    /// `test` moves no money: it is refused unless `allow_test_payments`
    /// (`raffled demo`, or `serve --allow-test-payments`); so is `stripe`
    /// with a test key.
    pub fn from_config(config: &Config) -> Result<Providers, String> {
        let allow_test = config.allow_test_payments;
        let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
        let mut stripe = None;
        for name in config
            .payment_providers
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
        {
            match name {
                "stripe" => {
                    let s = Arc::new(StripeProvider::from_settings(
                        &config.stripe,
                        allow_test,
                        config.public_url(),
                    )?);
                    stripe = Some(s.clone());
                    providers.push(s);
                }
                "test" if !allow_test => {
                    return Err(
                        "the test payment provider moves no money: it runs only in `raffled demo`, \
                         or with `raffled serve --allow-test-payments`"
                            .into(),
                    );
                }
                "test" => providers.push(Arc::new(TestProvider)),
                other => {
                    return Err(format!(
                        "RAFFLE_PAYMENT_PROVIDERS: unknown payment provider {other:?} (this build has: stripe, test)"
                    ));
                }
            }
        }
        Ok(Providers {
            stripe,
            ..Providers::new(providers)
        })
    }

    /// At start: each provider's account is the configured one.
    pub async fn check_accounts(&self) -> Result<(), String> {
        if let Some(s) = &self.stripe {
            s.check_account().await?;
        }
        Ok(())
    }

    /// The card provider, if configured.
    pub fn stripe(&self) -> Option<&Arc<StripeProvider>> {
        self.stripe.as_ref()
    }

    /// The SHA-256 of the payment account card sales go to, for `raffle.opened`.
    pub fn payment_account(&self) -> Option<[u8; 32]> {
        self.stripe
            .as_ref()
            .map(|s| crate::app::stripe::account_digest(&s.account))
    }

    /// Whether payments move no real money (the `test` provider, or Stripe
    /// with a test key): every page and receipt then says so.
    pub fn test_enabled(&self) -> bool {
        self.by_id.contains_key("test") || self.stripe.as_ref().is_some_and(|s| !s.livemode)
    }

    /// Whether buyers can pay by card.
    pub fn cards(&self) -> bool {
        self.stripe.is_some()
    }

    /// The configured providers' names.
    pub fn names(&self) -> Vec<&'static str> {
        self.by_id.keys().copied().collect()
    }

    /// The provider a request names, or a clear error listing the available ones.
    pub fn get(&self, id: &str) -> Result<Arc<dyn PaymentProvider>, AppError> {
        self.by_id.get(id).cloned().ok_or_else(|| {
            if self.by_id.is_empty() {
                AppError::bad_request(format!(
                    "unknown payment provider {id:?}: none is configured, online sales are closed"
                ))
            } else {
                AppError::bad_request(format!(
                    "unknown payment provider {id:?} (available: {})",
                    self.names().join(", ")
                ))
            }
        })
    }
}

/// The `payment` object of a purchase, as the OpenAPI document describes
/// it: the provider's name, and its own options beside it.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub struct PaymentSchema {
    /// A configured provider (`test`).
    provider: String,
    /// The `test` provider confirms `now` (the default) or `later`.
    confirm: Option<String>,
}

/// A handle on the issuing path for providers that confirm from inside raffled.
#[derive(Clone)]
pub struct Confirmer(AppState);

impl Confirmer {
    pub fn new(state: AppState) -> Confirmer {
        Confirmer(state)
    }

    pub fn state(&self) -> &AppState {
        &self.0
    }

    /// Confirms the payment of `order` and issues it (see [`confirm_payment`]).
    pub async fn confirm(&self, order: &str) -> Result<(StatusCode, Value), AppError> {
        confirm_payment(&self.0, order).await
    }
}

/// The built-in `test` provider: no money moves. `{"provider": "test"}`
/// confirms at once; `{"provider": "test", "confirm": "later"}` confirms
/// 300 ms after the order is created, from a background task, the way a
/// card payment's webhook would.
pub struct TestProvider;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestPayment {
    #[allow(dead_code)]
    provider: String,
    confirm: Option<String>,
}

/// How long the `test` provider's `later` mode waits before confirming.
pub const TEST_CONFIRM_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

impl TestProvider {
    fn confirm_after_delay(order: SaleId, confirmer: Confirmer) {
        tokio::spawn(async move {
            tokio::time::sleep(TEST_CONFIRM_DELAY).await;
            if let Err(e) = confirmer.confirm(&order).await {
                tracing::error!(order = %order, error = %e.message, "confirming a test payment failed");
            }
        });
    }
}

impl PaymentProvider for TestProvider {
    fn id(&self) -> &'static str {
        "test"
    }

    fn check(&self, payment: &Value) -> Result<Confirmation, AppError> {
        let p: TestPayment = serde_json::from_value(payment.clone()).map_err(|e| {
            AppError::bad_request(format!("invalid payment for provider test: {e}"))
        })?;
        match p.confirm.as_deref() {
            None | Some("now") => Ok(Confirmation::Immediate),
            Some("later") => Ok(Confirmation::Later),
            Some(other) => Err(AppError::bad_request(format!(
                "payment.confirm is \"now\" or \"later\", not {other:?}"
            ))),
        }
    }

    fn start<'a>(
        &'a self,
        order: &'a OrderRecord,
        _payment: &'a Value,
        confirmer: Confirmer,
    ) -> ProviderFuture<'a> {
        Box::pin(async move {
            TestProvider::confirm_after_delay(order.id.clone(), confirmer);
            Ok(Pending::default())
        })
    }

    fn resume<'a>(&'a self, order: &'a OrderRecord, confirmer: Confirmer) -> ProviderFuture<'a> {
        // The timer was lost with the process: start it again.
        self.start(order, &Value::Null, confirmer)
    }
}

/// A paid order, ready to be issued.
#[derive(Clone)]
pub struct PaidOrder {
    pub order_id: SaleId,
    /// The provider that took the payment (money it holds is captured once issued).
    pub provider: String,
    pub raffle_id: RaffleId,
    pub package_id: PackageId,
    pub quantity: u32,
    pub stamped: Timestamp,
    pub vn: ValidationNumber,
}

/// Records that `order` was paid and issues it; answers what the buyer's
/// purchase request would have (201 with the receipt, or 409 refunded).
/// Confirming an order again replays that answer.
pub async fn confirm_payment(
    state: &AppState,
    order: &str,
) -> Result<(StatusCode, Value), AppError> {
    state.store.mark_order_paid(order).await?;
    let record = state
        .store
        .order_record(order)
        .await?
        .ok_or_else(|| AppError::not_found("no such order"))?;
    finish_order(state, &record).await
}

/// Brings a paid order to its end: issued (with the receipt) or refunded.
async fn finish_order(state: &AppState, o: &OrderRecord) -> Result<(StatusCode, Value), AppError> {
    if let Some((status, response)) = &o.response {
        return Ok((
            StatusCode::from_u16(*status).unwrap_or(StatusCode::CONFLICT),
            response.clone(),
        ));
    }
    match (o.status.as_str(), o.validation_number()) {
        ("issued", Some(vn)) => {
            let (entry, proof) = proof_for_sale(state, &o.id).await?;
            Ok((StatusCode::CREATED, receipt(state, &entry, &vn, &proof)?))
        }
        ("issued", None) => Ok((
            StatusCode::OK,
            json!({ "order_id": o.id, "status": "issued" }),
        )),
        ("paid", Some(vn)) => {
            let paid = PaidOrder {
                order_id: o.id.clone(),
                provider: o.provider.clone(),
                raffle_id: o.raffle.clone(),
                package_id: o.package.clone(),
                quantity: o.quantity,
                stamped: o.stamped,
                vn,
            };
            issue_paid_order(state, &paid).await
        }
        // The draft (with the validation number) is kept 24 hours: a payment
        // confirmed later than that cannot be issued a ticket.
        ("paid", None) => refund(state, &o.id, Refusal::PaymentConfirmedTooLate {}).await,
        (status, _) => Err(AppError::refused(Refusal::OrderNotIssuable {
            order: o.id.to_string(),
            status: status.to_string(),
        })),
    }
}

/// The issuing code, the same whichever payment provider confirmed the
/// order and whenever: sequence the sale and answer with its receipt, or
/// refund the order if the rules refuse it (sold out, closed). An order
/// paid after its raffle closed is refunded, never issued (GLI-31 2.6.2).
pub async fn issue_paid_order(
    state: &AppState,
    o: &PaidOrder,
) -> Result<(StatusCode, Value), AppError> {
    let mut vn = o.vn;
    // A repeated validation number (GLI-31 2.3.2) refuses only this sale:
    // a new number is drawn, recorded in the order's draft, and tried.
    for _ in 0..3 {
        let change = Change::IssueSale {
            order: o.order_id.clone(),
            raffle: o.raffle_id.clone(),
            package: o.package_id.clone(),
            quantity: o.quantity,
            stamped: o.stamped,
            validation: vn.commitment(&o.raffle_id),
            channel: Channel::Online,
            rsu: None,
        };
        return match state.sequencer.submit(change).await {
            Ok(sequenced) => {
                state.metrics.purchase(None);
                capture(state, &o.provider, &o.order_id).await?;
                let receipt = receipt(state, &sequenced.entry, &vn, &sequenced.proof_file())?;
                crate::app::mail::send_receipt_later(state, &o.order_id, &receipt);
                Ok((StatusCode::CREATED, receipt))
            }
            Err(raffle_core::Error::ValidationNumberTaken) => {
                vn = ValidationNumber::generate()?;
                state
                    .store
                    .replace_order_validation(&o.order_id, &vn.to_text())
                    .await?;
                continue;
            }
            Err(raffle_core::Error::Refused(Refusal::SaleExists { sale }))
                if sale == o.order_id =>
            {
                // Sequenced by an earlier attempt whose answer was lost.
                capture(state, &o.provider, &o.order_id).await?;
                let (entry, proof) = proof_for_sale(state, &o.order_id).await?;
                Ok((StatusCode::CREATED, receipt(state, &entry, &vn, &proof)?))
            }
            Err(raffle_core::Error::Refused(_))
                if state
                    .sequencer
                    .ledger()
                    .raffle(&o.raffle_id)
                    .is_some_and(|r| r.sale(&o.order_id).is_some()) =>
            {
                // Issued by a concurrent attempt, then refused for this one
                // (the raffle closed meanwhile): the sale stands.
                capture(state, &o.provider, &o.order_id).await?;
                let (entry, proof) = proof_for_sale(state, &o.order_id).await?;
                Ok((StatusCode::CREATED, receipt(state, &entry, &vn, &proof)?))
            }
            Err(raffle_core::Error::Refused(reason)) => {
                state.metrics.purchase(Some(reason.code()));
                let answer = refund(state, &o.order_id, reason).await?;
                release(state, &o.provider, &o.order_id).await?;
                Ok(answer)
            }
            Err(e) => Err(e.into()),
        };
    }
    Err(raffle_core::Error::Unavailable(
        "three validation numbers in a row were taken: retry with the same Idempotency-Key".into(),
    )
    .into())
}

/// Takes the money an issued order's provider holds (cards: the capture).
async fn capture(state: &AppState, provider: &str, order: &str) -> Result<(), AppError> {
    let Ok(p) = state.payments.get(provider) else {
        return Ok(());
    };
    if !p.moves_money() {
        return Ok(());
    }
    if let Some(record) = state.store.order_record(order).await? {
        p.capture(state, &record).await?;
    }
    Ok(())
}

/// Releases the money a refused order's provider holds (cards: the
/// authorisation is cancelled, so a refused order never moves money).
/// Never for an order that was issued (a concurrent attempt's refusal).
async fn release(state: &AppState, provider: &str, order: &str) -> Result<(), AppError> {
    let Ok(p) = state.payments.get(provider) else {
        return Ok(());
    };
    if !p.moves_money() {
        return Ok(());
    }
    if let Some(record) = state.store.order_record(order).await?
        && record.status != "issued"
    {
        p.cancel(state, &record).await?;
    }
    Ok(())
}

/// After a void with refund was approved: the buyer's money back through
/// the order's provider. The log says only that the void refunded (method
/// and amount, never a provider's id); a refund the provider has not made
/// yet stays outstanding and is retried ([`retry_refunds`]).
pub async fn refund_voided(state: &AppState, sale: &str) -> Result<(), AppError> {
    let Some(order) = state.store.order_record(sale).await? else {
        // An RSU sale (cash): no order, nothing to refund here.
        return Ok(());
    };
    let Ok(p) = state.payments.get(&order.provider) else {
        return Ok(());
    };
    if !p.moves_money() {
        return Ok(());
    }
    state.store.request_refund(&order.id).await?;
    p.refund(state, &order).await?;
    Ok(())
}

/// Retries every refund approved but not made yet (run at start and every
/// few minutes); returns how many are still outstanding afterwards.
pub async fn retry_refunds(state: &AppState) -> Result<usize, AppError> {
    for order in state.store.refunds_outstanding().await? {
        if let Ok(p) = state.payments.get(&order.provider)
            && let Err(e) = p.refund(state, &order).await
        {
            tracing::warn!(order = %order.id, error = %e.message, "a refund failed again; it will be retried");
        }
    }
    Ok(state.store.refunds_outstanding().await?.len())
}

async fn refund(
    state: &AppState,
    order: &str,
    reason: Refusal,
) -> Result<(StatusCode, Value), AppError> {
    let mut body = AppError::refused(reason.clone()).body();
    body["order_id"] = json!(order);
    body["refunded"] = json!(true);
    state
        .store
        .refund_order(
            order,
            &reason.to_string(),
            StatusCode::CONFLICT.as_u16(),
            &body,
        )
        .await?;
    Ok((StatusCode::CONFLICT, body))
}

/// At start: issues (or refunds) every order paid but not issued when the
/// last process stopped, and hands pending orders back to their provider.
/// Returns how many orders it picked up.
pub async fn resume_unfinished_orders(state: &AppState) -> Result<usize, AppError> {
    let orders = state.store.unfinished_orders().await?;
    let count = orders.len();
    // Concurrently, so that the sequencer batches them as it batches
    // buyers; a few at a time, so that thousands of pending card orders do
    // not flood the provider.
    let at_once = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for o in orders {
        let state = state.clone();
        let at_once = at_once.clone();
        tasks.spawn(async move {
            let _permit = at_once.acquire_owned().await;
            match o.status.as_str() {
                // Finished here, in this database: a failure stops the start.
                "paid" => finish_order(&state, &o).await.map(|_| ()),
                // A provider unreachable (or refusing) must not keep raffled
                // down: the order stays pending and its events, or the next
                // start, finish it.
                _ => match state.payments.get(&o.provider) {
                    Ok(provider) => {
                        if let Err(e) = provider.resume(&o, Confirmer::new(state.clone())).await {
                            tracing::warn!(order = %o.id, error = %e.message, "resuming a pending order failed; it stays pending");
                        }
                        Ok(())
                    }
                    Err(_) => {
                        tracing::warn!(
                            order = %o.id,
                            provider = %o.provider,
                            "an order waits for a payment provider that is not configured"
                        );
                        Ok(())
                    }
                },
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    }
    let held = settle_held_funds(state).await?;
    retry_refunds(state).await?;
    Ok(count + held)
}

/// Money still held for orders that ended: issued ones are captured,
/// refused ones released (a capture or a release that failed, or was lost
/// in a crash). Run at start and every minute; returns how many it tried.
pub async fn settle_held_funds(state: &AppState) -> Result<usize, AppError> {
    let held = state.store.orders_holding_funds().await?;
    for o in &held {
        let result = if o.status == "issued" {
            capture(state, &o.provider, &o.id).await
        } else {
            release(state, &o.provider, &o.id).await
        };
        if let Err(e) = result {
            tracing::warn!(order = %o.id, error = %e.message, "settling an order's held money failed; it will be retried");
        }
    }
    Ok(held.len())
}
