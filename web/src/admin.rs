//! The admin API: sessions, users, raffle configuration and lifecycle,
//! reconciliation, draws, voids, claims, approvals and significant events.
//! Every route checks the session and the role ([`ROUTES`] lists them; a
//! test walks it for every role). Changes that need a second person (voids,
//! refunds, the reconciliation acknowledgement; GLI-31 5.2.4) answer 202
//! with an approval id; a different user with the finance or administrator
//! role completes or refuses them.

use crate::AppState;
use crate::auth::{SignedIn, Staff, sign_in};
use crate::error::AppError;
use crate::operations::{self, Decided};
use axum::Extension;
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use raffle_core::entry::{RaffleConfig, RedrawReason, VoidReason};
use raffle_core::store::sequencer::Sequenced;
use serde::Deserialize;
use serde_json::{Value, json};

/// Every admin route: method, path, and the roles allowed (empty: any signed-in user).
pub const ROUTES: &[(&str, &str, &[&str])] = &[
    ("DELETE", "/api/v1/sessions/current", &[]),
    ("GET", "/api/v1/sessions", &[]),
    ("DELETE", "/api/v1/sessions/{id}", &[]),
    ("POST", "/api/v1/account/password", &[]),
    ("GET", "/api/v1/users", &["administrator"]),
    ("POST", "/api/v1/users", &["administrator"]),
    ("POST", "/api/v1/users/{id}/roles", &["administrator"]),
    ("POST", "/api/v1/users/{id}/reset", &["administrator"]),
    ("POST", "/api/v1/users/{id}/disable", &["administrator"]),
    ("POST", "/api/v1/users/{id}/enable", &["administrator"]),
    ("GET", "/api/v1/users/{id}/sessions", &["administrator"]),
    ("DELETE", "/api/v1/users/{id}/sessions", &["administrator"]),
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
    ("POST", "/api/v1/claims/supervised", &["raffle_manager"]),
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
        .route("/api/v1/sessions", get(own_sessions))
        .route("/api/v1/sessions/{id}", delete(revoke_session))
        .route("/api/v1/account/password", post(change_password))
        .route("/api/v1/users", post(create_user).get(list_users))
        .route("/api/v1/users/{id}/roles", post(set_roles))
        .route("/api/v1/users/{id}/reset", post(reset_credentials))
        .route("/api/v1/users/{id}/disable", post(disable_user))
        .route("/api/v1/users/{id}/enable", post(enable_user))
        .route(
            "/api/v1/users/{id}/sessions",
            get(user_sessions).delete(revoke_user_sessions),
        )
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
        .route("/api/v1/claims/supervised", post(request_supervised_claim))
        .route("/api/v1/events", get(search_events))
        .route_layer(middleware::from_fn_with_state(state, authorize));
    Router::new()
        .route("/api/v1/sessions", post(create_session))
        .route("/api/v1/enrolment/password", post(enrolment_password))
        .route("/api/v1/enrolment/totp", post(enrolment_totp))
        .merge(protected)
}

fn sequenced(s: &Sequenced) -> Value {
    json!({ "log_index": s.index.to_string(), "entry": serde_json::from_slice::<Value>(&s.bytes).unwrap_or_default() })
}

fn pending(approval_id: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "approval_id": approval_id, "status": "pending" })),
    )
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
    Extension(client): Extension<crate::edge::ClientAddr>,
    Json(req): Json<SignIn>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(
        match sign_in(&state, &req.username, &req.password, &req.totp, client.0).await? {
            SignedIn::Enrolled(token) => (StatusCode::CREATED, Json(json!({ "token": token }))),
            // Signed in with a one-time enrolment code: this session reaches
            // only the enrolment steps until they are done.
            SignedIn::MustEnrol(token) => (
                StatusCode::CREATED,
                Json(json!({
                    "token": token,
                    "enrolment": "required",
                    "next": "POST /api/v1/enrolment/password {\"password\"}",
                })),
            ),
        },
    )
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

/// Provisioning over the API: the answer carries the one-time password and
/// the TOTP secret, to be handed to the user once (the console instead has
/// the user enrol their own authenticator at first sign-in).
/// 201 with the one-time enrolment code while the organisation has one
/// administrator; 202 (the code goes to the approving administrator) once
/// it has two.
fn people(outcome: crate::people::Outcome, done: StatusCode) -> (StatusCode, Json<Value>) {
    match outcome {
        crate::people::Outcome::Done(v) => (done, Json(v)),
        crate::people::Outcome::Pending(id) => pending(id),
    }
}

async fn create_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::people::create_user(&state, &staff, &req.username, &req.roles).await?;
    Ok(people(outcome, StatusCode::CREATED))
}

async fn list_users(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let users = state.store.users().await?;
    Ok(Json(json!({
        "users": users.iter().map(|u| json!({
            "id": u.id,
            "staff_id": u.staff_id,
            "username": u.username,
            "roles": u.roles,
            "enrolled": u.enrolled,
            "disabled": u.disabled,
            "sessions": u.sessions,
            "created_at": u.created_at.to_string(),
        })).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Roles {
    roles: Vec<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
    Json(req): Json<Roles>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::people::set_roles(&state, &staff, &id, &req.roles).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn reset_credentials(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::people::reset_credentials(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn disable_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::people::disable(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn enable_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::people::enable(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn user_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    raffle_core::ids::check_uuid("user id", &id)?;
    Ok(Json(crate::people::sessions(&state, &staff, &id).await?))
}

async fn revoke_user_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        crate::people::revoke_sessions_of(&state, &staff, &id).await?,
    ))
}

async fn own_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Json<Value>, AppError> {
    let id = staff.user.id.clone();
    Ok(Json(crate::people::sessions(&state, &staff, &id).await?))
}

async fn revoke_session(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    crate::people::revoke_session(&state, &staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    Json(req): Json<PasswordChange>,
) -> Result<StatusCode, AppError> {
    crate::people::change_password(
        &state,
        &staff,
        &req.current_password,
        &req.new_password,
        client.0,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrolmentPassword {
    password: String,
}

/// Enrolment, step one (a session opened with a one-time enrolment code):
/// the user's own password; answers the TOTP secret, to this session alone.
async fn enrolment_password(
    State(state): State<AppState>,
    enrolling: crate::auth::Enrolling,
    Json(req): Json<EnrolmentPassword>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        crate::people::enrolment_password(
            &state,
            &enrolling.user,
            &enrolling.token_sha256,
            &req.password,
        )
        .await?,
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrolmentCode {
    code: String,
}

/// Enrolment, step two: a code from the authenticator confirms the secret;
/// the session then opens every route the user's roles allow.
async fn enrolment_totp(
    State(state): State<AppState>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    enrolling: crate::auth::Enrolling,
    Json(req): Json<EnrolmentCode>,
) -> Result<Json<Value>, AppError> {
    if enrolling.user.must_set_password {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "set a password of your own first: POST /api/v1/enrolment/password",
        ));
    }
    if !crate::auth::enrol(&state, &enrolling.user, &req.code, client.0).await? {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "that code does not match the authenticator's secret (or was used already)",
        ));
    }
    Ok(Json(json!({ "enrolled": true })))
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
    let (raffle, s) = operations::create_raffle(&state, &staff, req.config).await?;
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
    let s = operations::update_raffle(&state, &staff, &id, req.config).await?;
    Ok(Json(sequenced(&s)))
}

async fn open_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::open_raffle(&state, &staff, &id).await?,
    )))
}

async fn close_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::close_raffle(&state, &staff, &id).await?,
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
    Ok(Json(
        operations::reconciliation(&state, &id, &q.draw)?.to_json(),
    ))
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
    Ok(pending(
        operations::request_reconciliation(&state, &staff, &id, &req.draw).await?,
    ))
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
    Ok(pending(
        operations::request_void(
            &state,
            &staff,
            &req.raffle_id,
            &sale,
            req.reason,
            req.refund,
        )
        .await?,
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
    let approve = match req.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(AppError::bad_request(
                "decision must be \"approve\" or \"reject\"",
            ));
        }
    };
    match operations::decide_approval(&state, &staff, &id, approve).await? {
        Decided::Rejected => Ok(Json(json!({ "approval_id": id, "status": "rejected" }))),
        Decided::People(mut v) => {
            v["approval_id"] = json!(id);
            v["status"] = json!("approved");
            Ok(Json(v))
        }
        Decided::Approved(s) => {
            let mut v = sequenced(&s);
            v["approval_id"] = json!(id);
            v["status"] = json!("approved");
            Ok(Json(v))
        }
    }
}

async fn freeze_draw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::freeze_draw(&state, &staff, &id, &draw).await?,
    )))
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
    let witness =
        operations::contribute(&state, &staff, &id, &draw, &req.witness, &req.signature).await?;
    Ok(Json(
        json!({ "raffle": id, "draw": draw, "witness": witness, "accepted": true }),
    ))
}

async fn perform_draw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::perform_draw(&state, &staff, &id, &draw).await?,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedrawRequest {
    reason: RedrawReason,
}

async fn request_redraw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, draw)): Path<(String, String)>,
    Json(req): Json<RedrawRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(
        operations::request_redraw(&state, &staff, &id, &draw, req.reason).await?,
    ))
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
    let paid = operations::pay_claim(
        &state,
        &staff,
        &req.validation_number,
        req.paperwork_completed,
    )
    .await?;
    let mut v = sequenced(&paid.sequenced);
    v["prize"] = json!(paid.prize);
    Ok(Json(v))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SupervisedClaim {
    /// The ticket's validation number (published by an earlier claim).
    validation_number: String,
    /// Who the winner proved to be.
    identity: operations::Identity,
    #[serde(default)]
    paperwork_completed: bool,
}

/// A win of a ticket whose validation number an earlier claim published:
/// 202, paid once a second person approves (GLI-31 2.7.1, 5.2.4).
async fn request_supervised_claim(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Json(req): Json<SupervisedClaim>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(
        operations::request_supervised_claim(
            &state,
            &staff,
            &req.validation_number,
            req.identity,
            req.paperwork_completed,
        )
        .await?,
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    from: Option<String>,
    to: Option<String>,
    component: Option<String>,
    kind: Option<String>,
    /// Only events with a smaller id (the next page: the last id of this one).
    before: Option<String>,
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
    let before = q
        .before
        .as_deref()
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| AppError::bad_request("before must be an event id"))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = state
        .store
        .events(
            parse(&q.from)?,
            parse(&q.to)?,
            q.component.as_deref(),
            q.kind.as_deref(),
            before,
            limit,
        )
        .await?;
    Ok(Json(json!({ "events": events })))
}
