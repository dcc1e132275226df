//! Card payments through Stripe: the `stripe` payment provider.
//!
//! One Stripe account per deployment (no Connect), checked at start: the
//! key must belong to the configured account (`GET /v1/account`), a live
//! key under `serve`, a test key only with `--allow-test-payments` (every
//! page then says no money moves). The key and the webhook signing secrets
//! come from configuration and go nowhere else: not the log, not a page,
//! not a log line ([`crate::config::Secret`]).
//!
//! The flow, and what makes it exactly once:
//! - A purchase creates a pending order, then a Checkout Session (hosted by
//!   Stripe: no card data reaches raffled) with the order id in
//!   `client_reference_id` and metadata, `capture_method=manual`, cards
//!   only in the raffle's currency, Adaptive Pricing off, expiring after
//!   30 minutes (and a minute for clock skew). The idempotency key is
//!   `order:{id}:session`, so a retried or resumed creation finds the same
//!   session.
//! - Stripe's events arrive at the webhook ([`webhook`]), are stored once
//!   per event id before the 200, and are processed from that table. An
//!   event only prompts raffled to ask Stripe where the order stands
//!   ([`sync_order`]): the state it acts on is Stripe's own, read back,
//!   and checked against the order (session, PaymentIntent, amount,
//!   currency, mode). So a duplicate, a late or a reordered event cannot
//!   move an order twice or backwards.
//! - An authorisation of exactly the order's amount makes the order paid;
//!   it is then issued by the one issuing path
//!   ([`crate::app::payments::confirm_payment`]) and captured
//!   (`order:{id}:capture`). If the rules refuse the sale (sold out,
//!   closed), the authorisation is cancelled (`order:{id}:cancel`): a
//!   refused order never moves money.
//! - After a restart, every pending order is synced with Stripe, every
//!   issued order still authorised is captured and every refused one
//!   still authorised is released ([`crate::app::payments::resume_unfinished_orders`]).

pub mod api;
pub mod reconcile;
pub mod signature;
pub mod webhook;

use crate::AppState;
use crate::app::payments::{Confirmation, Confirmer, PaymentProvider, Pending, ProviderFuture};
use crate::config::StripeSettings;
use crate::error::AppError;
use api::{Api, ApiFailure, NewSession};
use axum::http::StatusCode;
use raffle_core::store::orders::{Funds, OrderRecord};
use serde_json::{Value, json};
use std::sync::Arc;

/// How long a Checkout Session stays open: Stripe's minimum (30 minutes),
/// and a minute so that a clock a little behind Stripe's is not refused.
pub const SESSION_SECS: i64 = 31 * 60;

/// The `stripe` provider.
pub struct StripeProvider {
    api: Api,
    /// The configured account (`acct_...`).
    pub account: String,
    /// Whether the key is a live one (events must say the same).
    pub livemode: bool,
    secrets: Vec<String>,
    public_url: String,
    /// Wakes the webhook event processor.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// The origin of the hosted payment pages (Stripe's Checkout, or the
    /// fake's address), for the site's CSP.
    pub checkout_origin: &'static str,
    /// Held while Stripe's books are fetched ([`reconcile`]): one fetch at a time.
    pub(crate) fetching: Arc<tokio::sync::Mutex<()>>,
}

/// The SHA-256 of a payment account id, as `raffle.opened` carries it.
pub fn account_digest(account: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(account.as_bytes()).into()
}

impl StripeProvider {
    /// The provider the settings describe; refuses a test key unless
    /// `allow_test`, and incomplete settings.
    pub fn from_settings(
        s: &StripeSettings,
        allow_test: bool,
        public_url: String,
    ) -> Result<StripeProvider, String> {
        let key = s
            .secret_key
            .as_ref()
            .map(|k| k.expose().to_string())
            .filter(|k| !k.is_empty())
            .ok_or("RAFFLE_STRIPE_SECRET_KEY is required by the stripe payment provider")?;
        let livemode = if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
            true
        } else if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
            false
        } else {
            return Err("RAFFLE_STRIPE_SECRET_KEY is not a Stripe secret key (sk_live_..., rk_live_...; sk_test_... for tests)".into());
        };
        if !livemode && !allow_test {
            return Err(
                "RAFFLE_STRIPE_SECRET_KEY is a test key: no money moves, so it runs only in `raffled demo` \
                 or with `raffled serve --allow-test-payments`"
                    .into(),
            );
        }
        let account = s
            .account
            .clone()
            .filter(|a| a.starts_with("acct_") && a.len() <= 255)
            .ok_or("RAFFLE_STRIPE_ACCOUNT (acct_...) is required by the stripe payment provider")?;
        let secrets: Vec<String> = s
            .webhook_secrets
            .iter()
            .map(|w| w.expose().to_string())
            .filter(|w| !w.is_empty())
            .collect();
        if secrets.is_empty() || secrets.iter().any(|w| !w.starts_with("whsec_")) {
            return Err("RAFFLE_STRIPE_WEBHOOK_SECRETS: one or more webhook signing secrets (whsec_...) are required".into());
        }
        // Stripe's hosted pages are on checkout.stripe.com; a fake serves
        // its pages from its own address.
        let base = s.api_base.trim_end_matches('/');
        let checkout_origin: &'static str = if base == "https://api.stripe.com" {
            "https://checkout.stripe.com"
        } else {
            Box::leak(base.to_string().into_boxed_str())
        };
        if checkout_origin
            .chars()
            .any(|c| c.is_whitespace() || c == ';' || c == ',' || c == '\'')
        {
            return Err("RAFFLE_STRIPE_API_BASE is not a URL".into());
        }
        Ok(StripeProvider {
            checkout_origin,
            api: Api::new(&key, &s.api_base)?,
            account,
            livemode,
            secrets,
            public_url,
            wake: Arc::new(tokio::sync::Notify::new()),
            fetching: Arc::default(),
        })
    }

    /// At start: the key must be the configured account's.
    pub async fn check_account(&self) -> Result<(), String> {
        let account = self
            .api
            .account()
            .await
            .map_err(|e| format!("checking the Stripe account: {e}"))?;
        if account.id.as_str() != self.account {
            return Err(format!(
                "RAFFLE_STRIPE_SECRET_KEY belongs to Stripe account {}, not RAFFLE_STRIPE_ACCOUNT {}",
                account.id.as_str(),
                self.account
            ));
        }
        Ok(())
    }

    pub(crate) fn secrets(&self) -> &[String] {
        &self.secrets
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StripePayment {
    #[allow(dead_code)]
    provider: String,
}

/// Whether the raffle was opened for this payment account (`raffle.opened`
/// carries the account's SHA-256): a payment into any other is refused.
fn raffle_takes(state: &AppState, raffle: &str, account: &str) -> bool {
    state
        .sequencer
        .ledger()
        .raffle(raffle)
        .is_some_and(|r| r.payment_account == Some(account_digest(account)))
}

impl PaymentProvider for StripeProvider {
    fn id(&self) -> &'static str {
        "stripe"
    }

    fn moves_money(&self) -> bool {
        true
    }

    fn check(&self, payment: &Value) -> Result<Confirmation, AppError> {
        serde_json::from_value::<StripePayment>(payment.clone()).map_err(|e| {
            AppError::bad_request(format!("invalid payment for provider stripe: {e}"))
        })?;
        Ok(Confirmation::Later)
    }

    fn start<'a>(
        &'a self,
        order: &'a OrderRecord,
        _payment: &'a Value,
        confirmer: Confirmer,
    ) -> ProviderFuture<'a> {
        Box::pin(async move {
            let state = confirmer.state();
            if !raffle_takes(state, &order.raffle, &self.account) {
                state
                    .store
                    .cancel_order(
                        &order.id,
                        "the raffle was not opened for this payment account",
                    )
                    .await?;
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "this raffle was not opened for card payments into this deployment's payment account",
                ));
            }
            let session = self.create_session(state, order).await?;
            Ok(Pending {
                payment_url: session,
            })
        })
    }

    fn resume<'a>(&'a self, order: &'a OrderRecord, confirmer: Confirmer) -> ProviderFuture<'a> {
        Box::pin(async move {
            let state = confirmer.state();
            if order.payment_session.is_none() {
                // Lost between creating the session and recording it: the
                // same key finds the same session.
                self.create_session(state, order).await?;
            }
            sync_order(state, self, &order.id).await?;
            Ok(Pending::default())
        })
    }

    fn pending<'a>(&'a self, state: &'a AppState, order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async move {
            let url = match &order.payment_session {
                Some(id) => {
                    let session = self.api.session(id).await.map_err(unavailable)?;
                    session.url.clone()
                }
                // Not recorded yet: the same idempotency key finds the same session.
                None => self.create_session(state, order).await?,
            };
            Ok(Pending { payment_url: url })
        })
    }

    fn capture<'a>(&'a self, state: &'a AppState, order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async move {
            let Some(intent) = &order.payment_intent else {
                return Ok(Pending::default());
            };
            if order.funds != Some(Funds::Authorised) {
                return Ok(Pending::default());
            }
            match self.api.capture(&order.id, intent).await {
                Ok(pi) if pi.amount_received as u64 == order.amount.minor => {
                    state
                        .store
                        .move_funds(&order.id, &[Some(Funds::Authorised)], Funds::Captured, None)
                        .await?;
                }
                Ok(pi) => {
                    significant(
                        state,
                        "mismatch",
                        json!({ "order": order.id, "reason": "the captured amount is not the order's", "captured": pi.amount_received, "amount": order.amount.minor }),
                    )
                    .await?;
                }
                Err(e @ ApiFailure::Refused { .. }) => {
                    // The authorisation is gone (expired, cancelled): the
                    // ticket was issued without its money.
                    // The reversal first: if anything after it fails, the
                    // retry finds the order still authorised and gets here
                    // again (opening a reversal twice changes nothing).
                    let message = e.to_string();
                    open_reversal(state, order, "capture_failed", json!({ "error": message }))
                        .await?;
                    if state
                        .store
                        .move_funds(
                            &order.id,
                            &[Some(Funds::Authorised)],
                            Funds::CaptureFailed,
                            Some(&message),
                        )
                        .await?
                    {
                        significant(
                            state,
                            "capture_failed",
                            json!({ "order": order.id, "error": message }),
                        )
                        .await?;
                    }
                }
                Err(e) => {
                    // Stripe unreachable: the order stays authorised; the
                    // minute's settling (or the next event, or the next
                    // start) captures it, and until then its draws cannot be
                    // reconciled nor its prize paid.
                    tracing::warn!(order = %order.id, error = %e, "capturing a card payment failed; it will be retried");
                }
            }
            Ok(Pending::default())
        })
    }

    fn refund<'a>(&'a self, state: &'a AppState, order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async move {
            self.refund_order(state, order).await?;
            Ok(Pending::default())
        })
    }

    fn cancel<'a>(&'a self, state: &'a AppState, order: &'a OrderRecord) -> ProviderFuture<'a> {
        Box::pin(async move {
            match (&order.payment_intent, order.funds) {
                (Some(intent), Some(Funds::Authorised)) => {
                    match self.api.cancel(&order.id, intent).await {
                        Ok(_) => {}
                        // Already released (cancelled, or expired at Stripe).
                        Err(ApiFailure::Refused { code, .. })
                            if code == "payment_intent_unexpected_state" => {}
                        Err(e) => {
                            tracing::warn!(order = %order.id, error = %e, "releasing a card authorisation failed; it will be retried");
                            return Ok(Pending::default());
                        }
                    }
                    state
                        .store
                        .move_funds(
                            &order.id,
                            &[Some(Funds::Authorised)],
                            Funds::Cancelled,
                            None,
                        )
                        .await?;
                }
                (None, _) => {
                    // Not paid yet: the session must not be paid any more.
                    if let Some(session) = &order.payment_session
                        && let Err(e) = self.api.expire_session(&order.id, session).await
                        && e.code() != Some("checkout_session_not_open")
                    {
                        tracing::warn!(order = %order.id, error = %e, "expiring a checkout session failed");
                    }
                }
                _ => {}
            }
            Ok(Pending::default())
        })
    }
}

impl StripeProvider {
    async fn refund_order(&self, state: &AppState, order: &OrderRecord) -> Result<(), AppError> {
        let Some(intent) = &order.payment_intent else {
            return Ok(());
        };
        if order.funds != Some(Funds::Captured) {
            // Never captured (nothing to give back) or refunded already.
            return Ok(());
        }
        match self.api.refund(&order.id, intent).await {
            Ok(_) => {}
            // Refunded already (by an earlier attempt whose answer was lost).
            Err(ApiFailure::Refused { code, .. }) if code == "charge_already_refunded" => {}
            Err(e) => {
                let message = e.to_string();
                state.store.funds_failed(&order.id, &message).await?;
                // Once per refund, not once per retry.
                if order.funds_error.is_none() {
                    significant(
                        state,
                        "refund_failed",
                        json!({ "order": order.id, "error": message }),
                    )
                    .await?;
                }
                return Ok(());
            }
        }
        state
            .store
            .move_funds(&order.id, &[Some(Funds::Captured)], Funds::Refunded, None)
            .await?;
        Ok(())
    }

    /// Creates (or, with the same key, finds) the order's session and
    /// records it; answers its URL.
    async fn create_session(
        &self,
        state: &AppState,
        order: &OrderRecord,
    ) -> Result<Option<String>, AppError> {
        let description = {
            let ledger = state.sequencer.ledger();
            let raffle = ledger
                .raffle(&order.raffle)
                .ok_or_else(|| AppError::not_found("no such raffle"))?;
            format!("{} ({})", raffle.config.name, order.package)
        };
        // The session ends a fixed time after the order was made, so that
        // every creation of it (a retried purchase, a resume) sends the
        // same parameters under the same idempotency key, as Stripe requires.
        let expires_at = order.stamped.as_secs() + SESSION_SECS;
        if expires_at < raffle_core::Timestamp::now().as_secs() + 30 * 60
            && order.payment_session.is_none()
        {
            // Too late to open it (Stripe wants 30 minutes): the buyer never
            // had its page, so the order ends unpaid.
            state
                .store
                .cancel_order(&order.id, "the payment session could not be opened in time")
                .await?;
            return Ok(None);
        }
        let lang = order
            .draft
            .as_ref()
            .and_then(|d| d["lang"].as_str())
            .filter(|l| *l == "fr-CA")
            .unwrap_or("en")
            .to_string();
        let email = order.buyer_email.clone();
        let session = self
            .api
            .create_session(&NewSession {
                order: &order.id,
                raffle: &order.raffle,
                description: &description,
                amount_minor: i64::try_from(order.amount.minor)
                    .map_err(|_| AppError::bad_request("the amount is too large"))?,
                quantity: u64::from(order.quantity),
                currency: order.amount.currency.as_str(),
                success_url: format!("{}/orders/{}?lang={lang}", self.public_url, order.id),
                cancel_url: format!("{}/raffles/{}?lang={lang}", self.public_url, order.raffle),
                expires_at,
                email: email.as_deref(),
                locale: &lang,
            })
            .await
            .map_err(|e| {
                tracing::error!(order = %order.id, error = %e, "creating a Stripe checkout session");
                AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "card payments are unavailable right now: try again in a minute",
                )
            })?;
        if !state
            .store
            .set_payment_session(&order.id, session.id.as_str())
            .await?
        {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "the order has another payment session",
            ));
        }
        Ok(session.url.clone())
    }
}

/// Opens the reversal of an issued order: its sale waits for finance (two
/// people) to void or keep it, and its draws cannot be reconciled
/// meanwhile. Also a significant event.
pub(crate) async fn open_reversal(
    state: &AppState,
    order: &OrderRecord,
    cause: &str,
    detail: Value,
) -> Result<(), AppError> {
    if order.status != "issued" {
        return Ok(());
    }
    if state
        .store
        .open_reversal(&order.id, &order.raffle, cause, &detail)
        .await?
    {
        significant(
            state,
            "reversal_opened",
            json!({ "order": order.id, "cause": cause, "detail": detail }),
        )
        .await?;
    }
    Ok(())
}

/// Records a payment significant event (GLI-31 5.6.1): component `payment`.
pub(crate) async fn significant(
    state: &AppState,
    kind: &str,
    detail: Value,
) -> Result<(), AppError> {
    tracing::warn!(kind, detail = %detail, "payment event");
    state
        .store
        .record_event("payment", kind, &detail, None)
        .await?;
    Ok(())
}

/// What syncing an order with Stripe did.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    /// Nothing to do yet (the buyer has not paid).
    Waiting,
    /// Authorised for the order's amount, then issued or refused by the rules.
    Confirmed,
    /// The session ended unpaid: the order is cancelled.
    Cancelled,
    /// Nothing changed: the order is past this point already.
    Unchanged,
    /// Stripe's state does not match the order: recorded, nothing changed.
    Mismatch(String),
}

/// Asks Stripe where an order's payment stands and acts on it: the one
/// place an order moves on Stripe's word. Run for every event about the
/// order and at every start, so it must be (and is) idempotent.
pub async fn sync_order(
    state: &AppState,
    stripe: &StripeProvider,
    order_id: &str,
) -> Result<Synced, AppError> {
    let Some(order) = state.store.order_record(order_id).await? else {
        return Ok(Synced::Mismatch("no such order".into()));
    };
    let Some(session_id) = &order.payment_session else {
        return Ok(Synced::Waiting);
    };
    let session = stripe.api.session(session_id).await.map_err(unavailable)?;
    let mismatch = |reason: String| async {
        significant(
            state,
            "mismatch",
            json!({ "order": order.id, "reason": reason }),
        )
        .await
        .map(|_| Synced::Mismatch(reason))
    };
    if session.client_reference_id.as_deref() != Some(order.id.as_str()) {
        return mismatch("the session's client_reference_id is not the order".into()).await;
    }
    if session.livemode != stripe.livemode {
        return mismatch("the session's livemode is not the key's".into()).await;
    }
    if session.amount_total != Some(order.amount.minor as i64)
        || session
            .currency
            .as_ref()
            .map(|c| c.to_string().to_ascii_uppercase())
            != Some(order.amount.currency.as_str().to_string())
    {
        return mismatch("the session's amount or currency is not the order's".into()).await;
    }
    use stripe_shared::CheckoutSessionStatus as S;
    match session.status {
        Some(S::Expired) => {
            return Ok(
                if state
                    .store
                    .cancel_order(&order.id, "the payment session expired unpaid")
                    .await?
                {
                    Synced::Cancelled
                } else {
                    Synced::Unchanged
                },
            );
        }
        Some(S::Complete) => {}
        _ => return Ok(Synced::Waiting),
    }
    let Some(intent_id) = session.payment_intent.as_ref().map(|p| p.id().to_string()) else {
        return mismatch("a completed session without a PaymentIntent".into()).await;
    };
    let intent = stripe
        .api
        .payment_intent(&intent_id)
        .await
        .map_err(unavailable)?;
    if intent.metadata.get("order_id").map(String::as_str) != Some(order.id.as_str())
        || intent.amount as u64 != order.amount.minor
        || intent.currency.to_string().to_ascii_uppercase() != order.amount.currency.as_str()
        || intent.livemode != stripe.livemode
    {
        return mismatch(
            "the PaymentIntent's order, amount, currency or mode is not the order's".into(),
        )
        .await;
    }
    if !state
        .store
        .set_payment_intent(&order.id, &intent_id)
        .await?
    {
        return mismatch("the order has another PaymentIntent".into()).await;
    }
    use stripe_shared::PaymentIntentStatus as P;
    match intent.status {
        P::RequiresCapture => {
            if intent.amount_capturable as u64 != order.amount.minor {
                return mismatch("amount_capturable is not the order's amount".into()).await;
            }
            if order.status == "issued" {
                // Issued, the capture not made yet (it failed, or was lost).
                PaymentProvider::capture(stripe, state, &order).await?;
                return Ok(Synced::Unchanged);
            }
            if order.status == "cancelled" {
                // Authorised after raffled gave the order up: release it.
                significant(
                    state,
                    "impossible_transition",
                    json!({ "order": order.id, "reason": "an authorisation after the order was cancelled" }),
                )
                .await?;
                let order = state
                    .store
                    .order_record(&order.id)
                    .await?
                    .ok_or_else(|| AppError::not_found("no such order"))?;
                state
                    .store
                    .move_funds(&order.id, &[None], Funds::Authorised, None)
                    .await?;
                let order = state.store.order_record(&order.id).await?.unwrap_or(order);
                PaymentProvider::cancel(stripe, state, &order).await?;
                return Ok(Synced::Unchanged);
            }
            state
                .store
                .move_funds(&order.id, &[None], Funds::Authorised, None)
                .await?;
            crate::app::payments::confirm_payment(state, &order.id).await?;
            Ok(Synced::Confirmed)
        }
        P::Succeeded => {
            // Captured: by raffled (an answer lost in a crash), or not.
            if order.status == "issued" {
                state
                    .store
                    .move_funds(&order.id, &[Some(Funds::Authorised)], Funds::Captured, None)
                    .await?;
                Ok(Synced::Unchanged)
            } else {
                mismatch(format!(
                    "the payment was captured but the order is {}",
                    order.status
                ))
                .await
            }
        }
        P::Canceled => {
            if state
                .store
                .cancel_order(&order.id, "the payment was cancelled at Stripe")
                .await?
            {
                Ok(Synced::Cancelled)
            } else {
                Ok(Synced::Unchanged)
            }
        }
        _ => Ok(Synced::Waiting),
    }
}

/// Stripe could not be asked, or refused: logged in full, the caller told
/// only to retry (Stripe's words are not for anonymous clients).
fn unavailable(e: ApiFailure) -> AppError {
    tracing::warn!(error = %e, "a Stripe call failed");
    AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "card payments are unavailable right now: try again in a minute",
    )
}
