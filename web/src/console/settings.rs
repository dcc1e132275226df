//! Jurisdiction texts (administrators): the responsible-gambling help line
//! and the prize-estimate notice of each jurisdiction, in both languages,
//! shown on the raffle pages and receipts of raffles in that jurisdiction.
//! Every change is a significant event with the old and new values.

use super::{Console, Done, done};
use crate::AppState;
use crate::app::operations;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::store::people::JurisdictionTexts;

fn texts_form(c: &Console, id: &str, t: &JurisdictionTexts, fixed_code: bool) -> Markup {
    let lang = c.lang;
    html! {
        form method="post" action=(c.href("/console/settings")) {
            (c.csrf_field())
            @if fixed_code {
                input type="hidden" name="jurisdiction" value=(t.jurisdiction);
                h3 { (t.jurisdiction) }
            } @else {
                p { label for=(format!("{id}-code")) { (lang.t("console.f.jurisdiction")) } br;
                    input id=(format!("{id}-code")) name="jurisdiction" type="text" size="8" required; }
            }
            p { label for=(format!("{id}-help")) { (lang.t("console.settings.help_line")) } br;
                input id=(format!("{id}-help")) name="help_line" type="text" value=(t.help_line) required; }
            p { label for=(format!("{id}-en")) { (lang.t("console.settings.notice_en")) } br;
                textarea id=(format!("{id}-en")) name="estimate_notice_en" rows="2" required { (t.estimate_notice_en) } }
            p { label for=(format!("{id}-fr")) { (lang.t("console.settings.notice_fr")) } br;
                textarea id=(format!("{id}-fr")) name="estimate_notice_fr" rows="2" required { (t.estimate_notice_fr) } }
            p { button type="submit" { (lang.t("console.form.save")) } }
        }
    }
}

async fn page(state: &AppState, c: &Console, status: StatusCode, notice: Markup) -> Response {
    let lang = c.lang;
    let all = match state.store.all_jurisdiction_texts().await {
        Ok(a) => a,
        Err(e) => return c.refused_page(e.into(), "/console/settings"),
    };
    let content = html! {
        h1 { (lang.t("console.settings.title")) }
        (notice)
        p { (lang.t("console.settings.intro")) }
        @for (i, t) in all.iter().enumerate() {
            (texts_form(c, &format!("j{i}"), t, true))
        }
        h2 { (lang.t("console.settings.new")) }
        (texts_form(c, "new", &JurisdictionTexts::default(), false))
    };
    c.page(
        status,
        lang.t("console.settings.title"),
        "/console/settings",
        content,
    )
}

/// `GET /console/settings`.
pub async fn show(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    d: Query<Done>,
) -> Response {
    page(&state, &c, StatusCode::OK, d.notice(c.lang)).await
}

#[derive(serde::Deserialize)]
pub struct TextsForm {
    jurisdiction: Option<String>,
    help_line: Option<String>,
    estimate_notice_en: Option<String>,
    estimate_notice_fr: Option<String>,
}

/// `POST /console/settings`: one jurisdiction's texts.
pub async fn save(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Form(f): Form<TextsForm>,
) -> Response {
    let text = |v: Option<String>| v.unwrap_or_default().trim().to_string();
    let texts = JurisdictionTexts {
        jurisdiction: text(f.jurisdiction).to_ascii_uppercase(),
        help_line: text(f.help_line),
        estimate_notice_en: text(f.estimate_notice_en),
        estimate_notice_fr: text(f.estimate_notice_fr),
    };
    match operations::set_jurisdiction_texts(&state, &c.staff, texts).await {
        Ok(()) => done(c.lang, "/console/settings", "saved"),
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, refusal).await
        }
    }
}
