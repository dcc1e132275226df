//! Sales units in the console: the master list (GLI-31 5.4.1) with each
//! unit's status in the log, head, tickets, software and last contact; and,
//! on a draw's reconciliation screen, each unit allocated to the raffle
//! with its sales and money and whether the draw still waits for it
//! (GLI-31 2.6.1, 2.6.2), and the refused records to refund.
//!
//! Actions, each through the same functions as the API (`app::rsu`), so
//! the same roles and two-person rules hold: administrators register a
//! unit, request its enrolment or re-enabling (a second administrator
//! approves on the approvals page) and disable it; raffle managers allocate
//! numbers; finance requests a unit's declaration as unreconcilable for a
//! draw (a second person approves).

use super::{Console, Done, PageIds, done};
use crate::AppState;
use crate::app::rsu;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::routes::roles::{ADMINISTRATOR, FINANCE, MANAGER};
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::Timestamp;
use raffle_core::entry::{Digest32, UnreconcilableReason};
use raffle_core::ids::{DrawId, RaffleId, RsuId};
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
    d: Query<Done>,
) -> Response {
    list_page(&state, &c, StatusCode::OK, Some(d.notice(c.lang))).await
}

async fn list_page(
    state: &AppState,
    c: &Console,
    status: StatusCode,
    notice: Option<Markup>,
) -> Response {
    let lang = c.lang;
    let list = match rsu::master_list(state).await {
        Ok(l) => l,
        Err(e) => return c.refused_page(e, "/console/rsu"),
    };
    let devices = list["devices"].as_array().cloned().unwrap_or_default();
    let admin = c.may(ADMINISTRATOR);
    let content = html! {
        h1 { (lang.t("console.units.title")) }
        @if let Some(n) = notice { (n) }
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
                        th scope="col" { (lang.t("console.units.revalidated")) }
                        @if admin { th scope="col" { (lang.t("console.units.action")) } }
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
                                td {
                                    @if d["revalidation_overdue"] == true {
                                        strong { (lang.t("console.units.overdue")) }
                                    } @else {
                                        @match d["revalidated_at"].as_str().and_then(|t| Timestamp::parse(t).ok()) {
                                            Some(t) => (lang.time(t, "UTC")),
                                            None => (lang.t("console.units.never")),
                                        }
                                    }
                                }
                                @if admin {
                                    td {
                                        @let (action, label) = match text(&d["status"]) {
                                            "unenrolled" => ("enrol", "console.units.enrol"),
                                            "enabled" => ("disable", "console.units.disable"),
                                            _ => ("enable", "console.units.enable"),
                                        };
                                        form.inline method="post" action=(c.href(&format!("/console/rsu/{}/{action}", text(&d["id"])))) {
                                            (c.csrf_field())
                                            button.secondary type="submit" { (lang.t(label)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let content = html! {
        (content)
        @if admin {
            h2 { (lang.t("console.units.register")) }
            p.note { (lang.t("console.units.register_note")) }
            form method="post" action=(c.href("/console/rsu")) {
                (c.csrf_field())
                p { label for="unit_id" { (lang.t("console.units.unit")) } br;
                    input #unit_id name="id" required maxlength="32" pattern="[a-z0-9][a-z0-9-]{0,31}"; }
                p { label for="model" { (lang.t("console.units.model")) } br;
                    input #model name="model" required maxlength="100"; }
                p { label for="unit_operator" { (lang.t("console.units.operator")) } br;
                    input #unit_operator name="operator" required maxlength="100"; }
                p { label for="key" { (lang.t("console.units.key")) } br;
                    input #key name="key" required minlength="64" maxlength="64" pattern="[0-9a-f]{64}" size="66"; }
                p { button type="submit" { (lang.t("console.units.register_submit")) } }
            }
        }
    };
    c.page(
        status,
        lang.t("console.units.title"),
        "/console/rsu",
        content,
    )
}

#[derive(serde::Deserialize)]
pub struct UnitForm {
    id: Option<String>,
    model: Option<String>,
    operator: Option<String>,
    key: Option<String>,
}

fn field<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, AppError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::bad_request(format!("{name} is required")))
}

/// `POST /console/rsu`: registers a unit (administrators).
pub async fn register(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Form(f): Form<UnitForm>,
) -> Response {
    let parsed = (|| {
        let id = RsuId::parse(field(&f.id, "the unit")?)?;
        let key: Digest32 =
            serde_json::from_value(Value::String(field(&f.key, "the key")?.to_string()))
                .map_err(|e| AppError::bad_request(format!("the key: {e}")))?;
        Ok::<_, AppError>(rsu::NewDevice {
            id,
            model: field(&f.model, "the model")?.to_string(),
            operator: field(&f.operator, "the operator")?.to_string(),
            key,
        })
    })();
    let result = match parsed {
        Ok(d) => rsu::register(&state, &c.staff, &d).await.map(|_| "saved"),
        Err(e) => Err(e),
    };
    match result {
        Ok(what) => done(c.lang, "/console/rsu", what),
        Err(e) => {
            let refusal = c.refusal(&e);
            list_page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

/// `POST /console/rsu/{rsu}/{action}`: requests a unit's enrolment or
/// re-enabling (a second administrator approves), or disables it at once.
pub async fn act(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((unit, action)): PageIds<(RsuId, String)>,
) -> Response {
    let result = match action.as_str() {
        "enrol" => rsu::request_enrolment(&state, &c.staff, &unit)
            .await
            .map(|_| "requested"),
        "enable" => rsu::request_enable(&state, &c.staff, &unit)
            .await
            .map(|_| "requested"),
        "disable" => rsu::disable(&state, &c.staff, &unit).await.map(|_| "saved"),
        _ => Err(AppError::not_found("no such action")),
    };
    match result {
        Ok(what) => done(c.lang, "/console/rsu", what),
        Err(e) => {
            let refusal = c.refusal(&e);
            list_page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

fn reconciliation_path(raffle: &RaffleId, draw: &DrawId) -> String {
    format!("/console/raffles/{raffle}/draws/{draw}/reconciliation")
}

#[derive(serde::Deserialize)]
pub struct AllocationForm {
    rsu: Option<String>,
    count: Option<String>,
}

/// `POST .../draws/{draw_id}/rsu/allocations`: allocates the raffle's next
/// numbers to a unit (raffle managers).
pub async fn allocate(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((raffle, draw)): PageIds<(RaffleId, DrawId)>,
    Form(f): Form<AllocationForm>,
) -> Response {
    let path = reconciliation_path(&raffle, &draw);
    let result = async {
        let unit = RsuId::parse(field(&f.rsu, "the unit")?)?;
        let count: u64 = field(&f.count, "the count")?
            .parse()
            .map_err(|_| AppError::bad_request("the count must be a whole number"))?;
        rsu::allocate(&state, &c.staff, &raffle, &unit, count).await
    }
    .await;
    match result {
        Ok(_) => done(c.lang, &path, "saved"),
        Err(e) => c.refused_page(e, &path),
    }
}

#[derive(serde::Deserialize)]
pub struct DeclarationForm {
    reason: Option<String>,
}

/// `POST .../draws/{draw_id}/rsu/{rsu}/unreconcilable`: requests a unit's
/// declaration as unreconcilable for the draw (finance; a second person
/// approves).
pub async fn declare(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((raffle, draw, unit)): PageIds<(RaffleId, DrawId, RsuId)>,
    Form(f): Form<DeclarationForm>,
) -> Response {
    let path = reconciliation_path(&raffle, &draw);
    let result = async {
        let reason: UnreconcilableReason =
            serde_json::from_value(Value::String(field(&f.reason, "the reason")?.to_string()))
                .map_err(|_| {
                    AppError::bad_request("the reason must be lost, stolen, damaged or corrupted")
                })?;
        rsu::request_unreconcilable(&state, &c.staff, &raffle, &draw, &unit, reason).await
    }
    .await;
    match result {
        Ok(_) => done(c.lang, &path, "requested"),
        Err(e) => c.refused_page(e, &path),
    }
}

/// A signed amount of the unit's cash figures, in the raffle's currency
/// (negative with a minus sign: a drop short of what was expected).
fn signed(lang: Lang, cash: &Value, field: &str) -> String {
    let Some(minor) = cash[field].as_i64() else {
        return String::new();
    };
    let Ok(currency) = raffle_core::Currency::parse(cash["currency"].as_str().unwrap_or_default())
    else {
        return String::new();
    };
    let shown = lang.money(raffle_core::Money::new(minor.unsigned_abs(), currency));
    if minor < 0 {
        format!("−{shown}")
    } else {
        shown
    }
}

#[derive(serde::Deserialize)]
pub struct CashForm {
    rsu: Option<String>,
    kind: Option<String>,
    amount: Option<String>,
    note: Option<String>,
}

/// `POST .../draws/{draw_id}/rsu/cash`: records a count of a unit's cash,
/// its float or a drop (finance; a leading minus corrects an earlier one).
pub async fn record_cash(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((raffle, draw)): PageIds<(RaffleId, DrawId)>,
    Form(f): Form<CashForm>,
) -> Response {
    let path = reconciliation_path(&raffle, &draw);
    let result = async {
        let unit = RsuId::parse(field(&f.rsu, "the unit")?)?;
        let kind: rsu::CashKind =
            serde_json::from_value(Value::String(field(&f.kind, "the kind")?.to_string()))
                .map_err(|_| AppError::bad_request("the kind must be float or drop"))?;
        let text = field(&f.amount, "the amount")?;
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let minor = super::raffles::parse_amount(digits)
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(|| AppError::bad_request("the amount must be like 250.00"))?;
        let minor = if negative { -minor } else { minor };
        let note = f.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        rsu::record_cash(&state, &c.staff, &raffle, &unit, kind, minor, note).await
    }
    .await;
    match result {
        Ok(()) => done(c.lang, &path, "saved"),
        Err(e) => c.refused_page(e, &path),
    }
}

const REASONS: [(&str, &str); 4] = [
    ("lost", "console.units.lost"),
    ("stolen", "console.units.stolen"),
    ("damaged", "console.units.damaged"),
    ("corrupted", "console.units.corrupted"),
];

/// The units of a raffle on a draw's reconciliation screen; nothing when
/// the raffle has none.
pub fn section(c: &Console, units: &Value, raffle: &str, draw: &str, reconciled: bool) -> Markup {
    let lang = c.lang;
    let units = units["units"].as_array().cloned().unwrap_or_default();
    let base = format!("/console/raffles/{raffle}/draws/{draw}/rsu");
    let declare = c.may(FINANCE) && !reconciled;
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
                        th scope="col" { (lang.t("console.units.reprints")) }
                        th scope="col" { (lang.t("console.units.cash_sales")) }
                        th scope="col" { (lang.t("console.units.float")) }
                        th scope="col" { (lang.t("console.units.drop")) }
                        th scope="col" { (lang.t("console.units.difference")) }
                        @if declare { th scope="col" { (lang.t("console.units.action")) } }
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
                                td { (lang.count(text(&u["reprints"]).parse().unwrap_or(0))) }
                                td { (signed(lang, &u["cash"], "sales_minor")) }
                                td { (signed(lang, &u["cash"], "float_minor")) }
                                td { (signed(lang, &u["cash"], "drop_minor")) }
                                td { (signed(lang, &u["cash"], "difference_minor")) }
                                @if declare {
                                    td {
                                        @if state == "waiting" || state == "sealed" {
                                            form.inline method="post" action=(c.href(&format!("{base}/{}/unreconcilable", text(&u["rsu"])))) {
                                                (c.csrf_field())
                                                label { (lang.t("console.units.reason")) " "
                                                    select name="reason" required {
                                                        @for (value, key) in REASONS {
                                                            option value=(value) { (lang.t(key)) }
                                                        }
                                                    }
                                                }
                                                " "
                                                button.secondary type="submit" { (lang.t("console.units.declare")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @let refused: Vec<(&str, &Value)> = units
            .iter()
            .flat_map(|u| u["refused"].as_array().into_iter().flatten().map(move |x| (text(&u["rsu"]), x)))
            .collect();
        @if !refused.is_empty() {
            h3 #refused { (lang.t("console.units.to_refund")) }
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table #refused-records {
                    thead { tr {
                        th scope="col" { (lang.t("console.units.unit")) }
                        th scope="col" { (lang.t("console.units.seq")) }
                        th scope="col" { (lang.t("console.units.reason")) }
                        th scope="col" { (lang.t("console.raffle.gross")) }
                        th scope="col" { (lang.t("console.units.leaf")) }
                    } }
                    tbody {
                        @for (unit, x) in &refused {
                            tr {
                                th scope="row" { (unit) }
                                td { (text(&x["seq"])) }
                                td { code { (x["reason"].as_str().unwrap_or_default()) } }
                                td { (money(lang, &x["price"])) }
                                td { (text(&x["index"])) }
                            }
                        }
                    }
                }
            }
        }
        @if c.may(crate::routes::roles::EVENTS) {
            p { a href=(format!("{}&component=rsu", c.href("/console/events"))) { (lang.t("console.units.events")) } }
        }
        @if c.may(FINANCE) && !units.is_empty() {
            h3 { (lang.t("console.units.cash")) }
            p.note { (lang.t("console.units.cash_note")) }
            form method="post" action=(c.href(&format!("{base}/cash"))) {
                (c.csrf_field())
                p { label for="cash_unit" { (lang.t("console.units.unit")) } br;
                    select #cash_unit name="rsu" required {
                        @for u in &units { option value=(text(&u["rsu"])) { (text(&u["rsu"])) } }
                    } }
                p { label for="cash_kind" { (lang.t("console.units.cash_kind")) } br;
                    select #cash_kind name="kind" required {
                        option value="float" { (lang.t("console.units.float")) }
                        option value="drop" { (lang.t("console.units.drop")) }
                    } }
                p { label for="cash_amount" { (lang.t("console.units.amount")) } br;
                    input #cash_amount name="amount" required maxlength="20" inputmode="decimal"; }
                p { label for="cash_note" { (lang.t("console.units.note")) } br;
                    input #cash_note name="note" maxlength="100"; }
                p { button type="submit" { (lang.t("console.units.cash_submit")) } }
            }
        }
        @if c.may(MANAGER) {
            h3 { (lang.t("console.units.allocate")) }
            form method="post" action=(c.href(&format!("{base}/allocations"))) {
                (c.csrf_field())
                p { label for="alloc_unit" { (lang.t("console.units.unit")) } br;
                    input #alloc_unit name="rsu" required maxlength="32" pattern="[a-z0-9][a-z0-9-]{0,31}"; }
                p { label for="alloc_count" { (lang.t("console.units.count")) } br;
                    input #alloc_count name="count" type="number" min="1" max=(rsu::MAX_ALLOCATION) required; }
                p { button type="submit" { (lang.t("console.units.allocate_submit")) } }
            }
        }
    }
}
