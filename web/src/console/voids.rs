//! Voids and refunds, and the approvals queue (GLI-31 2.3.3, 5.2.4): finance
//! asks for a sale to be voided (and refunded) for a reason of the fixed
//! list; a different user of a role the raffle names as approvers approves
//! or rejects it, as they do reconciliation acknowledgements and redraws.

use super::{Console, Done, PageIds, done};
use crate::AppState;
use crate::app::operations::{self, Decided};
use crate::error::AppError;
use crate::i18n::Lang;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::entry::VoidReason;
use raffle_core::ids::{ApprovalId, DrawId, RaffleId, SaleId};
use raffle_core::validation::ValidationNumber;

const REASONS: &[(&str, VoidReason, &str)] = &[
    (
        "buyer_request",
        VoidReason::BuyerRequest,
        "console.void.buyer_request",
    ),
    ("misprint", VoidReason::Misprint, "console.void.misprint"),
    (
        "payment_reversed",
        VoidReason::PaymentReversed,
        "console.void.payment_reversed",
    ),
    ("duplicate", VoidReason::Duplicate, "console.void.duplicate"),
    (
        "operator_error",
        VoidReason::OperatorError,
        "console.void.operator_error",
    ),
];

fn reason_key(reason: &serde_json::Value) -> &'static str {
    REASONS
        .iter()
        .find(|(v, _, _)| reason.as_str() == Some(v))
        .map_or("console.void.operator_error", |r| r.2)
}

/// The reversed card payments waiting for finance (GLI-31 2.6.3): each
/// is voided or kept by a request a second person approves.
fn reversals(c: &Console, open: &[raffle_core::store::payments::Reversal]) -> Markup {
    let lang = c.lang;
    html! {
        h2 { (lang.t("console.reversals.title")) }
        @if open.is_empty() { p { (lang.t("console.reversals.none")) } }
        @else {
            p.note { (lang.t("console.reversals.note")) }
            ul.cards {
                @for r in open {
                    li.card {
                        p {
                            (lang.f("console.approvals.sale", &[("sale", &r.order)])) br;
                            (lang.t(match r.cause.as_str() {
                                "capture_failed" => "console.reversals.capture_failed",
                                "refunded_outside" => "console.reversals.refunded_outside",
                                _ => "console.reversals.dispute",
                            }))
                            " · " (lang.time(r.opened_at, "UTC"))
                        }
                        @if r.approval.is_some() { p.note { (lang.t("console.reversals.requested")) } }
                        form.inline method="post" action=(c.href(&format!("/console/reversals/{}", r.id))) {
                            (c.csrf_field())
                            button type="submit" name="decision" value="void" { (lang.t("console.reversals.void")) }
                            " "
                            button.secondary type="submit" name="decision" value="keep" { (lang.t("console.reversals.keep")) }
                        }
                    }
                }
            }
        }
    }
}

fn page(c: &Console, status: StatusCode, problem: Option<Markup>, d: &Done) -> Response {
    page_with(c, status, problem, d, None)
}

fn page_with(
    c: &Console,
    status: StatusCode,
    problem: Option<Markup>,
    d: &Done,
    open: Option<&[raffle_core::store::payments::Reversal]>,
) -> Response {
    let lang = c.lang;
    let content = html! {
        h1 { (lang.t("console.voids.title")) }
        (d.notice(lang))
        @if let Some(p) = problem { (p) }
        @if let Some(open) = open { (reversals(c, open)) }
        h2 { (lang.t("console.voids.request")) }
        form method="post" action=(c.href("/console/voids")) {
            (c.csrf_field())
            p {
                label for="ticket" { (lang.t("console.voids.ticket")) } br;
                input #ticket name="ticket" type="text" autocomplete="off" spellcheck="false" required aria-describedby="ticket-help";
                br; span #ticket-help .note { (lang.t("console.voids.ticket.help")) }
            }
            p {
                label for="reason" { (lang.t("console.voids.reason")) } br;
                select #reason name="reason" {
                    @for (value, _, key) in REASONS { option value=(value) { (lang.t(key)) } }
                }
            }
            p { label { input type="checkbox" name="refund" value="yes"; " " (lang.t("console.voids.refund")) } }
            p.note { (lang.t("console.voids.note")) }
            p { button type="submit" { (lang.t("console.voids.submit")) } }
        }
    };
    c.page(
        status,
        lang.t("console.voids.title"),
        "/console/voids",
        content,
    )
}

/// `GET /console/voids`.
pub async fn show(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    d: Query<Done>,
) -> Response {
    match state.store.reversals(None).await {
        Ok(all) => {
            let open: Vec<_> = all.into_iter().filter(|r| r.status == "open").collect();
            page_with(&c, StatusCode::OK, None, &d, Some(&open))
        }
        Err(e) => c.refused_page(e.into(), "/console/voids"),
    }
}

/// `POST /console/reversals/{id}`: asks for the sale to be voided or kept.
pub async fn reversal(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<raffle_core::ids::ReversalId>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let none = Done { done: None };
    let void = match f.decision.as_deref() {
        Some("void") => true,
        Some("keep") => false,
        _ => {
            let e = AppError::bad_request("decision must be void or keep");
            return page(&c, e.status, Some(c.refusal(&e)), &none);
        }
    };
    match operations::request_reversal_decision(&state, &c.staff, &id, void).await {
        Ok(_) => done(c.lang, "/console/voids", "requested"),
        Err(e) => page(&c, e.status, Some(c.refusal(&e)), &none),
    }
}

#[derive(serde::Deserialize)]
pub struct VoidForm {
    ticket: Option<String>,
    reason: Option<String>,
    refund: Option<String>,
}

/// The raffle and sale a ticket names: its validation number (the bearer
/// presents the ticket) or its sale id (from the receipt).
async fn find_sale(state: &AppState, ticket: &str) -> Result<(RaffleId, SaleId), AppError> {
    if let Ok(vn) = ValidationNumber::parse(ticket) {
        return crate::app::receipt::find_by_validation(state, &vn)
            .await?
            .ok_or_else(|| AppError::not_found("no ticket has this validation number"));
    }
    let ledger = state.sequencer.ledger();
    ledger
        .raffles()
        .find_map(|r| r.sale(ticket).map(|s| (r.id.clone(), s.id.clone())))
        .ok_or_else(|| AppError::not_found("no sale has this id or validation number"))
}

/// `POST /console/voids`: asks for the void (202 through the API).
pub async fn request(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Form(f): Form<VoidForm>,
) -> Response {
    let none = Done { done: None };
    let Some((_, reason, _)) = REASONS
        .iter()
        .find(|(v, _, _)| Some(*v) == f.reason.as_deref())
    else {
        let e = AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose a reason from the list",
        );
        return page(&c, e.status, Some(c.refusal(&e)), &none);
    };
    let ticket = f.ticket.as_deref().unwrap_or("").trim();
    let result = match find_sale(&state, ticket).await {
        Ok((raffle, sale)) => {
            operations::request_void(
                &state,
                &c.staff,
                &raffle,
                &sale,
                *reason,
                f.refund.is_some(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => done(c.lang, "/console/voids", "requested"),
        Err(e) => page(&c, e.status, Some(c.refusal(&e)), &none),
    }
}

/// What a request asks, in words.
fn describe(
    state: &AppState,
    lang: Lang,
    viewer: &[raffle_core::Role],
    kind: &str,
    payload: &serde_json::Value,
) -> Markup {
    let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
    // Read before the ledger is locked below: `reconciliation` takes the
    // lock itself, and a second read lock on this thread can deadlock
    // behind a waiting writer (the sequencer).
    let figures = (kind == "reconciliation")
        .then(|| {
            let raffle = RaffleId::parse(&text("raffle")).ok()?;
            let draw = DrawId::parse(&text("draw")).ok()?;
            operations::reconciliation(state, &raffle, &draw).ok()
        })
        .flatten();
    let ledger = state.sequencer.ledger();
    let r = ledger.raffle(&text("raffle"));
    let raffle = r
        .map(|r| r.config.name.clone())
        .unwrap_or_else(|| text("raffle"));
    let draw = r
        .and_then(|r| r.draw_config(&text("draw")).ok())
        .map(|d| d.name.clone())
        .unwrap_or_else(|| text("draw"));
    match kind {
        "void" => {
            let sale = r.and_then(|r| r.sale(&text("sale")));
            html! {
                (lang.t("console.approvals.void")) " · " (raffle) br;
                (lang.f("console.approvals.sale", &[("sale", &text("sale"))]))
                @if let Some(s) = sale {
                    " · " (lang.f("console.approvals.numbers", &[("first", &s.first.to_string()), ("last", &(s.first + s.count - 1).to_string())]))
                    " · " (lang.money(s.price))
                }
                br; (lang.t(reason_key(&payload["reason"])))
                @if payload["refund"].as_bool() == Some(true) { " · " (lang.t("console.voids.refund")) }
            }
        }
        "keep_sale" => html! {
            (lang.t("console.approvals.keep")) " · " (raffle) br;
            (lang.f("console.approvals.sale", &[("sale", &text("sale"))]))
        },
        "reconciliation" => {
            html! {
                (lang.t("console.approvals.reconciliation")) " · " (raffle) " · " (draw)
                @if let Some(f) = figures {
                    br; (lang.t("console.reconciliation.sales")) " " (lang.count(f.figures.sales))
                    " · " (lang.t("console.reconciliation.voids")) " " (lang.count(f.figures.voids))
                    " · " (lang.t("console.raffle.net")) " " (lang.money(f.net))
                }
                @if let Some(reason) = payload["reason"].as_str() {
                    @let keys: Vec<&str> = payload["card_differences"].as_array().map(|k| k.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
                    br; strong { (lang.f("console.approvals.card_differences", &[("count", &lang.count(keys.len() as u64))])) }
                    @for k in &keys { br; code { (k) } }
                    br; (lang.f("console.approvals.reason", &[("reason", reason)]))
                }
            }
        }
        "redraw" => html! {
            (lang.t("console.approvals.redraw")) " · " (raffle) " · " (draw) br;
            @if payload["reason"].as_str() == Some("unclaimed") { (lang.t("console.redraw.unclaimed")) }
            @else { (lang.t("console.redraw.ineligible")) }
        },
        "user_create" => html! {
            (lang.f("console.approvals.user_create", &[("name", &text("username"))])) br;
            (payload["roles"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).filter_map(|x| raffle_core::Role::parse(x).ok()).map(|x| lang.t(super::users::role_key(x))).collect::<Vec<_>>().join(", ")).unwrap_or_default())
        },
        "user_roles" | "user_reset" | "user_enable" | "user_disable" => {
            let name = text("username");
            let key = match kind {
                "user_roles" => "console.approvals.user_roles",
                "user_reset" => "console.approvals.user_reset",
                "user_disable" => "console.approvals.user_disable",
                _ => "console.approvals.user_enable",
            };
            html! {
                (lang.f(key, &[("name", &name)]))
                @if kind == "user_roles" {
                    br; (payload["roles"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).filter_map(|x| raffle_core::Role::parse(x).ok()).map(|x| lang.t(super::users::role_key(x))).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                }
            }
        }
        // The winner's identity only to those who may approve the payment.
        "supervised_claim" => html! {
            (lang.t("console.approvals.supervised")) " · " (raffle) " · " (draw) br;
            (lang.f("console.approvals.sale", &[("sale", &text("sale"))])) br;
            @if r.is_some_and(|r| viewer.iter().any(|v| r.config.approvers.contains(v))) {
                (lang.f("console.approvals.identity", &[("name", payload["identity"]["name"].as_str().unwrap_or_default()), ("document", payload["identity"]["document"].as_str().unwrap_or_default())]))
            }
            @if payload["paperwork"].as_bool() == Some(true) { br; (lang.t("console.claims.paperwork")) }
        },
        other => html! { (other) },
    }
}

async fn approvals_page(
    state: &AppState,
    c: &Console,
    status: StatusCode,
    problem: Option<Markup>,
    d: &Done,
) -> Response {
    let lang = c.lang;
    let pending = match state.store.pending_approvals().await {
        Ok(p) => p,
        Err(e) => return c.refused_page(e.into(), "/console/approvals"),
    };
    let content = html! {
        h1 { (lang.t("console.approvals.title")) }
        (d.notice(lang))
        @if let Some(p) = problem { (p) }
        @if pending.is_empty() { p { (lang.t("console.approvals.none")) } }
        ul.cards {
            @for a in &pending {
                li.card {
                    p { (describe(state, lang, &c.staff.user.roles, &a.kind, &a.payload)) }
                    p.note { (lang.f("console.approvals.by", &[("name", &a.requester), ("time", &lang.time(a.created_at, "UTC"))])) }
                    @if a.requested_by == c.staff.user.id {
                        p.note { (lang.t("console.approvals.own")) }
                    } @else {
                        form.inline method="post" action=(c.href(&format!("/console/approvals/{}", a.id))) {
                            (c.csrf_field())
                            button type="submit" name="decision" value="approve" { (lang.t("console.approvals.approve")) }
                            " "
                            button.secondary type="submit" name="decision" value="reject" { (lang.t("console.approvals.reject")) }
                        }
                    }
                }
            }
        }
    };
    c.page(
        status,
        lang.t("console.approvals.title"),
        "/console/approvals",
        content,
    )
}

/// `GET /console/approvals`: the requests waiting for a second person.
pub async fn approvals(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    d: Query<Done>,
) -> Response {
    approvals_page(&state, &c, StatusCode::OK, None, &d).await
}

#[derive(serde::Deserialize)]
pub struct DecisionForm {
    decision: Option<String>,
}

/// `POST /console/approvals/{id}`: approve (the change is sequenced) or reject.
pub async fn decide(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<ApprovalId>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let none = Done { done: None };
    let approve = match f.decision.as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            let e = AppError::bad_request("decision must be approve or reject");
            return approvals_page(&state, &c, e.status, Some(c.refusal(&e)), &none).await;
        }
    };
    match operations::decide_approval(&state, &c.staff, &id, approve).await {
        Ok(Decided::Approved(_)) => done(c.lang, "/console/approvals", "approved"),
        Ok(Decided::Rejected) => done(c.lang, "/console/approvals", "rejected"),
        Ok(Decided::Recorded(_)) => done(c.lang, "/console/approvals", "approved"),
        // A new or reset user's one-time code: shown to this approver, once.
        Ok(Decided::People(v)) => {
            let notice = super::users::enrolment_notice(&c, &v);
            approvals_page(&state, &c, StatusCode::OK, Some(notice), &none).await
        }
        Err(e) => approvals_page(&state, &c, e.status, Some(c.refusal(&e)), &none).await,
    }
}
