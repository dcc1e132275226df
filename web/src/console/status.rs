//! The system status screen (administrators and auditors): the sequencer
//! and its lag, the last checkpoint, the witnesses, the publication store,
//! the running release, the last software verification, and the open
//! significant events (links lost and not yet restored, recent program
//! errors and full queues). The panel reloads itself every 5 seconds
//! (`/static/live.js`), like the public jackpot; without JavaScript the
//! page is current when loaded.

use super::Console;
use crate::AppState;
use crate::i18n::Lang;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

/// The panel's own route, which the page reloads every 5 seconds: it does
/// not count as the user's activity, so an unattended screen's session
/// still ends when idle.
pub const PANEL: &str = "/console/status/panel";

/// `GET /console/status`.
pub async fn page(State(state): State<AppState>, Extension(c): Extension<Console>) -> Response {
    let lang = c.lang;
    let panel = panel(&state, lang).await;
    c.page(
        StatusCode::OK,
        lang.t("console.status.title"),
        "/console/status",
        html! {
            h1 { (lang.t("console.status.title")) }
            div data-refresh-url=(c.href(PANEL)) aria-live="polite" { (panel) }
        },
    )
}

/// `GET /console/status/panel`: the panel alone, for the live reload.
pub async fn panel_only(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
) -> Response {
    let markup = panel(&state, c.lang).await;
    crate::site::no_store(
        crate::site::secured(c.lang, markup.into_response()),
        c.set_cookie.clone(),
    )
}

fn up_or_down(lang: Lang, s: Option<&crate::ops::monitor::LinkState>) -> Markup {
    match s {
        None => html! { (lang.t("console.status.unknown")) },
        Some(s) if s.up => html! { strong.ok { (lang.t("console.status.up")) } },
        Some(s) => html! {
            strong.error {
                (lang.f("console.status.down", &[("since", &s.down_since.map(|t| t.to_string()).unwrap_or_default())]))
            }
        },
    }
}

async fn panel(state: &AppState, lang: Lang) -> Markup {
    let h = state.sequencer.health();
    let links = state.links.snapshot();
    let now = raffle_core::Timestamp::now();
    let secs = |t: raffle_core::Timestamp| (now.as_micros() - t.as_micros()).max(0) / 1_000_000;
    let published_at = crate::ops::health::last_published(state, &h);
    let checkpoint_size = state.sequencer.ledger().size();
    let witnesses: Vec<_> = state
        .witnesses
        .iter()
        .map(|w| {
            let name = w.name().to_string();
            let link = links.get(&format!("witness:{name}")).cloned();
            let cosigned = h.witness_sizes.get(&name).copied();
            (name, link, cosigned)
        })
        .collect();
    let recent = state
        .store
        .events(None, None, Some("program"), None, None, 5)
        .await
        .unwrap_or_default();
    let open: Vec<(&String, &crate::ops::monitor::LinkState)> =
        links.iter().filter(|(_, s)| s.reported).collect();
    html! {
        section aria-labelledby="status-sequencer" {
            h2 #status-sequencer { (lang.t("console.status.sequencer")) }
            dl {
                dt { (lang.t("console.status.state")) }
                dd {
                    @if !state.sequencer.running() {
                        strong.error { (lang.t("console.status.stopped")) }
                    } @else if let Some(since) = h.failing_since {
                        strong.error { (lang.f("console.status.failing", &[("since", &since.to_string())])) }
                    } @else {
                        strong.ok { (lang.t("console.status.sequencing")) }
                    }
                }
                dt { (lang.t("console.status.queue")) } dd { (h.queue_depth) }
                dt { (lang.t("console.status.batches")) } dd { (h.batches) " / " (h.entries) }
                dt { (lang.t("console.status.lag")) } dd { (lang.f("console.status.seconds", &[("n", &secs(published_at).to_string())])) }
            }
        }
        section aria-labelledby="status-log" {
            h2 #status-log { (lang.t("console.status.checkpoint")) }
            dl {
                dt { (lang.t("console.status.size")) } dd { (checkpoint_size) }
                dt { (lang.t("console.status.age")) } dd { (lang.f("console.status.seconds", &[("n", &secs(published_at).to_string())])) }
                dt { (lang.t("console.status.store")) } dd { (up_or_down(lang, links.get("publication_store"))) }
                dt { (lang.t("console.status.database")) } dd { (up_or_down(lang, links.get("database"))) }
            }
        }
        section aria-labelledby="status-witnesses" {
            h2 #status-witnesses { (lang.t("console.status.witnesses")) }
            @if witnesses.is_empty() {
                p { (lang.t("console.status.no_witness")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("console.status.witness")) }
                        th scope="col" { (lang.t("console.status.state")) }
                        th scope="col" { (lang.t("console.status.cosigned")) }
                    } }
                    tbody {
                        @for (name, link, cosigned) in &witnesses {
                            tr {
                                td { (name) }
                                td { (up_or_down(lang, link.as_ref())) }
                                td { @if let Some(n) = cosigned { (n) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="status-release" {
            h2 #status-release { (lang.t("console.status.release")) }
            dl {
                dt { (lang.t("console.status.version")) } dd { "raffled " (env!("CARGO_PKG_VERSION")) }
                dt { "SHA-256" } dd { code { (hex::encode(state.release_sha256)) } }
                dt { (lang.t("console.status.verification")) } dd { (lang.t("console.status.no_verification")) }
            }
        }
        section aria-labelledby="status-events" {
            h2 #status-events { (lang.t("console.status.open")) }
            @if open.is_empty() && recent.is_empty() {
                p { (lang.t("console.status.none_open")) }
            }
            ul {
                @for (link, s) in &open {
                    li { strong.error { (lang.f("console.status.lost", &[("link", link), ("since", &s.down_since.map(|t| t.to_string()).unwrap_or_default())])) } }
                }
                @for e in &recent {
                    li { (e["time"].as_str().unwrap_or_default()) " " (e["kind"].as_str().unwrap_or_default()) }
                }
            }
        }
    }
}
