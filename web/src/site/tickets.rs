//! The ticket check (GLI-31 2.7.1): a validation number, typed in, gives
//! the ticket's status (valid, voided, winner, claimed), its inclusion
//! proof in the public log and the exact `raffle-audit ticket` command that
//! verifies it offline. The validation number travels only in the form's
//! body (POST, CSRF-protected), never in a URL, and is never logged.

use super::{LangQuery, csrf, href, lang, layout, no_store};
use crate::AppState;
use crate::i18n::Lang;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use raffle_core::validation::ValidationNumber;

fn form(lang: Lang, token: &str, message: Option<&str>) -> Markup {
    html! {
        h1 { (lang.t("check.title")) }
        p { (lang.t("check.intro")) }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action=(href(lang, "/tickets/check")) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            p {
                label for="validation_number" { (lang.t("check.label")) }
                br;
                input #validation_number name="validation_number" type="text" required
                    autocomplete="off" autocapitalize="characters" spellcheck="false"
                    inputmode="text" aria-describedby="vn-hint" maxlength="64";
                br;
                span #vn-hint .note { (lang.t("check.hint")) }
            }
            p { button type="submit" { (lang.t("check.submit")) } }
        }
    }
}

fn respond(
    lang: Lang,
    status: StatusCode,
    content: Markup,
    set_cookie: Option<axum::http::HeaderValue>,
) -> Response {
    // The result names a ticket: not for shared caches.
    no_store(
        layout(
            lang,
            status,
            lang.t("check.title"),
            "/tickets/check",
            content,
        ),
        set_cookie,
    )
}

/// `GET /tickets/check`.
pub async fn show(q: Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = lang(&q, &headers);
    let (token, set) = csrf::token(&headers);
    respond(lang, StatusCode::OK, form(lang, &token, None), set)
}

#[derive(serde::Deserialize)]
pub struct CheckForm {
    csrf: Option<String>,
    validation_number: Option<String>,
}

/// `POST /tickets/check`.
pub async fn check(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<CheckForm>,
) -> Response {
    let lang = lang(&q, &headers);
    let (token, set) = csrf::token(&headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        let content = form(lang, &token, Some(lang.t("check.expired")));
        return respond(lang, StatusCode::FORBIDDEN, content, set);
    }
    let text = f.validation_number.unwrap_or_default();
    let vn = match ValidationNumber::parse(text.trim()) {
        Ok(vn) => vn,
        Err(e) => {
            let message = lang.f("check.invalid", &[("reason", &e.to_string())]);
            let content = form(lang, &token, Some(&message));
            return respond(lang, StatusCode::UNPROCESSABLE_ENTITY, content, set);
        }
    };
    let found = match crate::app::receipt::ticket_status(&state, &vn).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let Some(t) = found else {
        let content = form(lang, &token, Some(lang.t("check.unknown")));
        return respond(lang, StatusCode::NOT_FOUND, content, set);
    };
    let status = match t.status {
        "voided" => lang.t("check.status.voided"),
        "winner" => lang.t("check.status.winner"),
        "claimed" => lang.t("check.status.claimed"),
        _ => lang.t("check.status.valid"),
    };
    let receipt_url = format!("/sales/{}/receipt.tlog-proof", t.sale);
    let log_url = super::log_url(&headers);
    let content = html! {
        h1 { (lang.t("check.title")) }
        h2 { (lang.t("check.status")) }
        p.jackpot { (status) }
        p { (lang.f("check.raffle", &[("name", &t.raffle_name)])) }
        p { (lang.f("check.numbers", &[("first", &t.first.to_string()), ("last", &(t.first + t.count - 1).to_string())])) }
        @for (draw, number, _) in &t.wins {
            p { strong { (lang.f("check.won", &[("draw", draw), ("number", &number.to_string())])) } }
        }
        h2 { (lang.t("check.proof")) }
        p { (lang.f("check.proof.index", &[("index", &t.proof.index.to_string())])) }
        p { a href=(receipt_url) download { (lang.t("check.download")) } }
        pre { code { (String::from_utf8_lossy(&t.proof.to_bytes())) } }
        p { (lang.t("check.verify")) }
        pre { code { "raffle-audit ticket receipt.tlog-proof --vkey '" (state.vkey) "' --source " (log_url) } }
        p { a href=(href(lang, "/tickets/check")) { (lang.t("check.title")) } }
    };
    respond(lang, StatusCode::OK, content, set)
}

/// `GET /sales/{id}/receipt.tlog-proof`: the receipt file (no validation
/// number in it), for `raffle-audit ticket`.
pub async fn receipt_file(State(state): State<AppState>, Path(sale): Path<String>) -> Response {
    if raffle_core::ids::check_uuid("sale id", &sale).is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match crate::app::receipt::proof_for_sale(&state, &sale).await {
        Ok((_, proof)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"receipt.tlog-proof\"",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            proof.to_bytes(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
