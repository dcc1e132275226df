//! The admin API: sessions, users, raffle configuration and lifecycle,
//! reconciliation, draws, voids, claims, approvals and significant events.
//! Every route checks the session and the role (its [`entries`] state
//! them; a test walks them for every role). Changes that need a second person (voids,
//! refunds, the reconciliation acknowledgement; GLI-31 5.2.4) answer 202
//! with an approval id; a different user with the finance or administrator
//! role completes or refuses them.

use super::{Body, Ids, Params};
use crate::AppState;
use crate::app::auth::{SignedIn, Staff, sign_in};
use crate::app::operations::{self, Decided};
use crate::error::AppError;
use crate::routes::roles::*;
use crate::routes::{Access, Entry, Route, entry, find};
use axum::Extension;
use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use raffle_core::Role;
use raffle_core::entry::{RaffleConfig, RedrawReason, VoidReason};
use raffle_core::ids::{ApprovalId, DrawId, RaffleId, SaleId, SessionId, UserId};
use raffle_core::store::sequencer::Sequenced;
use serde::Deserialize;
use serde_json::{Value, json};

/// The staff API's routes (sessions, people, raffles, draws, voids,
/// approvals, claims, events) with the roles each needs; sign-in and the
/// enrolment steps are public (they check their own kind of token).
pub(crate) fn entries() -> Vec<Entry> {
    use Method as M;
    let staff = Access::Staff;
    vec![
        entry(M::POST, "/api/v1/sessions", Access::Public,
            "Sign in with username, password and TOTP code: returns a bearer token. With a one-time enrolment code as the password (and any code), the token opens only the enrolment steps.",
            create_session).body::<SignIn>(),
        entry(M::POST, "/api/v1/enrolment/password", Access::Public,
            "Enrolment, step one (an enrolment session): a password of your own; answers your TOTP secret.",
            enrolment_password).body::<EnrolmentPassword>(),
        entry(M::POST, "/api/v1/enrolment/totp", Access::Public,
            "Enrolment, step two: a code from your authenticator confirms it; the session then opens your routes.",
            enrolment_totp).body::<EnrolmentCode>(),
        entry(M::DELETE, "/api/v1/sessions/current", staff(ANY), "Sign out: ends this session.", end_session),
        entry(M::GET, "/api/v1/sessions", staff(ANY), "Your own sessions.", own_sessions),
        entry(M::DELETE, "/api/v1/sessions/{id}", staff(ANY), "Ends one of your own sessions.", revoke_session),
        entry(M::POST, "/api/v1/account/password", staff(ANY), "Changes your password.", change_password)
            .body::<PasswordChange>(),
        entry(M::POST, "/api/v1/account/device-pin", staff(RSU_OPERATOR),
            "Sets your PIN for signing in on sales units (operators; units learn its hash at their next sync).",
            set_device_pin)
            .body::<DevicePin>(),
        entry(M::GET, "/api/v1/users", staff(ADMINISTRATOR), "Users, their roles and sessions.", list_users),
        entry(M::POST, "/api/v1/users", staff(ADMINISTRATOR),
            "Creates a user (with a second administrator's approval where there are two).", create_user)
            .body::<NewUser>(),
        entry(M::POST, "/api/v1/users/{id}/roles", staff(ADMINISTRATOR), "Sets a user's roles.", set_roles)
            .body::<Roles>(),
        entry(M::POST, "/api/v1/users/{id}/reset", staff(ADMINISTRATOR),
            "Resets a user's credentials: a new one-time enrolment code.", reset_credentials),
        entry(M::POST, "/api/v1/users/{id}/disable", staff(ADMINISTRATOR), "Disables a user.", disable_user),
        entry(M::POST, "/api/v1/users/{id}/enable", staff(ADMINISTRATOR), "Enables a user.", enable_user),
        entry(M::GET, "/api/v1/users/{id}/sessions", staff(ADMINISTRATOR), "A user's sessions.", user_sessions),
        entry(M::DELETE, "/api/v1/users/{id}/sessions", staff(ADMINISTRATOR), "Ends a user's sessions.",
            revoke_user_sessions),
        entry(M::POST, "/api/v1/raffles", staff(MANAGER), "Creates a raffle (draft).", create_raffle)
            .body::<ConfigBody>(),
        entry(M::PATCH, "/api/v1/raffles/{id}", staff(MANAGER), "Changes a draft raffle's configuration.",
            update_raffle).body::<ConfigBody>(),
        entry(M::POST, "/api/v1/raffles/{id}/open", staff(MANAGER), "Opens sales (freezes the configuration).",
            open_raffle),
        entry(M::POST, "/api/v1/raffles/{id}/close", staff(MANAGER), "Closes sales early.", close_raffle),
        entry(M::GET, "/api/v1/raffles/{id}/reconciliation", staff(FIGURES),
            "A draw's reconciliation figures.", reconciliation_figures).query::<DrawQuery>(),
        entry(M::POST, "/api/v1/raffles/{id}/reconciliation", staff(FINANCE),
            "Requests a draw's reconciliation acknowledgement (a second person approves).",
            request_reconciliation).body::<ReconciliationRequest>(),
        entry(M::POST, "/api/v1/raffles/{id}/draws/{draw_id}/freeze", staff(MANAGER),
            "Freezes a draw: its eligible numbers, prize and seed commitment.", freeze_draw),
        entry(M::POST, "/api/v1/raffles/{id}/draws/{draw_id}/contribution", staff(MANAGER),
            "Records a witness's contribution to a frozen draw.", contribute).body::<Contribution>(),
        entry(M::POST, "/api/v1/raffles/{id}/draws/{draw_id}/perform", staff(MANAGER),
            "Performs a frozen draw.", perform_draw),
        entry(M::POST, "/api/v1/raffles/{id}/draws/{draw_id}/redraw", staff(MANAGER),
            "Requests a redraw, with its reason (a second person approves).", request_redraw)
            .body::<RedrawRequest>(),
        entry(M::POST, "/api/v1/sales/{id}/void", staff(FINANCE),
            "Requests a void, with or without refund (a second person approves).", request_void)
            .body::<VoidRequest>(),
        entry(M::GET, "/api/v1/payments/reversals", staff(FIGURES),
            "Reversed card payments (failed captures, refunds made at Stripe, disputes): open ones wait for finance.",
            list_reversals),
        entry(M::GET, "/api/v1/raffles/{id}/payments/reconciliation", staff(FIGURES),
            "A raffle's card sales, voids and refunds against Stripe's books (per day, in total, payouts, differences by order).",
            card_reconciliation),
        entry(M::POST, "/api/v1/payments/stripe/fetch", staff(FINANCE),
            "Fetches Stripe's books (balance transactions and payouts) for reconciliation, in the background.",
            fetch_stripe_books),
        entry(M::POST, "/api/v1/payments/reversals/{id}", staff(FINANCE),
            "Requests that a reversed payment's sale be voided or kept (a second person approves).",
            decide_reversal).body::<ReversalDecision>(),
        entry(M::POST, "/api/v1/approvals/{id}", staff(APPROVERS), "Approves or refuses a request.",
            decide_approval).body::<Decision>(),
        entry(M::POST, "/api/v1/claims", staff(MANAGER), "Pays a prize claimed with its validation number.",
            pay_claim).body::<Claim>(),
        entry(M::POST, "/api/v1/claims/supervised", staff(MANAGER),
            "Requests a supervised claim (the winner's identity checked; a second person approves).",
            request_supervised_claim).body::<SupervisedClaim>(),
        entry(M::GET, "/api/v1/events", staff(EVENTS), "Searches significant events.", search_events)
            .query::<EventQuery>(),
    ]
}

/// The one place where admin routes check the session and the role, before
/// anything else (the body is not even read for a refused request).
pub(crate) async fn authorize(
    State(state): State<AppState>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let staff = Staff::from_request_parts(&mut parts, &state).await?;
    let roles = find(super::routes(), &parts.method, matched.as_str())
        .and_then(Route::roles)
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

/// The session and role check, for the routes that need one.
pub(crate) fn checked(
    state: &AppState,
) -> impl Fn(MethodRouter<AppState>) -> MethodRouter<AppState> {
    let state = state.clone();
    move |handler| handler.route_layer(middleware::from_fn_with_state(state.clone(), authorize))
}

pub(crate) fn sequenced(s: &Sequenced) -> Value {
    json!({ "log_index": s.index.to_string(), "entry": serde_json::from_slice::<Value>(&s.bytes).unwrap_or_default() })
}

pub(crate) fn pending(approval_id: ApprovalId) -> (StatusCode, Json<Value>) {
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
    Body(req): Body<SignIn>,
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
    roles: Vec<Role>,
}

/// Provisioning over the API: the answer carries the one-time password and
/// the TOTP secret, to be handed to the user once (the console instead has
/// the user enrol their own authenticator at first sign-in).
/// 201 with the one-time enrolment code while the organisation has one
/// administrator; 202 (the code goes to the approving administrator) once
/// it has two.
fn people(outcome: crate::app::people::Outcome, done: StatusCode) -> (StatusCode, Json<Value>) {
    match outcome {
        crate::app::people::Outcome::Done(v) => (done, Json(v)),
        crate::app::people::Outcome::Pending(id) => pending(id),
    }
}

async fn create_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Body(req): Body<NewUser>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome =
        crate::app::people::create_user(&state, &staff, &req.username, &req.roles).await?;
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
    roles: Vec<Role>,
}

async fn set_roles(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
    Body(req): Body<Roles>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::app::people::set_roles(&state, &staff, &id, &req.roles).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn reset_credentials(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::app::people::reset_credentials(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn disable_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::app::people::disable(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn enable_user(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let outcome = crate::app::people::enable(&state, &staff, &id).await?;
    Ok(people(outcome, StatusCode::OK))
}

async fn user_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        crate::app::people::sessions(&state, &staff, &id).await?,
    ))
}

async fn revoke_user_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<UserId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        crate::app::people::revoke_sessions_of(&state, &staff, &id).await?,
    ))
}

async fn own_sessions(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Json<Value>, AppError> {
    let id = staff.user.id.clone();
    Ok(Json(
        crate::app::people::sessions(&state, &staff, &id).await?,
    ))
}

async fn revoke_session(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<SessionId>,
) -> Result<StatusCode, AppError> {
    crate::app::people::revoke_session(&state, &staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DevicePin {
    current_password: String,
    /// 8 to 12 digits.
    pin: String,
}

async fn set_device_pin(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    Body(req): Body<DevicePin>,
) -> Result<StatusCode, AppError> {
    crate::app::people::set_device_pin(&state, &staff, &req.current_password, &req.pin, client.0)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    Body(req): Body<PasswordChange>,
) -> Result<StatusCode, AppError> {
    crate::app::people::change_password(
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
    enrolling: crate::app::auth::Enrolling,
    Body(req): Body<EnrolmentPassword>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(
        crate::app::people::enrolment_password(
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
    enrolling: crate::app::auth::Enrolling,
    Body(req): Body<EnrolmentCode>,
) -> Result<Json<Value>, AppError> {
    if enrolling.user.must_set_password {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "set a password of your own first: POST /api/v1/enrolment/password",
        ));
    }
    if !crate::app::auth::enrol(&state, &enrolling.user, &req.code, client.0).await? {
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
    Body(req): Body<ConfigBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let (raffle, s) = operations::create_raffle(&state, &staff, req.config).await?;
    let mut v = sequenced(&s);
    v["id"] = json!(raffle);
    Ok((StatusCode::CREATED, Json(v)))
}

async fn update_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<RaffleId>,
    Body(req): Body<ConfigBody>,
) -> Result<Json<Value>, AppError> {
    let s = operations::update_raffle(&state, &staff, &id, req.config).await?;
    Ok(Json(sequenced(&s)))
}

async fn open_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<RaffleId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::open_raffle(&state, &staff, &id).await?,
    )))
}

async fn close_raffle(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<RaffleId>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(sequenced(
        &operations::close_raffle(&state, &staff, &id).await?,
    )))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrawQuery {
    draw: DrawId,
}

/// The figures a reconciliation would acknowledge for a draw, to be shown
/// before acknowledging (GLI-31 2.6.1, 2.6.3).
async fn reconciliation_figures(
    State(state): State<AppState>,
    Ids(id): Ids<RaffleId>,
    Params(q): Params<DrawQuery>,
) -> Result<Json<Value>, AppError> {
    let rec = operations::reconciliation(&state, &id, &q.draw)?;
    let (cutoff, mut figures) = (rec.cutoff, rec.to_json());
    if let Some(card) = crate::app::stripe::reconcile::for_raffle(&state, &id).await? {
        figures["card"] = json!({
            "fetched": card.fetched.as_ref().map(|f| f.started),
            "unexplained_differences": card.unexplained(cutoff).len(),
        });
    }
    Ok(Json(figures))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconciliationRequest {
    draw: DrawId,
    /// Why the acknowledgement stands although card payments bearing on
    /// the draw differ from Stripe's books (required then; at most 2,000
    /// characters). Shown to the approver; never in the log.
    #[serde(default)]
    reason: Option<String>,
}

async fn request_reconciliation(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<RaffleId>,
    Body(req): Body<ReconciliationRequest>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    Ok(pending(
        operations::request_reconciliation(&state, &staff, &id, &req.draw, req.reason.as_deref())
            .await?,
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoidRequest {
    raffle_id: RaffleId,
    reason: VoidReason,
    refund: bool,
}

async fn request_void(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(sale): Ids<SaleId>,
    Body(req): Body<VoidRequest>,
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

/// A raffle's card money, ours against Stripe's books as last fetched.
async fn card_reconciliation(
    State(state): State<AppState>,
    Ids(id): Ids<RaffleId>,
) -> Result<Json<Value>, AppError> {
    if state.payments.stripe().is_none() {
        return Err(AppError::refused(raffle_core::Refusal::CardPaymentsOff {}));
    }
    Ok(Json(
        crate::app::stripe::reconcile::CardReconciliation::of(&state, &id)
            .await?
            .to_json(),
    ))
}

/// Starts a fetch of Stripe's books: 202 with the fetch's id; its end
/// shows in the reconciliation (`latest_fetch`).
async fn fetch_stripe_books(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = crate::app::stripe::reconcile::start_fetch(&state).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "fetch": id.to_string(), "status": "running" })),
    ))
}

async fn list_reversals(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let reversals = state.store.reversals(None).await?;
    Ok(Json(json!({ "reversals": reversals })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReversalDecision {
    /// `void` (reason payment_reversed, no refund) or `keep`.
    decision: String,
}

async fn decide_reversal(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Ids(id): Ids<raffle_core::ids::ReversalId>,
    Body(req): Body<ReversalDecision>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let void = match req.decision.as_str() {
        "void" => true,
        "keep" => false,
        _ => {
            return Err(AppError::bad_request(
                "decision must be \"void\" or \"keep\"",
            ));
        }
    };
    Ok(pending(
        operations::request_reversal_decision(&state, &staff, &id, void).await?,
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
    Ids(id): Ids<ApprovalId>,
    Body(req): Body<Decision>,
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
        Decided::Recorded(mut v) => {
            v["approval_id"] = json!(id);
            v["status"] = json!("approved");
            Ok(Json(v))
        }
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
    Ids((id, draw)): Ids<(RaffleId, DrawId)>,
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
    Ids((id, draw)): Ids<(RaffleId, DrawId)>,
    Body(req): Body<Contribution>,
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
    Ids((id, draw)): Ids<(RaffleId, DrawId)>,
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
    Ids((id, draw)): Ids<(RaffleId, DrawId)>,
    Body(req): Body<RedrawRequest>,
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
    Body(req): Body<Claim>,
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
    Body(req): Body<SupervisedClaim>,
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
    Params(q): Params<EventQuery>,
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
