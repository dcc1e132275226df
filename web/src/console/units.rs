//! Sales units in the console: the master list (GLI-31 5.4.1) with each
//! unit's status in the log, head, tickets, software and last contact; and,
//! on a draw's reconciliation screen, each unit allocated to the raffle
//! with its sales and money and whether the draw still waits for it
//! (GLI-31 2.6.1, 2.6.2), and the refused records to refund. Read-only:
//! enrolment, allocations and declarations go through the API
//! (`docs/guide.md`, "Sales units").

use super::Console;
use crate::AppState;
use crate::app::rsu;
use crate::i18n::Lang;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::Timestamp;
use serde_json::Value;

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn status_key(status: &str) -> &'static str {
    match status {
        "enabled" => "console.units.enabled",
        "disabled" => "console.units.disabled",
        "unenrolled" => "console.units.unenrolled",
        "uploaded" => "console.units.uploaded",
        "sealed" => "console.units.sealed",
        "unreconcilable" => "console.units.unreconcilable",
        _ => "console.units.waiting",
    }
}

fn money(lang: Lang, v: &Value) -> String {
    serde_json::from_value::<raffle_core::Money>(v.clone())
        .map(|m| lang.money(m))
        .unwrap_or_default()
}

/// `GET /console/rsu`: the master list.
pub async fn master_list(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
) -> Response {
    let lang = c.lang;
    let list = match rsu::master_list(&state).await {
        Ok(l) => l,
        Err(e) => return c.refused_page(e, "/console/rsu"),
    };
    let devices = list["devices"].as_array().cloned().unwrap_or_default();
    let content = html! {
        h1 { (lang.t("console.units.title")) }
        @if devices.is_empty() {
            p { (lang.t("console.units.none")) }
        } @else {
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table #units {
                    thead { tr {
                        th scope="col" { (lang.t("console.units.unit")) }
                        th scope="col" { (lang.t("console.units.model")) }
                        th scope="col" { (lang.t("console.units.operator")) }
                        th scope="col" { (lang.t("console.units.status")) }
                        th scope="col" { (lang.t("console.units.tickets")) }
                        th scope="col" { (lang.t("console.units.refused")) }
                        th scope="col" { (lang.t("console.units.software")) }
                        th scope="col" { (lang.t("console.units.contact")) }
                    } }
                    tbody {
                        @for d in &devices {
                            tr {
                                th scope="row" { (text(&d["id"])) }
                                td { (text(&d["model"])) }
                                td { (text(&d["operator"])) }
                                td { (lang.t(status_key(text(&d["status"])))) }
                                td { (lang.count(text(&d["tickets_issued"]).parse().unwrap_or(0))) }
                                td { (lang.count(d["rejected"].as_u64().unwrap_or(0))) }
                                td { (text(&d["software_version"])) }
                                td {
                                    @match d["last_contact"].as_str().and_then(|t| Timestamp::parse(t).ok()) {
                                        Some(t) => (lang.time(t, "UTC")),
                                        None => (lang.t("console.units.never")),
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    c.page(
        StatusCode::OK,
        lang.t("console.units.title"),
        "/console/rsu",
        content,
    )
}

/// The units of a raffle on a draw's reconciliation screen; nothing when
/// the raffle has none.
pub fn section(c: &Console, units: &Value, draw: &str) -> Markup {
    let lang = c.lang;
    let units = units["units"].as_array().cloned().unwrap_or_default();
    html! {
        @if !units.is_empty() {
            h2 #units { (lang.t("console.units.title")) }
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table #draw-units {
                    thead { tr {
                        th scope="col" { (lang.t("console.units.unit")) }
                        th scope="col" { (lang.t("console.units.for_draw")) }
                        th scope="col" { (lang.t("console.units.allocated")) }
                        th scope="col" { (lang.t("console.units.sold")) }
                        th scope="col" { (lang.t("console.reconciliation.sales")) }
                        th scope="col" { (lang.t("console.raffle.gross")) }
                        th scope="col" { (lang.t("console.units.refused")) }
                    } }
                    tbody {
                        @for u in &units {
                            @let state = u["draws"].as_array().and_then(|ds| ds.iter().find(|d| d["draw"] == draw)).map(|d| text(&d["status"]).to_string()).unwrap_or_default();
                            tr {
                                th scope="row" { (text(&u["rsu"])) }
                                td { (lang.t(status_key(&state))) }
                                td { (lang.count(text(&u["allocated"]).parse().unwrap_or(0))) }
                                td { (lang.count(text(&u["sold_numbers"]).parse().unwrap_or(0))) }
                                td { (lang.count(text(&u["sales"]).parse().unwrap_or(0))) }
                                td { (money(lang, &u["gross"])) }
                                td { (lang.count(u["refused"].as_array().map_or(0, |r| r.len() as u64))) }
                            }
                        }
                    }
                }
            }
        }
    }
}
