//! The calls raffled makes to Stripe's API, through async-stripe (pinned:
//! see the workspace manifest), each with an idempotency key derived from
//! the order (`order:{id}:{step}`), so that a call retried after a timeout,
//! a crash or a restart moves money once. A failure is either Stripe's
//! answer (a 4xx: the call was refused, retrying changes nothing) or a
//! failure to reach Stripe (retried here a few times, then reported: the
//! caller retries later with the same key).

use std::time::Duration;
use stripe::{Client, RequestStrategy, StripeError, StripeRequest as _};
use stripe_shared::{Account, CheckoutSession, PaymentIntent, Refund};

/// Why a call to Stripe failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiFailure {
    /// Stripe answered and refused (4xx): its code and message.
    #[error("Stripe refused the request ({status}, {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Stripe could not be reached or failed (network, 5xx, 429), even after retries.
    #[error("Stripe could not be reached: {0}")]
    Unavailable(String),
}

impl ApiFailure {
    fn from_error(e: StripeError) -> (ApiFailure, bool) {
        match e {
            StripeError::Stripe(err, status) => {
                let retry = status == 409 || status == 429 || status >= 500;
                let code = err
                    .code
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| format!("{:?}", err.type_).to_lowercase());
                let message = err.message.clone().unwrap_or_default();
                let failure = if retry {
                    ApiFailure::Unavailable(format!("{status} {code}: {message}"))
                } else {
                    ApiFailure::Refused {
                        status,
                        code,
                        message,
                    }
                };
                (failure, retry)
            }
            StripeError::JSONDeserialize(m) => (
                ApiFailure::Unavailable(format!("an answer that does not parse: {m}")),
                false,
            ),
            StripeError::ClientError(m) => (ApiFailure::Unavailable(m), true),
            StripeError::Timeout => (ApiFailure::Unavailable("timed out".into()), true),
            StripeError::ConfigError(m) => (ApiFailure::Unavailable(m), false),
        }
    }

    /// Stripe's error code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiFailure::Refused { code, .. } => Some(code),
            ApiFailure::Unavailable(_) => None,
        }
    }
}

/// How many times a call is tried before its failure is reported.
const ATTEMPTS: u32 = 3;

/// A Stripe API client for one account.
#[derive(Clone)]
pub struct Api {
    client: Client,
}

/// What a Checkout Session is made from.
pub struct NewSession<'a> {
    pub order: &'a str,
    pub raffle: &'a str,
    pub description: &'a str,
    pub amount_minor: i64,
    pub quantity: u64,
    pub currency: &'a str,
    pub success_url: String,
    pub cancel_url: String,
    pub expires_at: i64,
    pub email: Option<&'a str>,
    pub locale: &'a str,
}

fn key(order: &str, step: &str) -> RequestStrategy {
    RequestStrategy::Idempotent(
        stripe::IdempotencyKey::new(format!("order:{order}:{step}"))
            .expect("an order id makes a short key"),
    )
}

impl Api {
    /// A client for `secret_key` at `api_base` (Stripe's, or a fake's).
    pub fn new(secret_key: &str, api_base: &str) -> Result<Api, String> {
        let base = format!("{}/", api_base.trim_end_matches('/'));
        let client = stripe::ClientBuilder::new(secret_key)
            .url(base)
            .timeout(Duration::from_secs(20))
            .app_info("raffled", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .build()
            .map_err(|e| format!("the Stripe client: {e}"))?;
        Ok(Api { client })
    }

    async fn retrying<T, F, Fut>(what: &str, call: F) -> Result<T, ApiFailure>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StripeError>>,
    {
        let mut last = ApiFailure::Unavailable("not tried".into());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let (failure, retry) = ApiFailure::from_error(e);
                    tracing::debug!(call = what, attempt, error = %failure, "a Stripe call failed");
                    if !retry {
                        return Err(failure);
                    }
                    last = failure;
                }
            }
        }
        Err(last)
    }

    /// The account the key belongs to (`GET /v1/account`).
    pub async fn account(&self) -> Result<Account, ApiFailure> {
        use stripe_connect::account::RetrieveForMyAccountAccount;
        Self::retrying("account", || async {
            RetrieveForMyAccountAccount::new().send(&self.client).await
        })
        .await
    }

    /// Creates the order's Checkout Session: cards only, in the raffle's
    /// currency (Adaptive Pricing off), manual capture, the order id as
    /// `client_reference_id` and in the metadata of the session and its
    /// PaymentIntent. Key `order:{id}:session`.
    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<CheckoutSession, ApiFailure> {
        use stripe_checkout::checkout_session::*;
        let currency: stripe_types::Currency = s
            .currency
            .to_ascii_lowercase()
            .parse()
            .map_err(|_| ApiFailure::Unavailable(format!("currency {:?}", s.currency)))?;
        let metadata: std::collections::HashMap<String, String> = [
            ("order_id".to_string(), s.order.to_string()),
            ("raffle_id".to_string(), s.raffle.to_string()),
        ]
        .into();
        let locale = if s.locale.starts_with("fr") {
            stripe_shared::CheckoutSessionLocale::FrMinusCa
        } else {
            stripe_shared::CheckoutSessionLocale::En
        };
        Self::retrying("create checkout session", || async {
            let mut product = ProductData::new(s.description);
            product.metadata = None;
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price.unit_amount = Some(s.amount_minor / s.quantity.max(1) as i64);
            price.product_data = Some(product);
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price);
            item.quantity = Some(s.quantity.max(1));
            let mut intent = CreateCheckoutSessionPaymentIntentData::new();
            intent.capture_method =
                Some(CreateCheckoutSessionPaymentIntentDataCaptureMethod::Manual);
            intent.metadata = Some(metadata.clone());
            let mut adaptive = CreateCheckoutSessionAdaptivePricing::new();
            adaptive.enabled = Some(false);
            let mut req = CreateCheckoutSession::new()
                .mode(stripe_shared::CheckoutSessionMode::Payment)
                .allowed_payment_method_types(vec![
                    CreateCheckoutSessionAllowedPaymentMethodTypes::Card,
                ])
                .line_items(vec![item])
                .payment_intent_data(intent)
                .adaptive_pricing(adaptive)
                .client_reference_id(s.order)
                .metadata(metadata.clone())
                .success_url(s.success_url.clone())
                .cancel_url(s.cancel_url.clone())
                .expires_at(s.expires_at)
                .locale(locale.clone());
            if let Some(email) = s.email {
                req = req.customer_email(email);
            }
            req.customize()
                .request_strategy(key(s.order, "session"))
                .send(&self.client)
                .await
        })
        .await
    }

    pub async fn session(&self, id: &str) -> Result<CheckoutSession, ApiFailure> {
        use stripe_checkout::checkout_session::RetrieveCheckoutSession;
        Self::retrying("retrieve checkout session", || async {
            RetrieveCheckoutSession::new(id).send(&self.client).await
        })
        .await
    }

    /// Expires an open session (a pending order that must not be paid any more).
    pub async fn expire_session(
        &self,
        order: &str,
        id: &str,
    ) -> Result<CheckoutSession, ApiFailure> {
        use stripe_checkout::checkout_session::ExpireCheckoutSession;
        Self::retrying("expire checkout session", || async {
            ExpireCheckoutSession::new(id)
                .customize()
                .request_strategy(key(order, "expire"))
                .send(&self.client)
                .await
        })
        .await
    }

    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, ApiFailure> {
        use stripe_core::payment_intent::RetrievePaymentIntent;
        Self::retrying("retrieve payment intent", || async {
            RetrievePaymentIntent::new(id).send(&self.client).await
        })
        .await
    }

    /// Captures the authorised amount. Key `order:{id}:capture`.
    pub async fn capture(&self, order: &str, intent: &str) -> Result<PaymentIntent, ApiFailure> {
        use stripe_core::payment_intent::CapturePaymentIntent;
        Self::retrying("capture payment intent", || async {
            CapturePaymentIntent::new(intent)
                .customize()
                .request_strategy(key(order, "capture"))
                .send(&self.client)
                .await
        })
        .await
    }

    /// Releases the authorisation. Key `order:{id}:cancel`.
    pub async fn cancel(&self, order: &str, intent: &str) -> Result<PaymentIntent, ApiFailure> {
        use stripe_core::payment_intent::CancelPaymentIntent;
        Self::retrying("cancel payment intent", || async {
            CancelPaymentIntent::new(intent)
                .customize()
                .request_strategy(key(order, "cancel"))
                .send(&self.client)
                .await
        })
        .await
    }

    /// Refunds a captured payment in full. Key `order:{id}:refund`.
    pub async fn refund(&self, order: &str, intent: &str) -> Result<Refund, ApiFailure> {
        use stripe_core::refund::CreateRefund;
        let metadata: std::collections::HashMap<String, String> =
            [("order_id".to_string(), order.to_string())].into();
        Self::retrying("create refund", || async {
            CreateRefund::new()
                .payment_intent(intent)
                .metadata(metadata.clone())
                .customize()
                .request_strategy(key(order, "refund"))
                .send(&self.client)
                .await
        })
        .await
    }
}

/// One balance transaction, as reconciliation reads it: only the fields it
/// needs (miniserde ignores the rest), so that a field Stripe adds or
/// changes elsewhere in the object cannot break the fetch.
#[derive(Clone, Debug, miniserde::Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub reporting_category: String,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub currency: String,
    pub created: i64,
    /// Expanded (`expand[]=data.source`): the charge, refund, dispute or
    /// payout that moved the money.
    pub source: Option<Source>,
}

/// The object behind a balance transaction: every kind reconciliation
/// matches (charge, refund, dispute) names its PaymentIntent.
#[derive(Clone, Debug, miniserde::Deserialize)]
pub struct Source {
    pub id: String,
    pub object: String,
    pub payment_intent: Option<String>,
}

/// One payout to the bank account.
#[derive(Clone, Debug, miniserde::Deserialize)]
pub struct Payout {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub created: i64,
    pub arrival_date: i64,
    pub status: String,
    /// Made on Stripe's schedule: only these list their transactions.
    pub automatic: bool,
}

#[derive(miniserde::Deserialize)]
struct TransactionPage {
    data: Vec<BalanceTransaction>,
    has_more: bool,
}

#[derive(miniserde::Deserialize)]
struct PayoutPage {
    data: Vec<Payout>,
    has_more: bool,
}

#[derive(miniserde::Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(miniserde::Deserialize)]
struct IdPage {
    data: Vec<IdOnly>,
    has_more: bool,
}

/// The query of a list call (form-encoded as Stripe's clients send it:
/// `created[gte]=`, `expand[0]=`).
#[derive(serde::Serialize, Default)]
struct ListQuery<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<Since>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payout: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    expand: Vec<&'static str>,
}

#[derive(serde::Serialize)]
struct Since {
    gte: i64,
}

/// A list's page size: Stripe's largest.
const PAGE: u32 = 100;

/// The most pages one list call reads (ten million items): a list that
/// goes on longer, or whose cursor does not move, is refused rather than
/// read for ever.
const MAX_PAGES: usize = 100_000;

/// Whether to read another page after one of `len` items, the cursor
/// having moved from `before` to `after`; an error when the list runs
/// away.
fn more(
    has_more: bool,
    len: usize,
    pages: usize,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<bool, ApiFailure> {
    if !has_more || len == 0 {
        return Ok(false);
    }
    if before == after {
        return Err(ApiFailure::Unavailable(
            "a Stripe list did not move past its cursor".into(),
        ));
    }
    if pages >= MAX_PAGES {
        return Err(ApiFailure::Unavailable(format!(
            "a Stripe list ran past {MAX_PAGES} pages"
        )));
    }
    Ok(true)
}

impl Api {
    /// One page of a list call.
    async fn page<T: miniserde::Deserialize>(
        &self,
        what: &str,
        path: &str,
        query: &ListQuery<'_>,
    ) -> Result<T, ApiFailure> {
        use stripe_client_core::{RequestBuilder, StripeMethod};
        Self::retrying(what, || async {
            RequestBuilder::new(StripeMethod::Get, path)
                .query(query)
                .customize::<T>()
                .send(&self.client)
                .await
        })
        .await
    }

    /// Every balance transaction created at or after `since` (Unix
    /// seconds), newest first, with its source expanded; page by page
    /// (`starting_after`), so that transactions made meanwhile (listed
    /// before the cursor) neither repeat nor push any out.
    pub async fn balance_transactions(
        &self,
        since: i64,
    ) -> Result<Vec<BalanceTransaction>, ApiFailure> {
        let mut all: Vec<BalanceTransaction> = Vec::new();
        for pages in 1.. {
            let before = all.last().map(|t| t.id.clone());
            let query = ListQuery {
                limit: PAGE,
                starting_after: before.as_deref(),
                created: Some(Since { gte: since }),
                expand: vec!["data.source"],
                ..ListQuery::default()
            };
            let page: TransactionPage = self
                .page("list balance transactions", "/balance_transactions", &query)
                .await?;
            let (has_more, len) = (page.has_more, page.data.len());
            all.extend(page.data);
            let after = all.last().map(|t| t.id.as_str());
            if !more(has_more, len, pages, before.as_deref(), after)? {
                break;
            }
        }
        Ok(all)
    }

    /// Every payout created at or after `since` (Unix seconds).
    pub async fn payouts(&self, since: i64) -> Result<Vec<Payout>, ApiFailure> {
        let mut all: Vec<Payout> = Vec::new();
        for pages in 1.. {
            let before = all.last().map(|p| p.id.clone());
            let query = ListQuery {
                limit: PAGE,
                starting_after: before.as_deref(),
                created: Some(Since { gte: since }),
                ..ListQuery::default()
            };
            let page: PayoutPage = self.page("list payouts", "/payouts", &query).await?;
            let (has_more, len) = (page.has_more, page.data.len());
            all.extend(page.data);
            let after = all.last().map(|p| p.id.as_str());
            if !more(has_more, len, pages, before.as_deref(), after)? {
                break;
            }
        }
        Ok(all)
    }

    /// The ids of the balance transactions a payout paid out.
    pub async fn payout_transactions(&self, payout: &str) -> Result<Vec<String>, ApiFailure> {
        let mut all: Vec<String> = Vec::new();
        for pages in 1.. {
            let before = all.last().cloned();
            let query = ListQuery {
                limit: PAGE,
                starting_after: before.as_deref(),
                payout: Some(payout),
                ..ListQuery::default()
            };
            let page: IdPage = self
                .page(
                    "list a payout's transactions",
                    "/balance_transactions",
                    &query,
                )
                .await?;
            let (has_more, len) = (page.has_more, page.data.len());
            all.extend(page.data.into_iter().map(|t| t.id));
            let after = all.last().map(String::as_str);
            if !more(has_more, len, pages, before.as_deref(), after)? {
                break;
            }
        }
        Ok(all)
    }
}
