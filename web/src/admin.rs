//! The admin API: sessions, users, raffle configuration and lifecycle,
//! reconciliation, draws, voids, claims, approvals and significant events.
//! Every route checks the session and the role ([`ROUTES`] lists them; a
//! test walks it for every role). Changes that need a second person (voids,
//! refunds, the reconciliation acknowledgement; GLI-31 5.2.4) answer 202
//! with an approval id; a different user with the finance or administrator
//! role completes or refuses them.

use crate::AppState;
use crate::auth::{Staff, new_user, sign_in};
use crate::error::AppError;
use axum::Extension;
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use raffle_core::entry::{Body, RaffleConfig, RedrawReason, VoidReason};
use raffle_core::store::sequencer::{Change, Sequenced};
use raffle_core::validation::ValidationNumber;
use serde::Deserialize;
use serde_json::{Value, json};

/// Every admin route: method, path, and the roles allowed (empty: any signed-in user).
pub const ROUTES: &[(&str, &str, &[&str])] = &[
    ("DELETE", "/api/v1/sessions/current", &[]),
    ("POST", "/api/v1/users", &["administrator"]),
    ("POST", "/api/v1/raffles", &["raffle_manager"]),
    ("PATCH", "/api/v1/raffles/{id}", &["raffle_manager"]),
    ("POST", "/api/v1/raffles/{id}/open", &["raffle_manager"]),
    ("POST", "/api/v1/raffles/{id}/close", &["raffle_manager"]),
    (
        "GET",
        "/api/v1/raffles/{id}/reconciliation",
        &["finance", "administrator", "auditor"],
    ),
    ("POST", "/api/v1/raffles/{id}/reconciliation", &["finance"]),
    (
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/freeze",
        &["raffle_manager"],
    ),
    (
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/contribution",
        &["raffle_manager"],
    ),
    (
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/perform",
        &["raffle_manager"],
    ),
    (
        "POST",
        "/api/v1/raffles/{id}/draws/{draw_id}/redraw",
        &["raffle_manager"],
    ),
    ("POST", "/api/v1/sales/{id}/void", &["finance"]),
    (
        "POST",
        "/api/v1/approvals/{id}",
        &["finance", "administrator"],
    ),
    ("POST", "/api/v1/claims", &["raffle_manager"]),
    ("GET", "/api/v1/events", &["administrator", "auditor"]),
];

/// The one place where admin routes check the session and the role, before
/// anything else (the body is not even read for a refused request).
async fn authorize(
    State(state): State<AppState>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let staff = Staff::from_request_parts(&mut parts, &state).await?;
    let method = parts.method.as_str().to_string();
    let roles = ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == matched.as_str())
        .map(|r| r.2)
        .ok_or_else(|| {
            AppError::new(
                StatusCode::FORBIDDEN,
                "this route is not open to console users",
            )
        })?;
    if !roles.is_empty() {
        staff.require(roles)?;
    }
    parts.extensions.insert(staff);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

pub fn router(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/api/v1/sessions/current", delete(end_session))
        .route("/api/v1/users", post(create_user))
        .route("/api/v1/raffles", post(create_raffle))
        .route("/api/v1/raffles/{id}", patch(update_raffle))
        .route("/api/v1/raffles/{id}/open", post(open_raffle))
        .route("/api/v1/raffles/{id}/close", post(close_raffle))
        .route(
            "/api/v1/raffles/{id}/reconciliation",
            post(request_reconciliation).get(reconciliation_figures),
        )
        .route(
            "/api/v1/raffles/{id}/draws/{draw_id}/freeze",
            post(freeze_draw),
        )
        .route(
            "/api/v1/raffles/{id}/draws/{draw_id}/contribution",
            post(contribute),
        )
        .route(
            "/api/v1/raffles/{id}/draws/{draw_id}/perform",
            post(perform_draw),
        )
        .route(
            "/api/v1/raffles/{id}/draws/{draw_id}/redraw",
            post(request_redraw),
        )
        .route("/api/v1/sales/{id}/void", post(request_void))
        .route("/api/v1/approvals/{id}", post(decide_approval))
        .route("/api/v1/claims", post(pay_claim))
        .route("/api/v1/events", get(search_events))
        .route_layer(middleware::from_fn_with_state(state, authorize));
    Router::new()
        .route("/api/v1/sessions", post(create_session))
        .merge(protected)
}

/// Records who froze or performed a draw (GLI-31 5.6.1) and answers with the entry.
async fn draw_event(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    raffle: &str,
    draw: &str,
    s: &Sequenced,
) -> Result<Json<Value>, AppError> {
    state
        .store
        .record_event(
            "draws",
            kind,
            &json!({ "raffle": raffle, "draw": draw, "log_index": s.index }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(Json(sequenced(s)))
}

fn sequenced(s: &Sequenced) -> Value {
    json!({ "log_index": s.index.to_string(), "entry": serde_json::from_slice::<Value>(&s.bytes).unwrap_or_default() })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    username: String,
    password: String,
    totp: String,
}

async fn create_session(
    State(state): State<AppState>,
    Json(req): Json<SignIn>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let token = sign_in(&state, &req.username, &req.password, &req.totp).await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token }))))
}

async fn end_session(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<StatusCode, AppError> {
    state.store.delete_session(&staff.token_sha256).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    username: String,
    roles: Vec<String>,
}

async fn create_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let (user, password) = new_user(&req.username, &req.roles)?;
    state.store.create_user(&user).await?;
    state
        .store
        .record_event(
            "console",
            "user_created",
            &json!({ "username": user.username, "roles": user.roles }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "username": user.username, "password": password, "totp_secret": user.totp_secret }),
        ),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigBody {
    config: RaffleConfig,
}

async fn create_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Json(req): Json<ConfigBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let raffle = raffle_core::ids::new_uuid();
    let s = state
        .sequencer
        .submit(Change::CreateRaffle {
            raffle: raffle.clone(),
            config: req.config,
            by: staff.user.staff_id.clone(),
        })
        .await?;
    let mut v = sequenced(&s);
    v["id"] = json!(raffle);
    Ok((StatusCode::CREATED, Json(v)))
}

async fn update_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    Json(req): Json<ConfigBody>,
) -> Result<Json<Value>, AppError> {
    match state
        .sequencer
        .submit(Change::UpdateRaffle {
            raffle: id.clone(),
            config: req.config,
            by: staff.user.staff_id.clone(),
        })
        .await
    {
        Ok(s) => Ok(Json(sequenced(&s))),
        Err(e) => {
            // GLI-31 2.2.3: a refused change to a started raffle is logged.
            if let raffle_core::Error::Refused(reason) = &e {
                state
                    .store
                    .record_event(
                        "raffles",
                        "configuration_change_refused",
                        &json!({ "raffle": id, "reason": reason }),
                        Some(&staff.user.staff_id),
                    )
                    .await?;
            }
            Err(e.into())
        }
    }
}

async fn open_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &state
            .sequencer
            .submit(Change::OpenRaffle {
                raffle: id,
                by: staff.user.staff_id.clone(),
            })
            .await?,
    )))
}

async fn close_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &state
            .sequencer
            .submit(Change::CloseRaffle {
                raffle: id,
                by: staff.user.staff_id.clone(),
            })
            .await?,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrawQuery {
    draw: String,
}

/// The figures a reconciliation would acknowledge for a draw, to be shown
/// before acknowledging (GLI-31 2.6.1, 2.6.3).
async fn reconciliation_figures(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DrawQuery>,
) -> Result<Json<Value>, AppError> {
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(&id)
        .ok_or_else(|| AppError::not_found("no such raffle"))?;
    let f = r.reconciliation_figures(&q.draw)?;
    let d = r.draws.get(&q.draw);
    // Per channel (online, or each RSU): sales, gross and voids.
    let cutoff = r.draw_config(&q.draw)?.cutoff;
    let mut by_channel: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
    for s in r.sales.iter().filter(|s| s.sequenced < cutoff) {
        let c = by_channel
            .entry(
                s.rsu
                    .clone()
                    .map_or("online".into(), |rsu| format!("rsu:{rsu}")),
            )
            .or_default();
        c.0 += 1;
        c.1 += s.price.minor;
        c.2 += u64::from(s.voided);
    }
    let channels: serde_json::Map<String, Value> = by_channel
        .into_iter()
        .map(|(k, (sales, gross, voids))| {
            (k, json!({ "sales": sales.to_string(), "gross": raffle_core::Money::new(gross, f.gross.currency), "voids": voids.to_string() }))
        })
        .collect();
    Ok(Json(json!({
        "raffle": id,
        "draw": q.draw,
        "cutoff": r.draw_config(&q.draw)?.cutoff,
        "sales": f.sales.to_string(),
        "gross": f.gross,
        "voids": f.voids.to_string(),
        "voided": f.voided,
        "refunded": f.refunded,
        "net": f.gross.checked_sub(&f.voided)?,
        "channels": channels,
        "reconciled": d.is_some_and(|d| d.reconciled),
    })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconciliationRequest {
    draw: String,
}

async fn request_reconciliation(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    Json(req): Json<ReconciliationRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(&id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        r.draw_config(&req.draw)?;
    }
    request_approval(
        &state,
        &staff,
        "reconciliation",
        json!({ "raffle": id, "draw": req.draw }),
    )
    .await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoidRequest {
    raffle_id: String,
    reason: VoidReason,
    refund: bool,
}

async fn request_void(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(sale): Path<String>,
    Json(req): Json<VoidRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(&req.raffle_id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        let s = r
            .sale(&sale)
            .ok_or_else(|| AppError::not_found("no such sale"))?;
        if s.voided {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "the sale is already voided",
            ));
        }
    }
    request_approval(&state, &staff, "void", json!({ "raffle": req.raffle_id, "sale": sale, "reason": req.reason, "refund": req.refund })).await
}

async fn request_approval(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    payload: Value,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = raffle_core::ids::new_uuid();
    state
        .store
        .create_approval(&id, kind, &payload, &staff.user.id)
        .await?;
    state
        .store
        .record_event(
            "approvals",
            "requested",
            &json!({ "approval": id, "kind": kind, "payload": payload }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "approval_id": id, "status": "pending" })),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    decision: String,
}

async fn decide_approval(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    Json(req): Json<Decision>,
) -> Result<Json<Value>, AppError> {
    raffle_core::ids::check_uuid("approval id", &id)?;
    let status = match req.decision.as_str() {
        "approve" => "approved",
        "reject" => "rejected",
        _ => {
            return Err(AppError::bad_request(
                "decision must be \"approve\" or \"reject\"",
            ));
        }
    };
    let (_, requester, current, payload) = state
        .store
        .approval(&id)
        .await?
        .ok_or_else(|| AppError::not_found("no such approval"))?;
    // Who may approve is the raffle's jurisdiction setting.
    let allowed: Vec<String> = {
        let raffle_id = payload["raffle"].as_str().unwrap_or_default();
        let ledger = state.sequencer.ledger();
        ledger
            .raffle(raffle_id)
            .map(|r| r.config.approvers.clone())
            .unwrap_or_default()
    };
    if !staff.user.roles.iter().any(|r| allowed.contains(r)) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            format!("this raffle's approvers are: {}", allowed.join(", ")),
        ));
    }
    if requester == staff.user.id {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "the requester cannot approve their own request (GLI-31 5.2.4)",
        ));
    }
    if current != "pending" {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            format!("the request is already {current}"),
        ));
    }
    let (kind, payload, requester) = state
        .store
        .claim_approval(&id, &staff.user.id, status)
        .await?
        .ok_or_else(|| AppError::new(StatusCode::CONFLICT, "the request was decided meanwhile"))?;
    state
        .store
        .record_event(
            "approvals",
            status,
            &json!({ "approval": id, "kind": kind }),
            Some(&staff.user.staff_id),
        )
        .await?;
    if status == "rejected" {
        return Ok(Json(json!({ "approval_id": id, "status": "rejected" })));
    }
    let requested_by = state.store.staff_id_of(&requester).await?;
    let approved_by = staff.user.staff_id.clone();
    let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
    let change = match kind.as_str() {
        "void" => Change::VoidSale {
            raffle: text("raffle"),
            sale: text("sale"),
            reason: serde_json::from_value(payload["reason"].clone())
                .map_err(|e| AppError::bad_request(e.to_string()))?,
            refund: payload["refund"].as_bool().unwrap_or(false),
            requested_by,
            approved_by,
        },
        "reconciliation" => Change::Reconcile {
            raffle: text("raffle"),
            draw: text("draw"),
            requested_by,
            approved_by,
        },
        "redraw" => Change::Redraw {
            raffle: text("raffle"),
            draw: text("draw"),
            reason: serde_json::from_value(payload["reason"].clone())
                .map_err(|e| AppError::bad_request(e.to_string()))?,
            requested_by,
            approved_by,
        },
        other => {
            return Err(AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("unknown approval kind {other}"),
            ));
        }
    };
    match state.sequencer.submit(change).await {
        Ok(s) => {
            state
                .store
                .finish_approval(&id, "approved", &format!("log index {}", s.index))
                .await?;
            let mut v = sequenced(&s);
            v["approval_id"] = json!(id);
            v["status"] = json!("approved");
            Ok(Json(v))
        }
        Err(e) => {
            state
                .store
                .finish_approval(&id, "failed", &e.to_string())
                .await?;
            Err(e.into())
        }
    }
}

async fn freeze_draw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let s = state
        .sequencer
        .submit(Change::FreezeDraw {
            raffle: id.clone(),
            draw: draw.clone(),
        })
        .await?;
    draw_event(&state, &staff, "frozen", &id, &draw, &s).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Contribution {
    /// The witness key's name (one of RAFFLE_WITNESS_KEYS).
    witness: String,
    /// Base64 Ed25519 signature over the contribution message.
    signature: String,
}

/// Accepts the configured witness's signature over the `draw.frozen` entry,
/// once per draw (architecture page, "The draw").
async fn contribute(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
    Json(req): Json<Contribution>,
) -> Result<Json<Value>, AppError> {
    let keys: Vec<transparency::NoteVerifier> = state
        .config
        .witness_keys
        .iter()
        .map(|k| transparency::NoteVerifier::from_vkey(k))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("RAFFLE_WITNESS_KEYS: {e}"),
            )
        })?;
    let key = keys
        .iter()
        .find(|k| k.name() == req.witness)
        .ok_or_else(|| {
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{:?} is not a configured witness", req.witness),
            )
        })?;
    let (_, _, message) = crate::witness::frozen_entry(&state, &id, &draw).await?;
    let signature = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&req.signature)
            .map_err(|e| AppError::bad_request(format!("signature is not base64: {e}")))?
    };
    if !key.verify_raw(&message, &signature) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the signature does not verify with the witness key over the frozen entry",
        ));
    }
    state
        .store
        .save_contribution(&id, &draw, key.name(), &signature)
        .await?;
    state
        .store
        .record_event(
            "draws",
            "contribution",
            &json!({ "raffle": id, "draw": draw, "witness": key.name() }),
            Some(&staff.user.staff_id),
        )
        .await?;
    Ok(Json(
        json!({ "raffle": id, "draw": draw, "witness": key.name(), "accepted": true }),
    ))
}

async fn perform_draw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    // With a witness configured, its contribution is required: the operator
    // alone cannot fix the outcome.
    let stored = match state.store.contribution(&id, &draw).await? {
        Some(c) => Some(c),
        None => crate::witness::fetch_contribution(&state, &id, &draw).await?,
    };
    let contribution = match stored {
        Some(c) => c,
        None if state.config.witness_keys.is_empty() => Vec::new(),
        None => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "a witness is configured: its contribution to this draw is required first",
            ));
        }
    };
    let s = state
        .sequencer
        .submit(Change::PerformDraw {
            raffle: id.clone(),
            draw: draw.clone(),
            contribution,
        })
        .await?;
    draw_event(&state, &staff, "performed", &id, &draw, &s).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedrawRequest {
    reason: RedrawReason,
}

/// GLI-31 2.6.4: a drawn number is set aside only for a reason of the fixed
/// list (unclaimed within the claim window, where the raffle redraws
/// unclaimed prizes; winner ineligible), and only once a second person
/// approves; the redraw continues the draw's random stream.
async fn request_redraw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
    Json(req): Json<RedrawRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(&id)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        if !r.draws.contains_key(&draw) {
            return Err(AppError::not_found("no such draw, or it is not drawn yet"));
        }
        // The ledger's own rule, checked before a second person is asked.
        r.check_redraw(&draw, req.reason, raffle_core::Timestamp::now())?;
    }
    request_approval(
        &state,
        &staff,
        "redraw",
        json!({ "raffle": id, "draw": draw, "reason": req.reason }),
    )
    .await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Claim {
    validation_number: String,
    /// The winner's paperwork (identity, tax forms) is completed: required
    /// for prizes over the raffle's threshold (GLI-31 2.7.1).
    #[serde(default)]
    paperwork_completed: bool,
}

/// GLI-31 2.7.1: a winning ticket is validated by its validation number before payout.
async fn pay_claim(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Json(req): Json<Claim>,
) -> Result<Json<Value>, AppError> {
    let vn = ValidationNumber::parse(&req.validation_number)?;
    let Some((raffle, sale)) = crate::receipt::find_by_validation(&state, &vn).await? else {
        return Err(AppError::not_found("no ticket has this validation number"));
    };
    let draw = {
        let ledger = state.sequencer.ledger();
        let r = ledger
            .raffle(&raffle)
            .ok_or_else(|| AppError::not_found("no such raffle"))?;
        r.config
            .draws
            .iter()
            .find(|d| {
                r.draws.get(&d.id).is_some_and(|s| {
                    !s.claimed && s.winner.as_ref().is_some_and(|w| w.sale == sale)
                })
            })
            .map(|d| d.id.clone())
    };
    let Some(draw) = draw else {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "this ticket has no unclaimed prize",
        ));
    };
    let s = state
        .sequencer
        .submit(Change::PayClaim {
            raffle,
            draw,
            sale,
            validation_number: vn.to_text(),
            paperwork: req.paperwork_completed,
            by: staff.user.staff_id.clone(),
        })
        .await?;
    let Body::ClaimPaid(c) = &s.entry.body else {
        unreachable!("a claim entry")
    };
    let mut v = sequenced(&s);
    v["prize"] = json!(c.prize);
    Ok(Json(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    from: Option<String>,
    to: Option<String>,
    component: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
}

/// GLI-31 5.6.2: significant events searchable by time range, component and type.
async fn search_events(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<Value>, AppError> {
    let parse = |t: &Option<String>| -> Result<Option<time::OffsetDateTime>, AppError> {
        t.as_deref()
            .map(|s| Ok(raffle_core::Timestamp::parse(s)?.to_offset_datetime()?))
            .transpose()
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = state
        .store
        .events(
            parse(&q.from)?,
            parse(&q.to)?,
            q.component.as_deref(),
            q.kind.as_deref(),
            limit,
        )
        .await?;
    Ok(Json(json!({ "events": events })))
}
