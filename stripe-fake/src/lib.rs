//! A fake Stripe: the part of Stripe's API that raffled calls, a hosted
//! checkout page a browser can complete, and webhook deliveries signed as
//! Stripe signs them. For the tests and `raffled demo`, where Stripe itself
//! cannot be reached; it moves no money.
//!
//! What it copies from Stripe, because raffled must survive it:
//! - **Idempotency.** A POST with an `Idempotency-Key` that was seen before
//!   with the same path and body gets the first answer again (with
//!   `Idempotent-Replayed: true`); with another path or body, a 400
//!   `idempotency_error`.
//! - **Objects.** Checkout Sessions (the PaymentIntent is made when the buyer
//!   pays, as Stripe does since 2022-08-01), PaymentIntents with manual
//!   capture (`requires_capture` with `amount_capturable`, then
//!   `succeeded` or `canceled`), Charges, Refunds, Disputes, balance
//!   transactions with a fee (2.9% + 30 minor units, as a standard card
//!   price), and payouts of the net.
//! - **Webhooks.** Each event is POSTed to the endpoint with
//!   `Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.body")`; a delivery
//!   that does not get a 2xx is retried with backoff. On demand
//!   ([`Chaos`]), each event is delivered several times, out of order,
//!   late, with a stale signature or a wrong secret.
//! - **Errors** in Stripe's shape: `{"error": {"type", "code", "message"}}`.
//!
//! Test cards on the hosted page: 4242 4242 4242 4242 is authorised,
//! 4000 0000 0000 0002 is declined.
//!
//! What it does not copy: anything raffled does not call (customers,
//! Connect, Radar, 3-D Secure), list pagination beyond `limit`, and
//! Stripe's clocks (a session expires when [`FakeStripe::expire_due`]
//! runs, or the background sweep started by [`FakeStripe::start`]).

mod objects;
mod page;
mod webhooks;

pub use webhooks::{Chaos, sign};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The API version the fake claims (the one raffled pins).
pub const API_VERSION: &str = "2026-09-30.endive";

/// The card that is authorised, and the one that is declined.
pub const CARD_OK: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";

/// How the fake is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// The account every object belongs to (`acct_...`).
    pub account: String,
    /// The secret key callers must present (`sk_test_...` or `sk_live_...`;
    /// its prefix sets livemode).
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// Where webhooks go (set later with [`FakeStripe::set_endpoint`]).
    pub endpoint: Option<String>,
}

impl Options {
    /// Test-mode options with random secrets.
    pub fn test() -> Options {
        Options {
            account: format!("acct_{}", objects::random_id(16)),
            secret_key: format!("sk_test_{}", objects::random_id(24)),
            webhook_secret: format!("whsec_{}", objects::random_id(32)),
            endpoint: None,
        }
    }
}

/// A running fake.
#[derive(Clone)]
pub struct FakeStripe {
    /// `http://127.0.0.1:PORT`: the API base and the hosted pages.
    pub url: String,
    pub options: Options,
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: Mutex<Ledger>,
    pub(crate) options: Options,
    pub(crate) url: String,
    pub(crate) deliveries: webhooks::Deliveries,
}

/// Everything the fake holds, as Stripe would.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) sessions: BTreeMap<String, Value>,
    pub(crate) intents: BTreeMap<String, Value>,
    pub(crate) charges: BTreeMap<String, Value>,
    pub(crate) refunds: BTreeMap<String, Value>,
    pub(crate) disputes: BTreeMap<String, Value>,
    pub(crate) balance: Vec<Value>,
    pub(crate) payouts: Vec<Value>,
    /// Idempotency-Key → (method, path, body's SHA-256, status, answer).
    idempotency: HashMap<String, (String, [u8; 32], u16, Value)>,
    /// PaymentIntents whose next capture fails (the authorisation expired).
    pub(crate) failing_captures: std::collections::HashSet<String>,
    /// What callers asked, in order (method and path), for tests.
    pub(crate) requests: Vec<(String, String, Option<String>)>,
    /// Requests whose path ends so, answered 500 this many more times.
    outages: Vec<(String, u32)>,
}

/// A Stripe error answer.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    message: String,
}

impl ApiError {
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
        }
    }
    pub(crate) fn missing(what: &str, id: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("resource_missing"),
            message: format!("No such {what}: '{id}'"),
        }
    }
    pub(crate) fn state(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: Some(code),
            message: message.into(),
        }
    }
    fn body(&self) -> Value {
        json!({ "error": { "type": self.kind, "code": self.code, "message": self.message } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Form parameters as Stripe reads them: `a[b][0]=x` keys kept whole.
pub(crate) type Params = BTreeMap<String, String>;

fn params(body: &[u8]) -> Params {
    form_urlencoded::parse(body).into_owned().collect()
}

impl FakeStripe {
    /// Starts the fake on a free local port, with a sweep that expires
    /// sessions past their `expires_at` every second.
    pub async fn start(options: Options) -> FakeStripe {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the fake Stripe");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let inner = Arc::new(Inner {
            state: Mutex::new(Ledger::default()),
            options: options.clone(),
            url: url.clone(),
            deliveries: webhooks::Deliveries::new(options.endpoint.clone()),
        });
        let app = Router::new()
            .route("/v1/account", get(account))
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/payment_intents/{id}", get(get_intent))
            .route("/v1/payment_intents/{id}/capture", post(capture))
            .route("/v1/payment_intents/{id}/cancel", post(cancel))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/balance_transactions", get(list_balance))
            .route("/v1/payouts", get(list_payouts))
            .route("/v1/events/{id}", get(get_event))
            .route("/pay/{id}", get(page::show).post(page::pay))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        webhooks::spawn_sender(inner.clone());
        let sweeper = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let Some(inner) = sweeper.upgrade() else {
                    return;
                };
                objects::expire_due(&inner, objects::now());
            }
        });
        FakeStripe {
            url,
            options,
            inner,
        }
    }

    /// Where webhooks are delivered from now on.
    pub fn set_endpoint(&self, url: impl Into<String>) {
        self.inner.deliveries.set_endpoint(url.into());
    }

    /// How deliveries misbehave from now on.
    pub fn set_chaos(&self, chaos: Chaos) {
        self.inner.deliveries.set_chaos(chaos);
    }

    /// Holds deliveries back (they queue) until [`FakeStripe::resume_deliveries`].
    pub fn pause_deliveries(&self) {
        self.inner.deliveries.pause(true);
    }

    pub fn resume_deliveries(&self) {
        self.inner.deliveries.pause(false);
    }

    /// Waits until every event so far was delivered (acknowledged with a
    /// 2xx) or gave up, at most `timeout`; true if none is left.
    pub async fn settle(&self, timeout: std::time::Duration) -> bool {
        self.inner.deliveries.settle(timeout).await
    }

    /// The buyer completes the hosted page with `card`: what the page's
    /// form does, for tests without a browser. Returns the URL the buyer
    /// is sent back to, or Stripe's message (a decline).
    pub fn pay(&self, session: &str, card: &str) -> Result<String, String> {
        objects::pay(&self.inner, session, card).map_err(|e| e.message)
    }

    /// Expires every open session past its `expires_at` at `now` (unix seconds).
    pub fn expire_due(&self, now: i64) {
        objects::expire_due(&self.inner, now)
    }

    /// A refund made in Stripe's dashboard (not by raffled).
    pub fn dashboard_refund(&self, payment_intent: &str) -> Result<String, String> {
        objects::refund(&self.inner, payment_intent, None, &Params::new()).map_err(|e| e.message)
    }

    /// The buyer's bank opens a dispute on a captured payment.
    pub fn open_dispute(&self, payment_intent: &str) -> Result<String, String> {
        objects::open_dispute(&self.inner, payment_intent).map_err(|e| e.message)
    }

    /// A dispute ends, `won` by the operator or lost.
    pub fn close_dispute(&self, dispute: &str, won: bool) -> Result<(), String> {
        objects::close_dispute(&self.inner, dispute, won).map_err(|e| e.message)
    }

    /// The next capture of this PaymentIntent, or of the one this Checkout
    /// Session makes when paid, fails (its authorisation expired).
    pub fn fail_next_capture(&self, payment_intent: &str) {
        let mut l = self.inner.state.lock().unwrap();
        l.failing_captures.insert(payment_intent.to_string());
    }

    /// The next `times` requests whose path ends with `path` fail with a
    /// 500 before doing anything (Stripe having a bad minute).
    pub fn fail_next(&self, path: &str, times: u32) {
        let mut l = self.inner.state.lock().unwrap();
        l.outages.push((path.to_string(), times));
    }

    /// Ends every outage [`FakeStripe::fail_next`] started.
    pub fn heal(&self) {
        self.inner.state.lock().unwrap().outages.clear();
    }

    /// A charge of the account that no order of raffled made (a payment
    /// link made in the dashboard, say): authorised and captured.
    pub fn unknown_charge(&self, amount: i64, currency: &str) -> String {
        objects::unknown_charge(&self.inner, amount, currency)
    }

    /// Pays out everything available: one payout of the net so far.
    pub fn payout(&self) -> Option<String> {
        objects::payout(&self.inner)
    }

    /// Deliveries signed stale or with a wrong secret ([`Chaos`]) that the
    /// endpoint refused (a 4xx), and that it accepted (a 2xx).
    pub fn tampered(&self) -> (usize, usize) {
        self.inner.deliveries.tampered()
    }

    /// Sends a raw delivery to the endpoint (a forged or replayed event).
    pub async fn deliver_raw(&self, body: &str, signature: &str) -> Result<u16, String> {
        self.inner.deliveries.send_once(body, signature).await
    }

    /// A session, PaymentIntent, charge or dispute by id, as the API shows it.
    pub fn object(&self, id: &str) -> Option<Value> {
        let l = self.inner.state.lock().unwrap();
        l.sessions
            .get(id)
            .or_else(|| l.intents.get(id))
            .or_else(|| l.charges.get(id))
            .or_else(|| l.disputes.get(id))
            .or_else(|| l.refunds.get(id))
            .cloned()
    }

    /// Every PaymentIntent, as the API shows it.
    pub fn payment_intents(&self) -> Vec<Value> {
        self.inner
            .state
            .lock()
            .unwrap()
            .intents
            .values()
            .cloned()
            .collect()
    }

    /// Every session, as the API shows it.
    pub fn sessions(&self) -> Vec<Value> {
        self.inner
            .state
            .lock()
            .unwrap()
            .sessions
            .values()
            .cloned()
            .collect()
    }

    /// Every event made so far, in the order they happened.
    pub fn events(&self) -> Vec<Value> {
        self.inner.deliveries.events()
    }

    /// The requests callers made: method, path and Idempotency-Key.
    pub fn requests(&self) -> Vec<(String, String, Option<String>)> {
        self.inner.state.lock().unwrap().requests.clone()
    }
}

/// Checks the caller's key, records the request, and answers a repeated
/// Idempotency-Key as Stripe does; `run` makes the first answer.
fn api(
    inner: &Inner,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    run: impl FnOnce(&Inner, &Params) -> Result<Value, ApiError>,
) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(inner.options.secret_key.as_str()) {
        return ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "invalid_request_error",
            code: None,
            message: "Invalid API Key provided".into(),
        }
        .into_response();
    }
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let fingerprint: [u8; 32] = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(method.as_bytes());
        h.update(b" ");
        h.update(path.as_bytes());
        h.update(b"\n");
        h.update(body);
        h.finalize().into()
    };
    {
        let mut l = inner.state.lock().unwrap();
        l.requests
            .push((method.into(), path.into(), idempotency.clone()));
        if let Some(o) = l
            .outages
            .iter_mut()
            .find(|(suffix, left)| *left > 0 && path.ends_with(suffix.as_str()))
        {
            o.1 -= 1;
            return ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "api_error",
                code: None,
                message: "An unknown error occurred".into(),
            }
            .into_response();
        }
        if let Some(k) = &idempotency
            && let Some((_, seen, status, answer)) = l.idempotency.get(k)
        {
            if *seen != fingerprint {
                return ApiError {
                    status: StatusCode::BAD_REQUEST,
                    kind: "idempotency_error",
                    code: None,
                    message: format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                         Try using a key other than '{k}' if you meant to execute a different request."
                    ),
                }
                .into_response();
            }
            let mut resp = (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                axum::Json(answer.clone()),
            )
                .into_response();
            resp.headers_mut().insert(
                "idempotent-replayed",
                header::HeaderValue::from_static("true"),
            );
            return resp;
        }
    }
    let p = params(body);
    let (status, answer) = match run(inner, &p) {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (e.status, e.body()),
    };
    // Stripe keeps the answer of a request that ran, errors included
    // (not a 5xx, which may be retried: the fake makes none).
    if method == "POST"
        && let Some(k) = idempotency
    {
        let mut l = inner.state.lock().unwrap();
        l.idempotency.entry(k).or_insert((
            path.to_string(),
            fingerprint,
            status.as_u16(),
            answer.clone(),
        ));
    }
    (status, axum::Json(answer)).into_response()
}

async fn account(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    api(&inner, "GET", "/v1/account", &headers, b"", |i, _| {
        Ok(objects::account(i))
    })
}

async fn create_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(
        &inner,
        "POST",
        "/v1/checkout/sessions",
        &headers,
        &body,
        objects::create_session,
    )
}

async fn get_session(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}");
    api(&inner, "GET", &path, &headers, b"", |i, _| {
        let l = i.state.lock().unwrap();
        l.sessions
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::missing("checkout.session", &id))
    })
}

async fn expire_session(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}/expire");
    api(&inner, "POST", &path, &headers, &body, |i, _| {
        objects::expire_session(i, &id)
    })
}

async fn get_intent(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/payment_intents/{id}");
    api(&inner, "GET", &path, &headers, b"", |i, _| {
        let l = i.state.lock().unwrap();
        l.intents
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::missing("payment_intent", &id))
    })
}

async fn capture(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/capture");
    api(&inner, "POST", &path, &headers, &body, |i, p| {
        objects::capture(i, &id, p)
    })
}

async fn cancel(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/cancel");
    api(&inner, "POST", &path, &headers, &body, |i, _| {
        objects::cancel(i, &id)
    })
}

async fn create_refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(&inner, "POST", "/v1/refunds", &headers, &body, |i, p| {
        let pi = p
            .get("payment_intent")
            .ok_or_else(|| ApiError::invalid("Missing required param: payment_intent."))?;
        let amount = match p.get("amount") {
            None => None,
            Some(a) => Some(
                a.parse::<i64>()
                    .map_err(|_| ApiError::invalid("Invalid integer: amount"))?,
            ),
        };
        let id = objects::refund(i, pi, amount, p)?;
        let l = i.state.lock().unwrap();
        Ok(l.refunds[&id].clone())
    })
}

/// A page of a list, newest first as Stripe lists: `limit` (1 to 100,
/// default 10), `starting_after` (the last id of the previous page) and
/// `has_more`.
fn page(url: &str, newest_first: Vec<Value>, q: &Params) -> Result<Value, ApiError> {
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::invalid("Invalid integer: limit (1 to 100)"))?,
        None => 10,
    };
    let start = match q.get("starting_after") {
        Some(after) => {
            newest_first
                .iter()
                .position(|v| v["id"].as_str() == Some(after.as_str()))
                .ok_or_else(|| ApiError::missing("object", after))?
                + 1
        }
        None => 0,
    };
    let rest = newest_first.len().saturating_sub(start);
    let data: Vec<Value> = newest_first.into_iter().skip(start).take(limit).collect();
    let mut list = objects::list(url, data);
    list["has_more"] = json!(rest > limit);
    Ok(list)
}

/// Whether `v` was created within the query's `created[gte]` and `created[lt]`.
fn created_within(v: &Value, q: &Params) -> bool {
    let created = v["created"].as_i64().unwrap_or(0);
    let bound = |k: &str| q.get(k).and_then(|t| t.parse::<i64>().ok());
    bound("created[gte]").is_none_or(|t| created >= t)
        && bound("created[lt]").is_none_or(|t| created < t)
}

/// `GET /v1/balance_transactions`: newest first, paginated, filtered by
/// `payout` and `created`; `expand[]=data.source` replaces each source id
/// with its object (charge, refund, dispute or payout), as Stripe does.
async fn list_balance(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = params(raw.unwrap_or_default().as_bytes());
    api(
        &inner,
        "GET",
        "/v1/balance_transactions",
        &headers,
        b"",
        |i, _| {
            let l = i.state.lock().unwrap();
            let expand = q
                .get("expand[]")
                .or_else(|| q.get("expand[0]"))
                .map(String::as_str)
                == Some("data.source");
            let data: Vec<Value> = l
                .balance
                .iter()
                .rev()
                .filter(|b| match q.get("payout") {
                    Some(p) => b["payout"].as_str() == Some(p.as_str()),
                    None => true,
                })
                .filter(|b| created_within(b, &q))
                .map(|b| {
                    let mut b = b.clone();
                    // Stripe's balance transactions do not name their payout:
                    // it is found by listing with `payout=`.
                    b.as_object_mut().map(|m| m.remove("payout"));
                    if expand && let Some(source) = b["source"].as_str() {
                        let object = match source.split('_').next() {
                            Some("ch") => l.charges.get(source),
                            Some("re") => l.refunds.get(source),
                            Some("du") => l.disputes.get(source),
                            Some("po") => l.payouts.iter().find(|p| p["id"] == source),
                            _ => None,
                        };
                        if let Some(o) = object {
                            b["source"] = objects::public(o);
                        }
                    }
                    b
                })
                .collect();
            page("/v1/balance_transactions", data, &q)
        },
    )
}

/// `GET /v1/payouts`: newest first, paginated, filtered by `created`.
async fn list_payouts(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = params(raw.unwrap_or_default().as_bytes());
    api(&inner, "GET", "/v1/payouts", &headers, b"", |i, _| {
        let l = i.state.lock().unwrap();
        let data = l
            .payouts
            .iter()
            .rev()
            .filter(|p| created_within(p, &q))
            .cloned()
            .collect();
        page("/v1/payouts", data, &q)
    })
}

async fn get_event(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/events/{id}");
    api(&inner, "GET", &path, &headers, b"", |i, _| {
        i.deliveries
            .event(&id)
            .ok_or_else(|| ApiError::missing("event", &id))
    })
}
