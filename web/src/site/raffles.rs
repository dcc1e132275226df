//! The raffle list and the raffle page (GLI-31 2.5: the jackpot shown is an
//! estimate, marked as such, updated live; 2.6.5: results once drawn).

use super::{LangQuery, href, lang, layout};
use crate::AppState;
use crate::i18n::Lang;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::entry::Prize;
use raffle_core::ledger::{RaffleState, Status};
use raffle_core::store::people::JurisdictionTexts;
use serde_json::{Value, json};

pub(crate) fn status_text(lang: Lang, s: Status) -> &'static str {
    match s {
        Status::Draft => lang.t("raffles.status.draft"),
        Status::Open => lang.t("raffles.status.open"),
        Status::Closed => lang.t("raffles.status.closed"),
    }
}

/// `GET /`: the raffles, newest first.
pub async fn list(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    let content = {
        let ledger = state.sequencer.ledger();
        let mut raffles: Vec<&RaffleState> = ledger
            .raffles()
            .filter(|r| r.status != Status::Draft)
            .collect();
        raffles.sort_by_key(|r| std::cmp::Reverse(r.config.sales_start));
        html! {
            h1 { (lang.t("raffles.title")) }
            @if raffles.is_empty() {
                p { (lang.t("raffles.none")) }
            }
            ul.cards {
                @for r in &raffles {
                    li.card {
                        h2 { a href=(href(lang, &format!("/raffles/{}", r.id))) { (r.config.name) } }
                        p { (lang.f("raffles.by", &[("organisation", &r.config.organisation)])) }
                        p { span.status { (status_text(lang, r.status)) } }
                        p { (lang.t("raffle.jackpot.label")) " " strong { (lang.money(r.jackpot())) } }
                    }
                }
            }
        }
    };
    layout(lang, StatusCode::OK, lang.t("raffles.title"), "/", content)
}

/// `GET /raffles/{id}`.
fn page_of(
    state: &AppState,
    lang: Lang,
    id: &str,
    headers: &HeaderMap,
    texts: Option<&JurisdictionTexts>,
) -> Response {
    let path = format!("/raffles/{id}");
    let ledger = state.sequencer.ledger();
    let Some(r) = ledger.raffle(id).filter(|r| r.status != Status::Draft) else {
        let content = html! { h1 { (lang.t("raffle.notfound")) } };
        return layout(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("raffle.notfound"),
            &path,
            content,
        );
    };
    let (token, set_cookie) = super::csrf::token(headers);
    let content = html! {
        (raffle(lang, r, texts))
        @if r.status == Status::Open {
            section aria-labelledby="buy-title" {
                h2 #buy-title { (lang.t("buy.title")) }
                (super::buy::form(lang, r, &token, &state.payments))
            }
        }
    };
    super::with_cookie(
        layout(lang, StatusCode::OK, &r.config.name.clone(), &path, content),
        set_cookie,
    )
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    let texts = super::jurisdiction_texts(&state, &id).await;
    page_of(&state, lang, &id, &headers, texts.as_ref())
}

/// The jurisdiction's prize-estimate notice in the page's language.
fn estimate_notice(lang: Lang, t: &JurisdictionTexts) -> &str {
    match lang {
        Lang::En => &t.estimate_notice_en,
        Lang::FrCa => &t.estimate_notice_fr,
    }
}

fn raffle(lang: Lang, r: &RaffleState, texts: Option<&JurisdictionTexts>) -> Markup {
    let c = &r.config;
    let zone = c.time_zone.as_str();
    let main = c.draws.last();
    let open = r.status == Status::Open;
    let main_frozen = main
        .and_then(|d| r.draws.get(&d.id))
        .and_then(|s| s.frozen.as_ref());
    html! {
        h1 { (c.name) }
        p {
            (lang.f("raffles.by", &[("organisation", &c.organisation)]))
            @if let Some(licence) = &c.licence { " · " (lang.f("raffle.licence", &[("licence", licence)])) }
            " · " (lang.f("raffle.jurisdiction", &[("jurisdiction", &c.jurisdiction)]))
        }
        p { span.status { (status_text(lang, r.status)) } }

        section aria-labelledby="jackpot-title" {
            h2 #jackpot-title { (lang.t("raffle.jackpot")) }
            @match main_frozen {
                Some(f) => { p.jackpot { (lang.money(f.prize)) } }
                None => {
                    @if open {
                        p.jackpot aria-live="polite" data-jackpot-url=(href(lang, &format!("/raffles/{}/jackpot", r.id))) { (lang.money(r.jackpot())) }
                    } @else {
                        p.jackpot { (lang.money(r.jackpot())) }
                    }
                    @if let Some(Prize::Share { share_bps, .. }) = main.map(|d| &d.prize) {
                        p.note { (lang.f("raffle.jackpot.estimate", &[("share", &lang.share(*share_bps))])) }
                    }
                    @if let Some(t) = texts { p.note #estimate-notice { (estimate_notice(lang, t)) } }
                    @if open { p.note { (lang.t("raffle.jackpot.live")) } }
                }
            }
            p { (lang.plural("raffle.numbers.sold", r.sold_numbers(), &[])) }
            @if open {
                p { (lang.f("raffle.closes", &[("time", &lang.time(c.sales_end, zone))])) }
                p { (lang.t("raffle.countdown")) " " span data-closes-at=(c.sales_end.to_string()) data-day-unit=(lang.t("raffle.countdown.days")) { "—" } }
            } @else {
                p { (lang.t("raffle.closed")) }
            }
        }

        section aria-labelledby="packages-title" {
            h2 #packages-title { (lang.t("raffle.packages")) }
            ul {
                @for p in &c.packages {
                    li {
                        (lang.plural("raffle.package", u64::from(p.tickets), &[("price", &lang.money(p.price))]))
                    }
                }
            }
        }

        section aria-labelledby="draws-title" {
            h2 #draws-title { (lang.t("raffle.draws")) }
            ul {
                @for d in &c.draws {
                    @let s = r.draws.get(&d.id);
                    li {
                        strong { (d.name) }
                        br;
                        (lang.f("raffle.draw.cutoff", &[("time", &lang.time(d.cutoff, zone))])) br;
                        (lang.f("raffle.draw.at", &[("time", &lang.time(d.draw_at, zone))])) br;
                        @match &d.prize {
                            Prize::Fixed { amount } => { (lang.f("raffle.draw.prize.fixed", &[("amount", &lang.money(*amount))])) }
                            Prize::Share { share_bps, cap } => {
                                (lang.f("raffle.draw.prize.share", &[("share", &lang.share(*share_bps))]))
                                @if let Some(cap) = cap { ", " (lang.f("raffle.draw.prize.cap", &[("amount", &lang.money(*cap))])) }
                            }
                        }
                        br;
                        // GLI-31 2.6.5: the result on every participant display.
                        @match s.and_then(|s| s.winner.as_ref()) {
                            Some(w) => {
                                strong { (lang.f("raffle.draw.winner", &[("number", &w.number.to_string())])) }
                                " · "
                                @if s.is_some_and(|s| s.claimed) { (lang.t("raffle.draw.claimed")) } @else { (lang.t("raffle.draw.unclaimed")) }
                            }
                            None => { (lang.t("raffle.draw.pending")) }
                        }
                    }
                }
            }
        }

        section aria-labelledby="rules-title" {
            h2 #rules-title { (lang.t("raffle.rules")) }
            ul {
                li { (lang.f("raffle.rules.age", &[("age", &c.buyers.minimum_age.to_string())])) }
                li { (lang.f("raffle.rules.regions", &[("regions", &c.buyers.regions.join(", "))])) }
                li { (lang.f("raffle.rules.window", &[("start", &lang.time(c.sales_start, zone)), ("end", &lang.time(c.sales_end, zone))])) }
                li { (lang.plural("raffle.rules.claims", u64::from(c.claims.window_days), &[])) }
            }
            @if let Some(t) = texts { p #help-line { (lang.f("raffle.help_line", &[("line", &t.help_line)])) } }
        }
    }
}

/// `GET /raffles/{id}/jackpot`: the live estimate, formatted for the page.
pub async fn jackpot(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let lang = lang(&q, &headers);
    let ledger = state.sequencer.ledger();
    let r = ledger
        .raffle(&id)
        .filter(|r| r.status != Status::Draft)
        .ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(json!({
        "text": lang.money(r.jackpot()),
        "minor": r.jackpot().minor.to_string(),
        "open": r.status == Status::Open,
    })))
}
