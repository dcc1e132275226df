//! Stripe's webhook: `POST /api/v1/payments/stripe/webhook`, and the
//! processing of the events it stores. Its body is limited like every
//! route's ([`crate::api::MAX_BODY`]; Stripe's events are a few kilobytes),
//! and it has no per-address rate limit: Stripe delivers from a few
//! addresses, and the signature is checked before anything is stored.
//!
//! The route verifies the signature ([`super::signature`]), keeps the
//! event's envelope and the fields of its object processing reads
//! ([`KEPT`]: the buyer's details, which Stripe spreads through its
//! objects at every depth, are never stored), stores that once per event
//! id, and answers 200 only once that row is committed; a repeated delivery is
//! counted and answered 200 too. Anything else is a 4xx that Stripe will
//! retry (a bad signature: 400) or a 503 (the database is down: Stripe
//! retries for days).
//!
//! Processing runs from the table ([`run`]), in arrival order, events of
//! different orders concurrently and of one order one after the other.
//! An event acts only if its mode and account are this deployment's and
//! its object matches the order it names (session, PaymentIntent, amount,
//! currency); then it prompts [`super::sync_order`], which reads Stripe's
//! own state back. A mismatch, an event about nothing raffled knows (an
//! unknown charge), a refund or a dispute raffled did not make, and an
//! impossible transition are significant events (GLI-31 5.6.1) and
//! change no order.

use super::{StripeProvider, Synced, open_reversal, significant, sync_order};
use crate::AppState;
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use raffle_core::store::orders::{Funds, OrderRecord};
use raffle_core::store::payments::PaymentEvent;
use serde_json::{Value, json};
use std::sync::Arc;

/// The fields of an event's object that are kept: what processing reads,
/// and nothing of the buyer's (names, addresses, e-mails, card details,
/// dispute evidence all hide in the rest, at any depth). The rest of the
/// event is Stripe's envelope.
const KEPT: &[&str] = &[
    "id",
    "object",
    "amount",
    "amount_capturable",
    "amount_received",
    "amount_total",
    "amount_refunded",
    "currency",
    "status",
    "payment_status",
    "payment_intent",
    "charge",
    "latest_charge",
    "client_reference_id",
    "livemode",
    "reason",
    "cancellation_reason",
    "captured",
    "refunded",
    "disputed",
];

/// The kept part of an event's object (`metadata` only its `order_id`
/// and `raffle_id`).
fn kept(object: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(m) = object.as_object() {
        for f in KEPT {
            if let Some(v) = m.get(*f)
                && !v.is_object()
                && !v.is_array()
            {
                out.insert((*f).to_string(), v.clone());
            }
        }
        let meta: serde_json::Map<String, Value> = ["order_id", "raffle_id"]
            .iter()
            .filter_map(|k| {
                m.get("metadata")?
                    .get(*k)?
                    .as_str()
                    .map(|v| ((*k).to_string(), json!(v)))
            })
            .collect();
        out.insert("metadata".into(), Value::Object(meta));
    }
    Value::Object(out)
}

/// `POST /api/v1/payments/stripe/webhook`.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(stripe) = state.payments.stripe().cloned() else {
        return AppError::not_found("card payments are not configured").into_response();
    };
    match store(&state, &stripe, &headers, &body).await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "received": true }))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn store(
    state: &AppState,
    stripe: &StripeProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AppError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = raffle_core::Timestamp::now().as_secs();
    if let Err(e) = super::signature::verify(signature, body, stripe.secrets(), now) {
        state.metrics.webhook("refused");
        return Err(AppError::bad_request(format!("webhook refused: {e}")));
    }
    let event: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("the event is not JSON: {e}")))?;
    let id = event["id"].as_str().unwrap_or_default().to_string();
    let kind = event["type"].as_str().unwrap_or_default().to_string();
    if !id.starts_with("evt_") || id.len() > 255 || kind.is_empty() || kind.len() > 255 {
        return Err(AppError::bad_request(
            "the event has no id (evt_...) or no type",
        ));
    }
    if !event["data"]["object"].is_object() {
        return Err(AppError::bad_request("the event has no data.object"));
    }
    let event = json!({
        "id": id,
        "type": kind,
        "livemode": event["livemode"],
        "account": event["account"],
        "created": event["created"],
        "api_version": event["api_version"],
        "data": { "object": kept(&event["data"]["object"]) },
    });
    let new = state
        .store
        .store_payment_event(&id, "stripe", &kind, &event)
        .await
        .map_err(|e| AppError::from(e).with_status(StatusCode::SERVICE_UNAVAILABLE))?;
    state
        .metrics
        .webhook(if new { "stored" } else { "duplicate" });
    if new {
        stripe.wake.notify_one();
    }
    Ok(())
}

/// How many events are fetched from the table at a time.
const BATCH: i64 = 256;

/// Processes stored events until the process ends: woken by the route,
/// and every second in any case (events stored by a process that died
/// before processing them).
pub async fn run(state: AppState, stripe: Arc<StripeProvider>) {
    loop {
        match state.store.unprocessed_payment_events(BATCH).await {
            Ok(events) if !events.is_empty() => {
                let full = events.len() as i64 == BATCH;
                let done = process_batch(&state, &stripe, events).await;
                // More waiting, and this batch made progress: go on at once.
                // (Events that keep failing wait for the next round.)
                if full && done > 0 {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reading stored payment events"),
        }
        tokio::select! {
            _ = stripe.wake.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// The order an event is about, as the event says: its metadata's order
/// id, else its PaymentIntent's, else its own id.
fn subject(event: &Value) -> String {
    let o = &event["data"]["object"];
    o["metadata"]["order_id"]
        .as_str()
        .or_else(|| o["client_reference_id"].as_str())
        .or_else(|| o["payment_intent"].as_str())
        .or_else(|| o["id"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Processes a batch; returns how many events it finished.
async fn process_batch(
    state: &AppState,
    stripe: &Arc<StripeProvider>,
    events: Vec<PaymentEvent>,
) -> usize {
    // Events of one order in arrival order; orders concurrently.
    let mut by_subject: std::collections::BTreeMap<String, Vec<PaymentEvent>> = Default::default();
    for e in events {
        by_subject.entry(subject(&e.payload)).or_default().push(e);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (_, events) in by_subject {
        let state = state.clone();
        let stripe = stripe.clone();
        tasks.spawn(async move {
            let mut done = 0;
            for e in events {
                match process(&state, &stripe, &e).await {
                    Ok(outcome) => {
                        if let Err(err) = state.store.finish_payment_event(&e.id, &outcome).await {
                            tracing::error!(event = %e.id, error = %err, "recording an event's outcome");
                        }
                        done += 1;
                    }
                    // Stripe or the database unreachable: this order's
                    // later events wait too, for the next round.
                    Err(err) => {
                        tracing::warn!(event = %e.id, error = %err.message, "processing a payment event failed; it will be retried");
                        break;
                    }
                }
            }
            done
        });
    }
    let mut done = 0;
    while let Some(n) = tasks.join_next().await {
        done += n.unwrap_or(0);
    }
    done
}

/// Handles one stored event; answers its outcome (kept with the event).
/// An error leaves the event unprocessed, to be tried again.
pub async fn process(
    state: &AppState,
    stripe: &StripeProvider,
    e: &PaymentEvent,
) -> Result<String, AppError> {
    let event = &e.payload;
    let object = &event["data"]["object"];
    let refuse = |reason: &str| {
        let reason = reason.to_string();
        async move {
            significant(
                state,
                "mismatch",
                json!({ "event": e.id, "type": e.kind, "reason": reason }),
            )
            .await?;
            Ok::<String, AppError>(format!("refused: {reason}"))
        }
    };
    if event["livemode"].as_bool() != Some(stripe.livemode) {
        return refuse("the event's livemode is not the key's").await;
    }
    if let Some(account) = event["account"].as_str()
        && account != stripe.account
    {
        return refuse("the event names another account").await;
    }
    let order = find_order(state, object).await?;
    match e.kind.as_str() {
        "checkout.session.completed"
        | "checkout.session.expired"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed" => {
            let Some(order) = order else {
                return refuse("a session of no order").await;
            };
            if let Some(reason) = session_mismatch(object, &order) {
                return refuse(reason).await;
            }
            synced(state, stripe, &order).await
        }
        "payment_intent.amount_capturable_updated"
        | "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled" => {
            let Some(order) = order else {
                if e.kind == "payment_intent.succeeded" {
                    significant(
                        state,
                        "unknown_charge",
                        json!({ "event": e.id, "payment_intent": object["id"], "amount": object["amount_received"], "currency": object["currency"] }),
                    )
                    .await?;
                    return Ok("unknown charge".into());
                }
                return Ok("ignored: no such order".into());
            };
            if let Some(reason) = intent_mismatch(object, &order, &e.kind) {
                return refuse(reason).await;
            }
            match e.kind.as_str() {
                // The buyer may try another card on the same page.
                "payment_intent.payment_failed" => Ok("noted: payment failed".into()),
                "payment_intent.canceled"
                    if order.status == "issued" && order.funds == Some(Funds::Authorised) =>
                {
                    // The authorisation lapsed before raffled captured it.
                    // The reversal first (see charge.refunded).
                    open_reversal(state, &order, "capture_failed", json!({ "event": e.id }))
                        .await?;
                    if state
                        .store
                        .move_funds(
                            &order.id,
                            &[Some(Funds::Authorised)],
                            Funds::CaptureFailed,
                            Some("the authorisation was cancelled at Stripe"),
                        )
                        .await?
                    {
                        significant(
                            state,
                            "capture_failed",
                            json!({ "event": e.id, "order": order.id, "error": "the authorisation was cancelled before capture" }),
                        )
                        .await?;
                    }
                    Ok("reversal: capture failed".into())
                }
                "payment_intent.succeeded"
                    if matches!(order.status.as_str(), "pending" | "cancelled" | "refunded") =>
                {
                    // Money taken for an order raffled did not issue: a
                    // capture before (or without) an issue is impossible here.
                    significant(
                        state,
                        "impossible_transition",
                        json!({ "event": e.id, "order": order.id, "status": order.status, "reason": "a capture of an order that was not issued" }),
                    )
                    .await?;
                    Ok("refused: impossible transition".into())
                }
                _ => synced(state, stripe, &order).await,
            }
        }
        "charge.refunded" => {
            let Some(order) = order else {
                return Ok("ignored: no such order".into());
            };
            if order.payment_intent.is_none()
                || object["payment_intent"].as_str() != order.payment_intent.as_deref()
            {
                return refuse("the charge's PaymentIntent is not the order's").await;
            }
            // A refund raffled asked for (a void with refund) is not a reversal.
            if order.refund_requested {
                return Ok("ok: our refund".into());
            }
            // Refunded outside raffled (Stripe's dashboard): the ticket
            // must not silently stay in the draw. The reversal first, so
            // that a failure after it leaves nothing to lose on the retry.
            open_reversal(
                state,
                &order,
                "refunded_outside",
                json!({ "event": e.id, "amount_refunded": object["amount_refunded"] }),
            )
            .await?;
            // A partial refund leaves the rest captured (a later void with
            // refund returns it); a full one leaves nothing.
            if object["amount_refunded"].as_u64().unwrap_or(0) < order.amount.minor {
                significant(
                    state,
                    "refunded_outside",
                    json!({ "event": e.id, "order": order.id, "amount_refunded": object["amount_refunded"], "partial": true }),
                )
                .await?;
                return Ok("reversal: partly refunded outside raffled".into());
            }
            if state
                .store
                .move_funds(
                    &order.id,
                    &[Some(Funds::Captured), Some(Funds::Authorised), None],
                    Funds::Refunded,
                    Some("refunded outside raffled"),
                )
                .await?
            {
                significant(
                    state,
                    "refunded_outside",
                    json!({ "event": e.id, "order": order.id, "amount_refunded": object["amount_refunded"] }),
                )
                .await?;
            }
            Ok("reversal: refunded outside raffled".into())
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let Some(order) = order else {
                return Ok("ignored: no such order".into());
            };
            if order.payment_intent.is_none()
                || object["payment_intent"].as_str() != order.payment_intent.as_deref()
            {
                return refuse("the dispute's PaymentIntent is not the order's").await;
            }
            let status = object["status"].as_str().unwrap_or("").to_string();
            if e.kind == "charge.dispute.created" {
                state.store.set_dispute(&order.id, "open").await?;
                open_reversal(
                    state,
                    &order,
                    "dispute",
                    json!({ "event": e.id, "reason": object["reason"], "amount": object["amount"] }),
                )
                .await?;
            } else {
                // Stripe's closed states: won, lost, and warning_closed
                // (an inquiry that never became a dispute: nothing lost).
                let ended = if status == "lost" { "lost" } else { "won" };
                state.store.set_dispute(&order.id, ended).await?;
            }
            significant(
                state,
                if e.kind == "charge.dispute.created" {
                    "dispute_opened"
                } else {
                    "dispute_closed"
                },
                json!({ "event": e.id, "order": order.id, "status": status, "amount": object["amount"] }),
            )
            .await?;
            Ok(format!("dispute: {status}"))
        }
        _ => Ok("ignored: not an event raffled acts on".into()),
    }
}

async fn synced(
    state: &AppState,
    stripe: &StripeProvider,
    order: &OrderRecord,
) -> Result<String, AppError> {
    Ok(match sync_order(state, stripe, &order.id).await? {
        Synced::Waiting => "ok: waiting".into(),
        Synced::Confirmed => "ok: confirmed".into(),
        Synced::Cancelled => "ok: cancelled".into(),
        Synced::Unchanged => "ok: unchanged".into(),
        Synced::Mismatch(m) => format!("refused: {m}"),
    })
}

/// The order an event's object belongs to: by its provider reference
/// first (what raffled recorded), else by the order id it carries.
async fn find_order(state: &AppState, object: &Value) -> Result<Option<OrderRecord>, AppError> {
    let reference = match object["object"].as_str() {
        Some("checkout.session") | Some("payment_intent") => object["id"].as_str(),
        Some("charge") | Some("dispute") => object["payment_intent"].as_str(),
        _ => None,
    };
    if let Some(r) = reference
        && let Some(o) = state.store.order_by_payment(r).await?
    {
        return Ok(Some(o));
    }
    let order_id = object["metadata"]["order_id"]
        .as_str()
        .or_else(|| object["client_reference_id"].as_str());
    match order_id {
        Some(id) if raffle_core::ids::SaleId::parse(id).is_ok() => {
            Ok(state.store.order_record(id).await?)
        }
        _ => Ok(None),
    }
}

fn currency_matches(object: &Value, order: &OrderRecord) -> bool {
    object["currency"]
        .as_str()
        .is_some_and(|c| c.eq_ignore_ascii_case(order.amount.currency.as_str()))
}

fn session_mismatch(object: &Value, order: &OrderRecord) -> Option<&'static str> {
    if order.provider != "stripe" {
        return Some("the order is not a card order");
    }
    if let Some(stored) = &order.payment_session
        && object["id"].as_str() != Some(stored.as_str())
    {
        return Some("the session is not the order's");
    }
    if object["amount_total"].as_u64() != Some(order.amount.minor)
        || !currency_matches(object, order)
    {
        return Some("the session's amount or currency is not the order's");
    }
    None
}

fn intent_mismatch(object: &Value, order: &OrderRecord, kind: &str) -> Option<&'static str> {
    if order.provider != "stripe" {
        return Some("the order is not a card order");
    }
    if let Some(stored) = &order.payment_intent
        && object["id"].as_str() != Some(stored.as_str())
    {
        return Some("the PaymentIntent is not the order's");
    }
    if object["amount"].as_u64() != Some(order.amount.minor) || !currency_matches(object, order) {
        return Some("the PaymentIntent's amount or currency is not the order's");
    }
    if kind == "payment_intent.amount_capturable_updated"
        && object["amount_capturable"].as_u64() != Some(order.amount.minor)
    {
        return Some("amount_capturable is not the order's amount");
    }
    None
}
