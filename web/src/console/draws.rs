//! A draw in the console: the reconciliation acknowledgement with the
//! figures it acknowledges (GLI-31 2.6.1, 2.6.3), and the draw screen for
//! a public ceremony: freeze, the witness's contribution when one is
//! configured, the draw, each winning number with its call time, and the
//! `raffle-audit draw` command that replays it.

use super::PageIds;
use super::{Console, Done, done};
use crate::AppState;
use crate::app::operations;
use crate::routes::roles::{FINANCE, MANAGER};
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::entry::{Body, RedrawReason};
use raffle_core::ids::{DrawId, RaffleId};

/// `GET .../draws/{draw_id}/reconciliation`: the figures, per channel, and
/// the acknowledgement form (finance; a second person approves it).
pub async fn reconciliation(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    d: Query<Done>,
) -> Response {
    reconciliation_page(&state, &c, &id, &draw, StatusCode::OK, None, &d).await
}

async fn reconciliation_page(
    state: &AppState,
    c: &Console,
    id: &RaffleId,
    draw: &DrawId,
    status: StatusCode,
    problem: Option<Markup>,
    d: &Done,
) -> Response {
    let lang = c.lang;
    let path = format!("/console/raffles/{id}/draws/{draw}/reconciliation");
    let rec = match operations::reconciliation(state, id, draw) {
        Ok(r) => r,
        Err(e) => return c.refused_page(e, &path),
    };
    let (name, draw_name, zone) = {
        let ledger = state.sequencer.ledger();
        let r = ledger.raffle(id).expect("reconciled above");
        let dn = r
            .draw_config(draw)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        (r.config.name.clone(), dn, r.config.time_zone.clone())
    };
    let card = match crate::app::stripe::reconcile::for_raffle(state, id).await {
        Ok(card) => card,
        Err(e) => return c.refused_page(e, &path),
    };
    let units = match crate::app::rsu::raffle_units(state, id).await {
        Ok(u) => u,
        Err(e) => return c.refused_page(e, &path),
    };
    let f = &rec.figures;
    let content = html! {
        h1 { (lang.t("console.reconciliation.title")) }
        p { a href=(c.href(&format!("/console/raffles/{id}"))) { (name) } " · " (draw_name) }
        (d.notice(lang))
        @if let Some(p) = problem { (p) }
        p { (lang.f("console.reconciliation.cutoff", &[("time", &lang.time(rec.cutoff, &zone))])) }
        dl.receipt {
            dt { (lang.t("console.reconciliation.sales")) } dd #rec-sales { (lang.count(f.sales)) }
            dt { (lang.t("console.raffle.gross")) } dd #rec-gross { (lang.money(f.gross)) }
            dt { (lang.t("console.reconciliation.voids")) } dd #rec-voids { (lang.count(f.voids)) }
            dt { (lang.t("console.reconciliation.voided")) } dd { (lang.money(f.voided)) }
            dt { (lang.t("console.reconciliation.refunded")) } dd { (lang.money(f.refunded)) }
            dt { (lang.t("console.raffle.net")) } dd #rec-net { (lang.money(rec.net)) }
        }
        h2 { (lang.t("console.reconciliation.channels")) }
        div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
            table {
                thead { tr {
                    th scope="col" { (lang.t("console.reconciliation.channel")) }
                    th scope="col" { (lang.t("console.reconciliation.sales")) }
                    th scope="col" { (lang.t("console.raffle.gross")) }
                    th scope="col" { (lang.t("console.reconciliation.voids")) }
                } }
                tbody {
                    @for ch in &rec.channels {
                        tr {
                            td { @if ch.channel == "online" { (lang.t("console.reconciliation.online")) } @else { (ch.channel) } }
                            td { (lang.count(ch.sales)) }
                            td { (lang.money(ch.gross)) }
                            td { (lang.count(ch.voids)) }
                        }
                    }
                }
            }
        }
        (super::units::section(c, &units, id, draw, rec.reconciled))
        @if let Some(card) = &card {
            (super::card::section(c, card, rec.cutoff, &zone, &format!("{path}/fetch")))
        }
        @if rec.reconciled {
            p.done role="status" { (lang.t("console.reconciliation.done")) }
        } @else if c.may(FINANCE) {
            form method="post" action=(c.href(&path)) {
                (c.csrf_field())
                p {
                    label {
                        input type="checkbox" name="confirm" value="yes" required;
                        " " (lang.t("console.reconciliation.confirm"))
                    }
                }
                @if card.is_some() {
                    p {
                        label for="reason" { (lang.t("console.reconciliation.reason")) }
                        br;
                        textarea #reason name="reason" rows="3" cols="60"
                            maxlength=(operations::MAX_REASON_CHARS) {}
                    }
                }
                p.note { (lang.t("console.reconciliation.second")) }
                button type="submit" { (lang.t("console.reconciliation.submit")) }
            }
        }
    };
    c.page(
        status,
        lang.t("console.reconciliation.title"),
        &path,
        content,
    )
}

#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    confirm: Option<String>,
    reason: Option<String>,
}

/// `POST .../draws/{draw_id}/reconciliation`: asks for the acknowledgement.
pub async fn acknowledge(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let path = format!("/console/raffles/{id}/draws/{draw}/reconciliation");
    let none = Done { done: None };
    if f.confirm.as_deref() != Some("yes") {
        let problem =
            html! { p.error role="alert" { (c.lang.t("console.reconciliation.unconfirmed")) } };
        return reconciliation_page(
            &state,
            &c,
            &id,
            &draw,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(problem),
            &none,
        )
        .await;
    }
    match operations::request_reconciliation(&state, &c.staff, &id, &draw, f.reason.as_deref())
        .await
    {
        Ok(_) => done(c.lang, &path, "requested"),
        Err(e) => {
            reconciliation_page(&state, &c, &id, &draw, e.status, Some(c.refusal(&e)), &none).await
        }
    }
}

/// One performance of a draw, as the log has it.
struct Call {
    index: u64,
    time: raffle_core::Timestamp,
    number: u64,
    raw: usize,
    redraw: Option<RedrawReason>,
}

/// `GET .../draws/{draw_id}`: the draw screen.
pub async fn ceremony(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    headers: HeaderMap,
    d: Query<Done>,
) -> Response {
    ceremony_page(&state, &c, &id, &draw, &headers, StatusCode::OK, None, &d).await
}

#[allow(clippy::too_many_arguments)]
async fn ceremony_page(
    state: &AppState,
    c: &Console,
    id: &str,
    draw: &str,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<Markup>,
    d: &Done,
) -> Response {
    let lang = c.lang;
    let path = format!("/console/raffles/{id}/draws/{draw}");
    // The performances and their call times come from the log's entries.
    let entries = match state.store.raffle_entries(id).await {
        Ok(e) => e,
        Err(e) => return c.refused_page(e.into(), &path),
    };
    let calls: Vec<Call> = entries
        .iter()
        .filter_map(|(index, e)| match &e.body {
            Body::DrawPerformed(p) if p.draw == draw => Some(Call {
                index: *index,
                time: e.time,
                number: p.winner.0,
                raw: p.raw.len(),
                redraw: p.redraw.as_ref().map(|r| r.reason),
            }),
            _ => None,
        })
        .collect();
    let contribution = match state.store.contribution(id, draw).await {
        Ok(found) => found,
        Err(e) => return c.refused_page(e.into(), &path),
    };
    let witnessed = !state.config.witness_keys.is_empty();
    let offline_witness = witnessed && state.witnesses.is_empty();
    let message = if offline_witness {
        crate::app::witness::frozen_entry(state, id, draw)
            .await
            .ok()
            .map(|(_, _, m)| String::from_utf8_lossy(&m).into_owned())
    } else {
        None
    };
    let log_url = crate::site::log_url(headers);
    let ledger = state.sequencer.ledger();
    let Some(r) = ledger.raffle(id) else {
        return c.refused_page(crate::error::AppError::not_found("no such raffle"), &path);
    };
    let Ok(dc) = r.draw_config(draw) else {
        return c.refused_page(crate::error::AppError::not_found("no such draw"), &path);
    };
    let zone = r.config.time_zone.as_str();
    let s = r.draws.get(draw);
    let now = raffle_core::Timestamp::now();
    let manager = c.may(MANAGER);
    let action = |what: &str| c.href(&format!("{path}/{what}"));
    let content = html! {
        h1 { (r.config.name) " · " (dc.name) }
        (d.notice(lang))
        @if let Some(p) = problem { (p) }
        p { (lang.f("raffle.draw.at", &[("time", &lang.time(dc.draw_at, zone))])) }
        ol.steps {
            li {
                strong { (lang.t("console.ceremony.cutoff")) } " "
                (lang.time(dc.cutoff, zone)) " · "
                @if dc.cutoff <= now { (lang.t("console.ceremony.passed")) } @else { (lang.t("console.ceremony.not_yet")) }
            }
            li {
                strong { (lang.t("console.ceremony.reconciled")) } " "
                @if s.is_some_and(|s| s.reconciled) { (lang.t("console.ceremony.yes")) }
                @else {
                    (lang.t("console.ceremony.no")) " · "
                    a href=(c.href(&format!("{path}/reconciliation"))) { (lang.t("console.reconciliation.title")) }
                }
            }
            li {
                strong { (lang.t("console.ceremony.freeze")) }
                @match s.and_then(|s| s.frozen.as_ref()) {
                    Some(f) => {
                        dl.receipt {
                            dt { (lang.t("console.ceremony.eligible")) } dd #eligible { (lang.count(f.n)) }
                            dt { (lang.t("console.ceremony.eligible_sha256")) } dd { code { (hex::encode(f.eligible_sha256.0)) } }
                            dt { (lang.t("console.ceremony.commitment")) } dd { code { (hex::encode(f.seed_sha256.0)) } }
                            dt { (lang.t("console.ceremony.prize")) } dd #prize { (lang.money(f.prize)) }
                            dt { (lang.t("console.ceremony.leaf")) } dd { (f.index) }
                        }
                    }
                    None => {
                        @if manager && s.is_some_and(|s| s.reconciled) {
                            form method="post" action=(action("freeze")) {
                                (c.csrf_field())
                                button type="submit" { (lang.t("console.ceremony.freeze.submit")) }
                            }
                        } @else {
                            " " (lang.t("console.ceremony.not_yet"))
                        }
                    }
                }
            }
            li {
                strong { (lang.t("console.ceremony.witness")) } " "
                @if !witnessed {
                    (lang.t("console.ceremony.witness.none"))
                } @else if contribution.is_some() {
                    (lang.t("console.ceremony.witness.received"))
                } @else if !offline_witness {
                    (lang.t("console.ceremony.witness.online"))
                } @else {
                    (lang.t("console.ceremony.witness.offline"))
                    @if let Some(m) = &message {
                        pre { code { (m) } }
                        @if manager {
                            form method="post" action=(action("contribution")) {
                                (c.csrf_field())
                                p { label for="witness" { (lang.t("console.ceremony.witness.name")) } br;
                                    input #witness name="witness" type="text" required; }
                                p { label for="signature" { (lang.t("console.ceremony.witness.signature")) } br;
                                    input #signature name="signature" type="text" required; }
                                button type="submit" { (lang.t("console.ceremony.witness.submit")) }
                            }
                        }
                    }
                }
            }
            li {
                strong { (lang.t("console.ceremony.perform")) }
                @if calls.is_empty() {
                    @if manager && s.is_some_and(|s| s.frozen.is_some()) {
                        form method="post" action=(action("perform")) {
                            (c.csrf_field())
                            button type="submit" { (lang.t("console.ceremony.perform.submit")) }
                        }
                    } @else {
                        " " (lang.t("console.ceremony.not_yet"))
                    }
                }
            }
        }
        @if !calls.is_empty() {
            section aria-labelledby="calls-title" {
                h2 #calls-title { (lang.t("console.ceremony.calls")) }
                @if let Some(last) = calls.last() {
                    p.jackpot #winning-number { (last.number) }
                    p {
                        @if s.is_some_and(|s| s.claimed) { (lang.t("raffle.draw.claimed")) } @else { (lang.t("raffle.draw.unclaimed")) }
                    }
                }
                div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                    table {
                        thead { tr {
                            th scope="col" { (lang.t("console.ceremony.order")) }
                            th scope="col" { (lang.t("console.ceremony.number")) }
                            th scope="col" { (lang.t("console.ceremony.called")) }
                            th scope="col" { (lang.t("console.ceremony.raw")) }
                            th scope="col" { (lang.t("console.ceremony.reason")) }
                            th scope="col" { (lang.t("console.ceremony.leaf")) }
                        } }
                        tbody {
                            @for (i, call) in calls.iter().enumerate() {
                                tr {
                                    td { (i + 1) }
                                    td { strong { (call.number) } }
                                    td { (lang.time(call.time, zone)) }
                                    td { (call.raw) }
                                    td { @match call.redraw {
                                        None => { "—" }
                                        Some(RedrawReason::Unclaimed) => { (lang.t("console.redraw.unclaimed")) }
                                        Some(RedrawReason::WinnerIneligible) => { (lang.t("console.redraw.ineligible")) }
                                    } }
                                    td { (call.index) }
                                }
                            }
                        }
                    }
                }
                @if manager && s.is_some_and(|s| !s.claimed) {
                    form method="post" action=(action("redraw")) {
                        (c.csrf_field())
                        p {
                            label for="reason" { (lang.t("console.redraw.reason")) } br;
                            select #reason name="reason" {
                                option value="winner_ineligible" { (lang.t("console.redraw.ineligible")) }
                                option value="unclaimed" { (lang.t("console.redraw.unclaimed")) }
                            }
                        }
                        p.note { (lang.t("console.redraw.note")) }
                        button type="submit" { (lang.t("console.redraw.submit")) }
                    }
                }
            }
        }
        h2 { (lang.t("console.ceremony.replay")) }
        p { (lang.t("console.ceremony.replay.note")) }
        pre { code #replay { "raffle-audit draw " (log_url) " --raffle " (id) " --vkey '" (state.vkey) "'" } }
    };
    c.page(status, &dc.name.clone(), &path, content)
}

/// A draw action's outcome: back to the draw screen, with the confirmation
/// or the refusal.
async fn after(
    state: &AppState,
    c: &Console,
    id: &str,
    draw: &str,
    headers: &HeaderMap,
    result: Result<&'static str, crate::error::AppError>,
) -> Response {
    match result {
        Ok(what) => done(c.lang, &format!("/console/raffles/{id}/draws/{draw}"), what),
        Err(e) => {
            let none = Done { done: None };
            ceremony_page(
                state,
                c,
                id,
                draw,
                headers,
                e.status,
                Some(c.refusal(&e)),
                &none,
            )
            .await
        }
    }
}

/// `POST .../freeze`: `draw.frozen` (eligible set and seed commitment).
pub async fn freeze(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    headers: HeaderMap,
) -> Response {
    let r = operations::freeze_draw(&state, &c.staff, &id, &draw)
        .await
        .map(|_| "frozen");
    after(&state, &c, &id, &draw, &headers, r).await
}

#[derive(serde::Deserialize)]
pub struct ContributionForm {
    witness: Option<String>,
    signature: Option<String>,
}

/// `POST .../contribution`: an offline witness's signature, typed in.
pub async fn contribution(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    headers: HeaderMap,
    Form(f): Form<ContributionForm>,
) -> Response {
    let r = operations::contribute(
        &state,
        &c.staff,
        &id,
        &draw,
        f.witness.as_deref().unwrap_or("").trim(),
        f.signature.as_deref().unwrap_or(""),
    )
    .await
    .map(|_| "contributed");
    after(&state, &c, &id, &draw, &headers, r).await
}

/// `POST .../perform`: `draw.performed`.
pub async fn perform(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    headers: HeaderMap,
) -> Response {
    let r = operations::perform_draw(&state, &c.staff, &id, &draw)
        .await
        .map(|_| "performed");
    after(&state, &c, &id, &draw, &headers, r).await
}

#[derive(serde::Deserialize)]
pub struct RedrawForm {
    reason: Option<String>,
}

/// `POST .../redraw`: asks for a redraw (GLI-31 2.6.4; a second person approves).
pub async fn redraw(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, draw)): PageIds<(RaffleId, DrawId)>,
    headers: HeaderMap,
    Form(f): Form<RedrawForm>,
) -> Response {
    let reason = match f.reason.as_deref() {
        Some("unclaimed") => Ok(RedrawReason::Unclaimed),
        Some("winner_ineligible") => Ok(RedrawReason::WinnerIneligible),
        _ => Err(crate::error::AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose a reason from the list",
        )),
    };
    let r = match reason {
        Ok(reason) => operations::request_redraw(&state, &c.staff, &id, &draw, reason)
            .await
            .map(|_| "requested"),
        Err(e) => Err(e),
    };
    after(&state, &c, &id, &draw, &headers, r).await
}
