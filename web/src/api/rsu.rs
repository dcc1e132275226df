//! The sales units' API: the sync route the units call (public: each
//! request is signed by the unit's key, [`crate::app::rsu::sync`]), and the
//! staff routes of the master list, enrolment, disabling, allocations and
//! declarations of units that cannot be reconciled. Roles as GLI-31 5.4
//! and the architecture page give them: administrators manage units,
//! raffle managers allocate numbers, finance declares a unit
//! unreconcilable (a second person approves enrolment, re-enabling and
//! declarations).

use super::admin::{pending, sequenced};
use super::{Body, Ids};
use crate::AppState;
use crate::app::auth::Staff;
use crate::app::rsu;
use crate::error::AppError;
use crate::routes::roles::*;
use crate::routes::{Access, Entry, entry};
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use raffle_core::entry::UnreconcilableReason;
use raffle_core::ids::{DrawId, RaffleId, RsuId};
use serde::Deserialize;
use serde_json::Value;

pub(crate) fn entries() -> Vec<Entry> {
    use Method as M;
    let staff = Access::Staff;
    vec![
        entry(M::POST, "/api/v1/rsu/{rsu}/sync", Access::Public,
            "A sales unit's sync: its head, records and seals, signed by the unit (headers Rsu-Nonce, Rsu-Signature); the answer is signed with the log's key (Rsu-Answer-Signature).",
            sync),
        entry(M::GET, "/api/v1/rsu/devices", staff(UNIT_READERS),
            "The sales units' master list (GLI-31 5.4.1).", master_list),
        entry(M::POST, "/api/v1/rsu/devices", staff(ADMINISTRATOR),
            "Registers a sales unit, unenrolled and disabled (GLI-31 6.1.3).", register)
            .body::<rsu::NewDevice>(),
        entry(M::POST, "/api/v1/rsu/devices/{rsu}/enrol", staff(ADMINISTRATOR),
            "Requests a unit's enrolment (a second administrator approves).", request_enrolment),
        entry(M::POST, "/api/v1/rsu/devices/{rsu}/enable", staff(ADMINISTRATOR),
            "Requests a disabled unit's enabling (a second administrator approves).", request_enable),
        entry(M::POST, "/api/v1/rsu/devices/{rsu}/disable", staff(ADMINISTRATOR),
            "Disables a unit at once (GLI-31 5.4.2).", disable),
        entry(M::GET, "/api/v1/raffles/{id}/rsu", staff(UNIT_READERS),
            "A raffle's units: numbers, sales, money, state per draw, refused records.", raffle_units),
        entry(M::POST, "/api/v1/raffles/{id}/rsu/allocations", staff(MANAGER),
            "Allocates the raffle's next numbers to a unit.", allocate)
            .body::<Allocation>(),
        entry(M::POST, "/api/v1/raffles/{id}/rsu/{rsu}/cash", staff(FINANCE),
            "Records a count of a unit's cash: the float handed to its sellers or a drop they handed in (a negative amount corrects).",
            record_cash)
            .body::<CashCount>(),
        entry(M::POST, "/api/v1/raffles/{id}/draws/{draw_id}/rsu/{rsu}/unreconcilable", staff(FINANCE),
            "Requests a unit's declaration as unreconcilable for a draw (a second person approves).",
            request_unreconcilable)
            .body::<Unreconcilable>(),
    ]
}

/// The most a signature header may hold (base64 of 64 bytes is 88).
const MAX_SIGNATURE_HEADER: usize = 100;

async fn sync(
    State(state): State<AppState>,
    Ids(device): Ids<RsuId>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let header_text = |name: &str| -> Result<&str, AppError> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| AppError::bad_request(format!("the {name} header is required")))
    };
    let nonce = header_text("rsu-nonce")?;
    let signature = header_text("rsu-signature")?;
    if signature.len() > MAX_SIGNATURE_HEADER {
        return Err(AppError::bad_request("Rsu-Signature is too long"));
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| AppError::bad_request("Rsu-Signature is not base64"))?;
    let answer = rsu::sync(&state, &device, nonce, &signature, &body).await?;
    let signature = base64::engine::general_purpose::STANDARD.encode(answer.signature);
    let mut response = (StatusCode::OK, answer.body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "rsu-answer-signature",
        HeaderValue::from_str(&signature).map_err(|e| AppError::bad_request(e.to_string()))?,
    );
    Ok(response)
}

async fn master_list(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    Ok(Json(rsu::master_list(&state).await?))
}

async fn register(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Body(d): Body<rsu::NewDevice>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(rsu::register(&state, &staff, &d).await?),
    ))
}

async fn request_enrolment(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(device): Ids<RsuId>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(
        rsu::request_enrolment(&state, &staff, &device).await?,
    ))
}

async fn request_enable(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(device): Ids<RsuId>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(rsu::request_enable(&state, &staff, &device).await?))
}

async fn disable(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(device): Ids<RsuId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &rsu::disable(&state, &staff, &device).await?,
    )))
}

async fn raffle_units(
    State(state): State<AppState>,
    Ids(id): Ids<RaffleId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(rsu::raffle_units(&state, &id).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Allocation {
    #[schemars(with = "String")]
    rsu: RsuId,
    /// How many of the raffle's next numbers.
    count: u64,
}

async fn allocate(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<RaffleId>,
    Body(a): Body<Allocation>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &rsu::allocate(&state, &staff, &id, &a.rsu, a.count).await?,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CashCount {
    kind: rsu::CashKind,
    /// In minor units; negative to correct an earlier count.
    amount_minor: i64,
    /// Up to 100 characters.
    note: Option<String>,
}

async fn record_cash(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids((id, device)): Ids<(RaffleId, RsuId)>,
    Body(c): Body<CashCount>,
) -> Result<StatusCode, AppError> {
    rsu::record_cash(
        &state,
        &staff,
        &id,
        &device,
        c.kind,
        c.amount_minor,
        c.note.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Unreconcilable {
    reason: UnreconcilableReason,
}

async fn request_unreconcilable(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids((id, draw, device)): Ids<(RaffleId, DrawId, RsuId)>,
    Body(u): Body<Unreconcilable>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(
        rsu::request_unreconcilable(&state, &staff, &id, &draw, &device, u.reason).await?,
    ))
}
