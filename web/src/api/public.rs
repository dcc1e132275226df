//! The public JSON API: raffles, purchases, orders, ticket lookup.
//! Validation numbers travel only in request and response bodies, never in
//! a URL, and are never logged.

use super::{Body, Ids};
use crate::AppState;
use crate::app::payments::{
    Confirmation, Confirmer, PaidOrder, Pending, confirm_payment, issue_paid_order,
};
use crate::app::receipt::{proof_for_sale, receipt};
use crate::error::AppError;
use crate::routes::{Access, Entry, entry};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use raffle_core::entry::Prize;
use raffle_core::ids::{PackageId, RaffleId, SaleId};
use raffle_core::ledger::{RaffleState, Status};
use raffle_core::store::orders::{Begun, NewOrder, OrderRequest};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Money, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;

/// The public API's routes.
pub(crate) fn entries() -> Vec<Entry> {
    use Method as M;
    let public = Access::Public;
    vec![
        entry(
            M::GET,
            "/api/v1/raffles",
            public,
            "List raffles with status and live jackpot estimate.",
            list_raffles,
        ),
        entry(
            M::GET,
            "/api/v1/raffles/{id}",
            public,
            "A raffle: rules, packages, draws and results.",
            get_raffle,
        ),
        entry(
            M::POST,
            "/api/v1/raffles/{id}/purchases",
            public,
            "Buy a package: 201 with the receipt (Idempotency-Key honoured).",
            purchase,
        )
        .body::<PurchaseRequest>(),
        entry(
            M::GET,
            "/api/v1/orders/{id}",
            public,
            "An order's status.",
            get_order,
        ),
        entry(
            M::POST,
            "/api/v1/tickets/lookup",
            public,
            "Check a ticket by its validation number (in the body, never in the URL).",
            lookup_ticket,
        )
        .body::<Lookup>(),
        entry(
            M::POST,
            "/api/v1/payments/stripe/webhook",
            public,
            "Stripe's webhook: events signed with the endpoint's secret (Stripe-Signature), stored once each, then processed.",
            crate::app::stripe::webhook::receive,
        ),
    ]
}

fn summary(r: &RaffleState) -> Value {
    json!({
        "id": r.id,
        "name": r.config.name,
        "organisation": r.config.organisation,
        "status": r.status.as_str(),
        "sales_start": r.config.sales_start,
        "sales_end": r.config.sales_end,
        "time_zone": r.config.time_zone,
        // GLI-31 2.5: the displayed prize is an estimate until the draw is frozen.
        "jackpot_estimate": r.jackpot(),
        "numbers_sold": r.sold_numbers().to_string(),
    })
}

async fn list_raffles(State(state): State<AppState>) -> Json<Value> {
    let ledger = state.sequencer.ledger();
    let mut raffles: Vec<&RaffleState> = ledger.raffles().collect();
    raffles.sort_by_key(|r| std::cmp::Reverse(r.config.sales_start));
    Json(json!({ "raffles": raffles.into_iter().map(summary).collect::<Vec<_>>() }))
}

async fn get_raffle(
    State(state): State<AppState>,
    Ids(id): Ids<RaffleId>,
) -> Result<Json<Value>, AppError> {
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(&id)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let mut v = summary(r);
    let c = &r.config;
    v["licence"] = json!(c.licence);
    v["jurisdiction"] = json!(c.jurisdiction);
    v["buyers"] = json!(c.buyers);
    v["packages"] = json!(c.packages);
    v["max_tickets"] = json!(c.max_tickets);
    v["draws"] = json!(c
        .draws
        .iter()
        .map(|d| {
            let s = r.draws.get(&d.id);
            json!({
                "id": d.id,
                "name": d.name,
                "cutoff": d.cutoff,
                "draw_at": d.draw_at,
                "prize": match &d.prize { Prize::Fixed { amount } => json!({"fixed": amount}), Prize::Share { share_bps, cap } => json!({"share_bps": share_bps, "cap": cap}) },
                "frozen": s.and_then(|s| s.frozen.as_ref()).map(|f| json!({"n": f.n.to_string(), "prize": f.prize})),
                // GLI-31 2.6.5: results on every participant display.
                "winner": s.and_then(|s| s.winner.as_ref()).map(|w| w.number.to_string()),
                "claimed": s.is_some_and(|s| s.claimed),
            })
        })
        .collect::<Vec<_>>());
    Ok(Json(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurchaseRequest {
    package_id: PackageId,
    quantity: Option<u32>,
    buyer: Buyer,
    /// `{"provider": ...}` and the provider's own options.
    #[schemars(with = "crate::app::payments::PaymentSchema")]
    payment: Value,
}

/// What the jurisdiction asks of a buyer; kept in the order, never logged.
#[derive(Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Buyer {
    /// The buyer confirms being at least the raffle's minimum age.
    age_confirmed: bool,
    /// Where the buyer is (ISO 3166-2, e.g. `CA-ON`).
    region: String,
    email: Option<String>,
}

const MAX_QUANTITY: u32 = 100;

pub(crate) async fn purchase(
    State(state): State<AppState>,
    Ids(raffle_id): Ids<RaffleId>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let req: PurchaseRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("invalid purchase request: {e}")))?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(format!("purchase:{raffle_id}:{}", idempotency_key(v)?)),
    };
    if let Some(email) = &req.buyer.email
        && !(plausible_email(email) && crate::app::mail::valid_address(email))
    {
        return Err(AppError::bad_request(
            "buyer.email is not an e-mail address (at most 254 characters, one @, a domain)",
        ));
    }
    let quantity = req.quantity.unwrap_or(1);
    if quantity == 0 || quantity > MAX_QUANTITY {
        return Err(AppError::bad_request(format!(
            "quantity must be 1 to {MAX_QUANTITY}"
        )));
    }
    let provider = state.payments.get(
        req.payment["provider"]
            .as_str()
            .ok_or_else(|| AppError::bad_request("payment.provider is missing"))?,
    )?;
    let confirmation = provider.check(&req.payment)?;
    let stamped = Timestamp::now();
    let amount = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(&raffle_id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        if r.status != Status::Open {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                format!("raffle is {}: no sales", r.status.as_str()),
            ));
        }
        if !req.buyer.age_confirmed {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "buyers must confirm they are at least {}",
                    r.config.buyers.minimum_age
                ),
            ));
        }
        if !r.config.buyers.regions.contains(&req.buyer.region) {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "sales are open only to buyers in {}",
                    r.config.buyers.regions.join(", ")
                ),
            ));
        }
        let p = r
            .config
            .packages
            .iter()
            .find(|p| p.id == *req.package_id)
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("no package {:?}", req.package_id),
                )
            })?;
        Money::new(
            p.price
                .minor
                .checked_mul(u64::from(quantity))
                .ok_or_else(|| raffle_core::Error::Overflow("price × quantity".into()))?,
            p.price.currency,
        )
    };
    let order_id = SaleId::new_order();
    let vn = ValidationNumber::generate()?;
    // Every order keeps its response draft (with the validation number), so
    // that an answer lost in a crash can be replayed.
    let request_sha256: [u8; 32] = sha2::Sha256::digest(&body).into();
    // The buyer's capability on the order: random, never in the log, kept
    // hashed (and in the draft while it is kept, for a replayed answer).
    let token = crate::app::auth::random_token::<16>()?;
    let draft =
        json!({ "order_id": order_id, "validation_number": vn.to_text(), "order_token": token });
    let order = NewOrder {
        id: order_id.clone(),
        raffle: raffle_id.clone(),
        package: req.package_id.clone(),
        quantity,
        amount,
        provider: provider.id().to_string(),
        buyer: serde_json::to_value(&req.buyer)
            .map_err(|e| AppError::bad_request(e.to_string()))?,
        stamped,
        token_sha256: sha2::Sha256::digest(token.as_bytes()).into(),
    };
    // A provider that confirms at once creates the order paid.
    let immediate = confirmation == Confirmation::Immediate;
    match state
        .orders
        .begin(OrderRequest {
            order,
            key,
            request_sha256,
            draft,
            paid: immediate,
        })
        .await?
    {
        Begun::Created => {}
        Begun::Replay {
            status,
            response,
            draft,
        } => {
            return Ok((
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                Json(with_token(response, draft["order_token"].as_str())),
            )
                .into_response());
        }
        Begun::InProgress { order, draft } => {
            // The same request, retried: answer as the first attempt will.
            let token = draft["order_token"].as_str();
            let record = state
                .store
                .order_record(&order)
                .await?
                .ok_or_else(|| AppError::not_found("no such order"))?;
            if record.status == "pending" {
                let pending = provider.pending(&state, &record).await?;
                return Ok(pending_response(&order, token, &pending));
            }
            let (status, body) = confirm_payment(&state, &order).await?;
            return Ok((
                status,
                order_location(&order),
                Json(with_token(body, token)),
            )
                .into_response());
        }
    }
    if !immediate {
        let record = state
            .store
            .order_record(&order_id)
            .await?
            .ok_or_else(|| AppError::not_found("no such order"))?;
        let pending = provider
            .start(&record, &req.payment, Confirmer::new(state.clone()))
            .await?;
        return Ok(pending_response(&order_id, Some(&token), &pending));
    }
    let paid = PaidOrder {
        order_id: order_id.clone(),
        provider: provider.id().to_string(),
        raffle_id: raffle_id.clone(),
        package_id: req.package_id.clone(),
        quantity,
        stamped,
        vn,
    };
    let (status, body) = issue_paid_order(&state, &paid).await?;
    Ok((
        status,
        order_location(&order_id),
        Json(with_token(body, Some(&token))),
    )
        .into_response())
}

/// Whether `e` can be an e-mail address the receipt is sent to: one `@`
/// between a local part and a dotted domain, no spaces, controls or the
/// characters that would let it name a second recipient or a header.
fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\\\"()[]".contains(c))
}

/// An `Idempotency-Key` that carries at least 128 bits: 22 to 128
/// base64url characters (a UUID is fine). A short or guessable key would
/// let a stranger replay someone's receipt.
fn idempotency_key(v: &HeaderValue) -> Result<&str, AppError> {
    let k = v
        .to_str()
        .map_err(|_| AppError::bad_request("Idempotency-Key is not text"))?;
    let alphabet = k
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !(22..=128).contains(&k.len()) || !alphabet {
        return Err(AppError::bad_request(
            "Idempotency-Key must carry at least 128 bits: 22 to 128 base64url characters (a UUID is fine)",
        ));
    }
    Ok(k)
}

/// A purchase answer with the buyer's order token beside it.
fn with_token(mut body: Value, token: Option<&str>) -> Value {
    if let (Some(t), Some(map)) = (token, body.as_object_mut()) {
        map.insert("order_token".into(), json!(t));
    }
    body
}

fn order_location(order: &str) -> [(header::HeaderName, String); 1] {
    [(header::LOCATION, format!("/api/v1/orders/{order}"))]
}

/// 202: the order waits for its payment; its URL tells how it ends (to
/// the bearer of its token).
fn pending_response(order: &str, token: Option<&str>, pending: &Pending) -> Response {
    (
        StatusCode::ACCEPTED,
        order_location(order),
        Json(with_token(
            json!({
                "order_id": order,
                "status": "pending",
                "order_url": format!("/api/v1/orders/{order}"),
                "payment_url": pending.payment_url,
            }),
            token,
        )),
    )
        .into_response()
}

/// `GET /api/v1/orders/{id}` with `Authorization: Bearer <order_token>`.
async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    Ok(Json(order_view(&state, &id, token).await?))
}

/// An order's status and, once issued, its receipt, to the bearer of its
/// token only. The order id is the sale id, published in the log, so it
/// opens nothing by itself: without the token the answer is 401, with a
/// wrong one the same 404 as for an unknown order. The validation number
/// is in the receipt while the draft is kept (24 hours).
pub(crate) async fn order_view(
    state: &AppState,
    id: &str,
    token: Option<&str>,
) -> Result<Value, AppError> {
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "an order is shown only with its token: Authorization: Bearer <order_token>",
        )
    })?;
    let unknown = || AppError::not_found("no such order, or not its token");
    if raffle_core::ids::check_uuid("order id", id).is_err() {
        return Err(unknown());
    }
    let order = state
        .store
        .order_record(id)
        .await?
        .filter(|o| o.opens_with(token))
        .ok_or_else(unknown)?;
    let mut body = json!({ "order_id": id, "raffle_id": order.raffle, "status": order.status, "refusal": order.refusal });
    // A refunded order's refusal by code too (its stored answer), so that
    // a page or a client words it in the buyer's language.
    if let Some((_, answer)) = &order.response
        && order.status == "refunded"
    {
        body["refusal_code"] = answer["code"].clone();
        body["refusal_params"] = answer["params"].clone();
    }
    if order.status == "issued"
        && let Some(vn) = order.validation_number()
    {
        let (entry, proof) = proof_for_sale(state, id).await?;
        body["receipt"] = receipt(state, &entry, &vn, &proof)?;
    }
    Ok(body)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Lookup {
    validation_number: String,
}

/// Ticket check (public): by validation number, in the body only.
async fn lookup_ticket(
    State(state): State<AppState>,
    Body(req): Body<Lookup>,
) -> Result<Json<Value>, AppError> {
    let vn = ValidationNumber::parse(&req.validation_number)?;
    let t = crate::app::receipt::ticket_status(&state, &vn)
        .await?
        .ok_or_else(|| AppError::not_found("no ticket has this validation number"))?;
    let wins: Vec<Value> = t
        .wins
        .iter()
        .map(|(draw, number, claimed)| json!({ "draw": draw, "number": number.to_string(), "claimed": claimed }))
        .collect();
    let (status, raffle, sale, proof) = (t.status, t.raffle, t.sale, t.proof);
    let (first, count) = (t.first, t.count);
    Ok(Json(json!({
        "status": status,
        "raffle_id": raffle,
        "sale_id": sale,
        "draw_numbers": { "first": first.to_string(), "count": count.to_string() },
        "wins": wins,
        "log_index": proof.index.to_string(),
        "proof": String::from_utf8_lossy(&proof.to_bytes()),
    })))
}
