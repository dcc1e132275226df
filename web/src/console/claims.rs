//! Claims in the console (GLI-31 2.7.1): a winning ticket is validated
//! against the system by its validation number before payout, typed or
//! scanned (a barcode or QR scanner types into the field and presses
//! Enter); prizes over the raffle's threshold need the paperwork first.

use super::Console;
use crate::AppState;
use crate::app::operations;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

fn page(c: &Console, status: StatusCode, outcome: Option<Markup>) -> Response {
    let lang = c.lang;
    let content = html! {
        h1 { (lang.t("console.claims.title")) }
        @if let Some(o) = outcome { (o) }
        form method="post" action=(c.href("/console/claims")) {
            (c.csrf_field())
            p {
                label for="validation_number" { (lang.t("console.claims.number")) } br;
                input #validation_number name="validation_number" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required autofocus aria-describedby="vn-help";
                br; span #vn-help .note { (lang.t("console.claims.scan")) }
            }
            p {
                label {
                    input type="checkbox" name="paperwork_completed" value="yes";
                    " " (lang.t("console.claims.paperwork"))
                }
            }
            p { button type="submit" { (lang.t("console.claims.submit")) } }
        }
        // GLI-31 2.7.1, 5.2.4: a ticket whose number an earlier claim
        // published is paid only with the winner's identity checked and a
        // second person approving.
        details {
            summary { (lang.t("console.claims.supervised")) }
            p.note { (lang.t("console.claims.supervised.why")) }
            form method="post" action=(c.href("/console/claims/supervised")) {
                (c.csrf_field())
                p {
                    label for="s_validation_number" { (lang.t("console.claims.number")) } br;
                    input #s_validation_number name="validation_number" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required;
                }
                p {
                    label for="s_name" { (lang.t("console.claims.name")) } br;
                    input #s_name name="name" type="text" autocomplete="off" maxlength="200" required;
                }
                p {
                    label for="s_document" { (lang.t("console.claims.document")) } br;
                    input #s_document name="document" type="text" autocomplete="off" maxlength="200" required;
                }
                p {
                    label {
                        input type="checkbox" name="paperwork_completed" value="yes";
                        " " (lang.t("console.claims.paperwork"))
                    }
                }
                p { button type="submit" { (lang.t("console.claims.supervised.submit")) } }
            }
        }
    };
    c.page(
        status,
        lang.t("console.claims.title"),
        "/console/claims",
        content,
    )
}

/// `GET /console/claims`.
pub async fn show(Extension(c): Extension<Console>) -> Response {
    page(&c, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
pub struct ClaimForm {
    validation_number: Option<String>,
    paperwork_completed: Option<String>,
}

/// `POST /console/claims`: validates the ticket and pays its prize
/// (`claim.paid`); the answer says what was paid, or why not.
pub async fn pay(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Form(f): Form<ClaimForm>,
) -> Response {
    let lang = c.lang;
    let result = operations::pay_claim(
        &state,
        &c.staff,
        f.validation_number.as_deref().unwrap_or(""),
        f.paperwork_completed.is_some(),
    )
    .await;
    match result {
        Ok(paid) => {
            let (raffle, draw, zone) = {
                let ledger = state.sequencer.ledger();
                let r = ledger.raffle(&paid.raffle);
                (
                    r.map(|r| r.config.name.clone()).unwrap_or_default(),
                    r.and_then(|r| r.draw_config(&paid.draw).ok())
                        .map(|d| d.name.clone())
                        .unwrap_or_default(),
                    r.map(|r| r.config.time_zone.clone()).unwrap_or_default(),
                )
            };
            let number = match &paid.sequenced.entry.body {
                raffle_core::entry::Body::ClaimPaid(p) => p.number.0,
                _ => 0,
            };
            let outcome = html! {
                div.done role="status" {
                    p { strong { (lang.f("console.claims.paid", &[("prize", &lang.money(paid.prize))])) } }
                    p { (raffle) " · " (draw) " · " (lang.f("raffle.draw.winner", &[("number", &number.to_string())])) }
                    p { (lang.f("console.claims.logged", &[("index", &paid.sequenced.index.to_string()), ("time", &lang.time(paid.sequenced.entry.time, &zone))])) }
                }
            };
            page(&c, StatusCode::OK, Some(outcome))
        }
        Err(e) => page(&c, e.status, Some(c.refusal(&e))),
    }
}

#[derive(serde::Deserialize)]
pub struct SupervisedForm {
    validation_number: Option<String>,
    name: Option<String>,
    document: Option<String>,
    paperwork_completed: Option<String>,
}

/// `POST /console/claims/supervised`: records the winner's identity and
/// asks a second person to approve the payment.
pub async fn request_supervised(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Form(f): Form<SupervisedForm>,
) -> Response {
    let lang = c.lang;
    let identity = operations::Identity {
        name: f.name.unwrap_or_default(),
        document: f.document.unwrap_or_default(),
    };
    let result = operations::request_supervised_claim(
        &state,
        &c.staff,
        f.validation_number.as_deref().unwrap_or(""),
        identity,
        f.paperwork_completed.is_some(),
    )
    .await;
    match result {
        Ok(_) => {
            let outcome = html! {
                div.done role="status" { p { (lang.t("console.claims.supervised.requested")) } }
            };
            page(&c, StatusCode::ACCEPTED, Some(outcome))
        }
        Err(e) => page(&c, e.status, Some(c.refusal(&e))),
    }
}
