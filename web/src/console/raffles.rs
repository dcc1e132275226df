//! Raffles in the console: creating and editing drafts (packages, prizes,
//! draws, sales window, jurisdiction), opening and closing sales, and the
//! raffle's own page with its figures and draws.
//!
//! The form is parsed into a [`RaffleConfig`] here (times typed in the
//! raffle's time zone, amounts as decimals, shares as percentages, all
//! turned into integers without floating point); whether the
//! configuration is acceptable, and whether it may still change (GLI-31
//! 2.2.3), is the ledger's decision, the same as through the API.

use super::PageIds;
use super::{Console, Done, Fields, done};
use crate::AppState;
use crate::app::operations;
use crate::i18n::Lang;
use crate::routes::roles::MANAGER;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::Role;
use raffle_core::entry::*;
use raffle_core::ids::RaffleId;
use raffle_core::ledger::Status;
use raffle_core::{Currency, Money, Timestamp};

/// What the time fields accept (the browser checks it before posting).
const TIME_PATTERN: &str = "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?";

/// Rows the form offers for packages and for draws (empty rows are ignored).
const PACKAGE_ROWS: usize = 5;
const DRAW_ROWS: usize = 4;

/// A field the form could not read: its label's key and the problem's key.
struct Invalid {
    field: &'static str,
    problem: &'static str,
}

fn invalid(field: &'static str, problem: &'static str) -> Invalid {
    Invalid { field, problem }
}

/// A decimal amount (`12`, `12.5`, `12.50`, `1,234.50` or `12,50`) in minor
/// units (two decimals: [`raffle_core::money::MINOR_PER_MAJOR`]).
pub fn parse_amount(text: &str) -> Option<u64> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // A comma followed by exactly 1 or 2 digits at the end is a decimal comma.
    let t = match t.rfind(',') {
        Some(i) if !t.contains('.') && (1..=2).contains(&(t.len() - i - 1)) => {
            format!("{}.{}", &t[..i], &t[i + 1..])
        }
        _ => t.replace(',', ""),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents: u64 = format!("{frac:0<2}").parse().ok()?;
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(raffle_core::money::MINOR_PER_MAJOR)?
        .checked_add(cents)
}

/// A percentage with up to two decimals (`50`, `12.5`) in basis points.
pub fn parse_share(text: &str) -> Option<u32> {
    let bps = parse_amount(text)?;
    (1..=10_000).contains(&bps).then_some(bps as u32)
}

/// A time typed as `2026-12-20 18:00` (24-hour, seconds optional, a `T`
/// for the space also read) in time zone `zone`.
pub fn parse_local_time(text: &str, zone: &str) -> Option<Timestamp> {
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let dt: jiff::civil::DateTime = text.trim().replacen(' ', "T", 1).parse().ok()?;
    let ts = dt.to_zoned_datetime(tz).ok()?.timestamp();
    Some(Timestamp::from_micros(ts.as_microsecond()))
}

/// A time as the form shows it in time zone `zone`: `2026-12-20 18:00`,
/// with seconds when it has any. The form uses text fields, not the
/// browser's date picker, so times are always shown in 24-hour form.
pub fn local_time(t: Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_microsecond(t.as_micros())
        .map(|ts| {
            let z = ts.to_zoned_datetime(tz);
            let format = if z.second() == 0 {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            z.strftime(format).to_string()
        })
        .unwrap_or_default()
}

fn amount_text(m: Money) -> String {
    let (whole, cents) = m.parts();
    format!("{whole}.{cents:02}")
}

fn share_text(bps: u32) -> String {
    if bps.is_multiple_of(100) {
        (bps / 100).to_string()
    } else {
        format!("{}.{:02}", bps / 100, bps % 100)
    }
}

/// Reads the raffle form into a configuration.
fn config_from(f: &Fields) -> Result<RaffleConfig, Invalid> {
    let required = |name: &str, label: &'static str| -> Result<String, Invalid> {
        let v = f.get(name);
        if v.is_empty() {
            Err(invalid(label, "console.form.required"))
        } else {
            Ok(v.to_string())
        }
    };
    let number = |name: &str, label: &'static str| -> Result<u64, Invalid> {
        required(name, label)?
            .parse()
            .map_err(|_| invalid(label, "console.form.number"))
    };
    let currency = Currency::parse(f.get("currency"))
        .map_err(|_| invalid("console.f.currency", "console.form.currency"))?;
    let money = |name: &str, label: &'static str| -> Result<Money, Invalid> {
        parse_amount(&required(name, label)?)
            .map(|m| Money::new(m, currency))
            .ok_or(invalid(label, "console.form.amount"))
    };
    let zone = required("time_zone", "console.f.time_zone")?;
    if jiff::tz::TimeZone::get(&zone).is_err() {
        return Err(invalid("console.f.time_zone", "console.form.zone"));
    }
    let time = |name: &str, label: &'static str| -> Result<Timestamp, Invalid> {
        parse_local_time(&required(name, label)?, &zone).ok_or(invalid(label, "console.form.time"))
    };
    let mut packages = Vec::new();
    for i in 0..PACKAGE_ROWS {
        let p = |k: &str| format!("package{i}.{k}");
        if [p("id"), p("tickets"), p("price")]
            .iter()
            .all(|k| f.get(k).is_empty())
        {
            continue;
        }
        packages.push(Package {
            id: required(&p("id"), "console.f.package.id")?
                .parse()
                .map_err(|_| invalid("console.f.package.id", "console.form.slug"))?,
            tickets: number(&p("tickets"), "console.f.package.tickets")?
                .try_into()
                .map_err(|_| invalid("console.f.package.tickets", "console.form.number"))?,
            price: money(&p("price"), "console.f.package.price")?,
        });
    }
    let mut draws = Vec::new();
    for i in 0..DRAW_ROWS {
        let d = |k: &str| format!("draw{i}.{k}");
        if [
            d("id"),
            d("name"),
            d("cutoff"),
            d("at"),
            d("share"),
            d("amount"),
        ]
        .iter()
        .all(|k| f.get(k).is_empty())
        {
            continue;
        }
        let prize = if f.get(&d("kind")) == "fixed" {
            Prize::Fixed {
                amount: money(&d("amount"), "console.f.draw.amount")?,
            }
        } else {
            Prize::Share {
                share_bps: parse_share(&required(&d("share"), "console.f.draw.share")?)
                    .ok_or(invalid("console.f.draw.share", "console.form.share"))?,
                cap: if f.get(&d("cap")).is_empty() {
                    None
                } else {
                    Some(money(&d("cap"), "console.f.draw.cap")?)
                },
            }
        };
        draws.push(DrawConfig {
            id: required(&d("id"), "console.f.draw.id")?
                .parse()
                .map_err(|_| invalid("console.f.draw.id", "console.form.slug"))?,
            name: required(&d("name"), "console.f.draw.name")?,
            cutoff: time(&d("cutoff"), "console.f.draw.cutoff")?,
            draw_at: time(&d("at"), "console.f.draw.at")?,
            prize,
        });
    }
    let optional = |name: &str| (!f.get(name).is_empty()).then(|| f.get(name).to_string());
    Ok(RaffleConfig {
        name: required("name", "console.f.name")?,
        organisation: required("organisation", "console.f.organisation")?,
        licence: optional("licence"),
        jurisdiction: required("jurisdiction", "console.f.jurisdiction")?,
        time_zone: zone.clone(),
        buyers: BuyerRules {
            minimum_age: number("minimum_age", "console.f.minimum_age")?
                .try_into()
                .map_err(|_| invalid("console.f.minimum_age", "console.form.number"))?,
            regions: f
                .get("regions")
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect(),
        },
        approvers: f
            .all("approvers")
            .iter()
            .map(|a| Role::parse(a))
            .collect::<Result<_, _>>()
            .map_err(|_| invalid("console.f.approvers", "console.form.required"))?,
        packages,
        max_tickets: if f.get("max_tickets").is_empty() {
            None
        } else {
            Some(U64(number("max_tickets", "console.f.max_tickets")?))
        },
        first_number: U64(number("first_number", "console.f.first_number")?),
        sales_start: time("sales_start", "console.f.sales_start")?,
        sales_end: time("sales_end", "console.f.sales_end")?,
        draws,
        wins: match f.get("wins") {
            "unlimited" => WinRule::Unlimited,
            "sale_once" => WinRule::SaleOnce,
            _ => WinRule::NumberOnce,
        },
        early_bird: match f.get("early_bird") {
            "from_main_prize" => EarlyBirdDeduction::FromMainPrize,
            _ => EarlyBirdDeduction::FromProceeds,
        },
        claims: ClaimRules {
            window_days: number("window_days", "console.f.window_days")?
                .try_into()
                .map_err(|_| invalid("console.f.window_days", "console.form.number"))?,
            unclaimed: match f.get("unclaimed") {
                "forfeit" => UnclaimedRule::Forfeit,
                _ => UnclaimedRule::Redraw,
            },
            paperwork_over: if f.get("paperwork_over").is_empty() {
                None
            } else {
                Some(money("paperwork_over", "console.f.paperwork_over")?)
            },
        },
    })
}

/// What a new raffle's form starts with: a 50/50 raffle selling from the
/// next hour for 30 days, its main draw an hour after sales end.
fn starting_config() -> RaffleConfig {
    let hour = 3_600_000_000i64;
    let now = Timestamp::now().as_micros();
    let at = |offset: i64| Timestamp::from_micros(now - now % hour + offset);
    // The schema's example raffle, unnamed, with two packages and its main
    // draw only.
    let mut c = raffle_core::entry::example_config();
    c.name = String::new();
    c.organisation = String::new();
    c.licence = None;
    c.approvers = vec![Role::Finance, Role::Administrator];
    c.packages.truncate(2);
    c.max_tickets = None;
    c.sales_start = at(hour);
    c.sales_end = at(hour + 30 * 24 * hour);
    c.draws.remove(0);
    c.draws[0].cutoff = c.sales_end;
    c.draws[0].draw_at = at(2 * hour + 30 * 24 * hour);
    c.early_bird = EarlyBirdDeduction::FromProceeds;
    c
}

fn text_field(lang: Lang, name: &str, label: &'static str, value: &str, required: bool) -> Markup {
    html! {
        p {
            label for=(name) { (lang.t(label)) } br;
            input id=(name) name=(name) type="text" value=(value) required[required];
        }
    }
}

fn time_field(lang: Lang, name: &str, label: &'static str, value: &str) -> Markup {
    html! {
        p {
            label for=(name) { (lang.t(label)) } br;
            input id=(name) name=(name) type="text" inputmode="numeric" placeholder="2026-12-20 18:00" pattern=(TIME_PATTERN) value=(value) required;
        }
    }
}

/// The raffle form, filled with `c`.
fn form(c: &Console, action: &str, cfg: &RaffleConfig, submit: &'static str) -> Markup {
    let lang = c.lang;
    let zone = cfg.time_zone.as_str();
    let currency = cfg
        .packages
        .first()
        .map_or("CAD".to_string(), |p| p.price.currency.to_string());
    let selected = |a: bool| a;
    html! {
        form method="post" action=(c.href(action)) {
            (c.csrf_field())
            fieldset {
                legend { (lang.t("console.form.raffle")) }
                (text_field(lang, "name", "console.f.name", &cfg.name, true))
                (text_field(lang, "organisation", "console.f.organisation", &cfg.organisation, true))
                (text_field(lang, "licence", "console.f.licence", cfg.licence.as_deref().unwrap_or(""), false))
            }
            fieldset {
                legend { (lang.t("console.form.jurisdiction")) }
                (text_field(lang, "jurisdiction", "console.f.jurisdiction", &cfg.jurisdiction, true))
                (text_field(lang, "time_zone", "console.f.time_zone", zone, true))
                p {
                    label for="minimum_age" { (lang.t("console.f.minimum_age")) } br;
                    input #minimum_age name="minimum_age" type="number" min="0" max="99" value=(cfg.buyers.minimum_age) required;
                }
                (text_field(lang, "regions", "console.f.regions", &cfg.buyers.regions.join(", "), true))
                fieldset {
                    legend { (lang.t("console.f.approvers")) }
                    @for role in [Role::Finance, Role::Administrator] {
                        label {
                            input type="checkbox" name="approvers" value=(role) checked[cfg.approvers.contains(&role)];
                            " " (lang.t(super::users::role_key(role)))
                        }
                        " "
                    }
                }
            }
            fieldset {
                legend { (lang.t("console.form.sales")) }
                p.note { (lang.t("console.form.times")) }
                (time_field(lang, "sales_start", "console.f.sales_start", &local_time(cfg.sales_start, zone)))
                (time_field(lang, "sales_end", "console.f.sales_end", &local_time(cfg.sales_end, zone)))
                (text_field(lang, "currency", "console.f.currency", &currency, true))
                p {
                    label for="first_number" { (lang.t("console.f.first_number")) } br;
                    input #first_number name="first_number" type="number" min="0" value=(cfg.first_number.0) required;
                }
                p {
                    label for="max_tickets" { (lang.t("console.f.max_tickets")) } br;
                    input #max_tickets name="max_tickets" type="number" min="1" value=[cfg.max_tickets.map(|m| m.0)];
                }
            }
            fieldset {
                legend { (lang.t("console.form.packages")) }
                p.note { (lang.t("console.form.rows")) }
                @for i in 0..PACKAGE_ROWS {
                    @let p = cfg.packages.get(i);
                    div.row {
                        p { label for=(format!("package{i}.id")) { (lang.t("console.f.package.id")) } br;
                            input id=(format!("package{i}.id")) name=(format!("package{i}.id")) type="text" size="8" value=[p.map(|p| p.id.as_str())]; }
                        p { label for=(format!("package{i}.tickets")) { (lang.t("console.f.package.tickets")) } br;
                            input id=(format!("package{i}.tickets")) name=(format!("package{i}.tickets")) type="number" min="1" value=[p.map(|p| p.tickets)]; }
                        p { label for=(format!("package{i}.price")) { (lang.t("console.f.package.price")) } br;
                            input id=(format!("package{i}.price")) name=(format!("package{i}.price")) type="text" inputmode="decimal" size="10" value=[p.map(|p| amount_text(p.price))]; }
                    }
                }
            }
            fieldset {
                legend { (lang.t("console.form.draws")) }
                p.note { (lang.t("console.form.draws.note")) }
                @for i in 0..DRAW_ROWS {
                    @let d = cfg.draws.get(i);
                    @let (share, cap, amount, fixed) = match d.map(|d| &d.prize) {
                        Some(Prize::Share { share_bps, cap }) => (share_text(*share_bps), cap.map(amount_text).unwrap_or_default(), String::new(), false),
                        Some(Prize::Fixed { amount }) => (String::new(), String::new(), amount_text(*amount), true),
                        None => Default::default(),
                    };
                    fieldset {
                        legend { (lang.f("console.form.draw", &[("n", &(i + 1).to_string())])) }
                        div.row {
                            p { label for=(format!("draw{i}.id")) { (lang.t("console.f.draw.id")) } br;
                                input id=(format!("draw{i}.id")) name=(format!("draw{i}.id")) type="text" size="10" value=[d.map(|d| d.id.as_str())]; }
                            p { label for=(format!("draw{i}.name")) { (lang.t("console.f.draw.name")) } br;
                                input id=(format!("draw{i}.name")) name=(format!("draw{i}.name")) type="text" value=[d.map(|d| d.name.as_str())]; }
                        }
                        div.row {
                            p { label for=(format!("draw{i}.cutoff")) { (lang.t("console.f.draw.cutoff")) } br;
                                input id=(format!("draw{i}.cutoff")) name=(format!("draw{i}.cutoff")) type="text" inputmode="numeric" placeholder="2026-12-20 18:00" pattern=(TIME_PATTERN) value=[d.map(|d| local_time(d.cutoff, zone))]; }
                            p { label for=(format!("draw{i}.at")) { (lang.t("console.f.draw.at")) } br;
                                input id=(format!("draw{i}.at")) name=(format!("draw{i}.at")) type="text" inputmode="numeric" placeholder="2026-12-20 18:00" pattern=(TIME_PATTERN) value=[d.map(|d| local_time(d.draw_at, zone))]; }
                        }
                        div.row {
                            p { label for=(format!("draw{i}.kind")) { (lang.t("console.f.draw.kind")) } br;
                                select id=(format!("draw{i}.kind")) name=(format!("draw{i}.kind")) {
                                    option value="share" selected[selected(!fixed)] { (lang.t("console.f.draw.kind.share")) }
                                    option value="fixed" selected[selected(fixed)] { (lang.t("console.f.draw.kind.fixed")) }
                                }
                            }
                            p { label for=(format!("draw{i}.share")) { (lang.t("console.f.draw.share")) } br;
                                input id=(format!("draw{i}.share")) name=(format!("draw{i}.share")) type="text" inputmode="decimal" size="6" value=(share); }
                            p { label for=(format!("draw{i}.cap")) { (lang.t("console.f.draw.cap")) } br;
                                input id=(format!("draw{i}.cap")) name=(format!("draw{i}.cap")) type="text" inputmode="decimal" size="10" value=(cap); }
                            p { label for=(format!("draw{i}.amount")) { (lang.t("console.f.draw.amount")) } br;
                                input id=(format!("draw{i}.amount")) name=(format!("draw{i}.amount")) type="text" inputmode="decimal" size="10" value=(amount); }
                        }
                    }
                }
                p {
                    label for="wins" { (lang.t("console.f.wins")) } br;
                    select #wins name="wins" {
                        option value="number_once" selected[cfg.wins == WinRule::NumberOnce] { (lang.t("console.f.wins.number_once")) }
                        option value="sale_once" selected[cfg.wins == WinRule::SaleOnce] { (lang.t("console.f.wins.sale_once")) }
                        option value="unlimited" selected[cfg.wins == WinRule::Unlimited] { (lang.t("console.f.wins.unlimited")) }
                    }
                }
                p {
                    label for="early_bird" { (lang.t("console.f.early_bird")) } br;
                    select #early_bird name="early_bird" {
                        option value="from_proceeds" selected[cfg.early_bird == EarlyBirdDeduction::FromProceeds] { (lang.t("console.f.early_bird.from_proceeds")) }
                        option value="from_main_prize" selected[cfg.early_bird == EarlyBirdDeduction::FromMainPrize] { (lang.t("console.f.early_bird.from_main_prize")) }
                    }
                }
            }
            fieldset {
                legend { (lang.t("console.form.claims")) }
                p {
                    label for="window_days" { (lang.t("console.f.window_days")) } br;
                    input #window_days name="window_days" type="number" min="1" value=(cfg.claims.window_days) required;
                }
                p {
                    label for="unclaimed" { (lang.t("console.f.unclaimed")) } br;
                    select #unclaimed name="unclaimed" {
                        option value="redraw" selected[cfg.claims.unclaimed == UnclaimedRule::Redraw] { (lang.t("console.f.unclaimed.redraw")) }
                        option value="forfeit" selected[cfg.claims.unclaimed == UnclaimedRule::Forfeit] { (lang.t("console.f.unclaimed.forfeit")) }
                    }
                }
                (text_field(lang, "paperwork_over", "console.f.paperwork_over", &cfg.claims.paperwork_over.map(amount_text).unwrap_or_default(), false))
            }
            p { button type="submit" { (lang.t(submit)) } }
        }
    }
}

fn form_page(
    c: &Console,
    status: StatusCode,
    id: Option<&str>,
    cfg: &RaffleConfig,
    problem: Option<Markup>,
) -> Response {
    let (title, action, submit, path) = match id {
        None => (
            c.lang.t("console.nav.new"),
            "/console/raffles".to_string(),
            "console.form.create",
            "/console/raffles/new".to_string(),
        ),
        Some(id) => (
            c.lang.t("console.raffle.edit"),
            format!("/console/raffles/{id}/edit"),
            "console.form.save",
            format!("/console/raffles/{id}/edit"),
        ),
    };
    c.page(
        status,
        title,
        &path,
        html! {
            h1 { (title) }
            @if let Some(p) = problem { (p) }
            (form(c, &action, cfg, submit))
        },
    )
}

fn invalid_notice(lang: Lang, e: &Invalid) -> Markup {
    html! {
        p.error role="alert" { (lang.f("console.form.invalid", &[("field", lang.t(e.field)), ("problem", lang.t(e.problem))])) }
    }
}

/// `GET /console/raffles/new`.
pub async fn new_form(Extension(c): Extension<Console>) -> Response {
    form_page(&c, StatusCode::OK, None, &starting_config(), None)
}

/// `POST /console/raffles`: a new draft (`raffle.created`).
pub async fn create(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let cfg = match config_from(&f) {
        Ok(cfg) => cfg,
        Err(e) => {
            return form_page(
                &c,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &starting_config(),
                Some(invalid_notice(c.lang, &e)),
            );
        }
    };
    match operations::create_raffle(&state, &c.staff, cfg.clone()).await {
        Ok((id, _)) => done(c.lang, &format!("/console/raffles/{id}"), "created"),
        Err(e) => form_page(&c, e.status, None, &cfg, Some(c.refusal(&e))),
    }
}

/// `GET /console/raffles/{id}/edit`: a draft's form.
pub async fn edit_form(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<RaffleId>,
) -> Response {
    let cfg = state
        .sequencer
        .ledger()
        .raffle(&id)
        .map(|r| r.config.clone());
    match cfg {
        Some(cfg) => form_page(&c, StatusCode::OK, Some(&id), &cfg, None),
        None => c.refused_page(
            crate::error::AppError::not_found("no such raffle"),
            "/console",
        ),
    }
}

/// `POST /console/raffles/{id}/edit`: `raffle.updated` with the old and
/// new values; refused once the raffle is open (GLI-31 2.2.3).
pub async fn update(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<RaffleId>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let cfg = match config_from(&f) {
        Ok(cfg) => cfg,
        Err(e) => {
            let current = state
                .sequencer
                .ledger()
                .raffle(&id)
                .map(|r| r.config.clone());
            return form_page(
                &c,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&id),
                &current.unwrap_or_else(starting_config),
                Some(invalid_notice(c.lang, &e)),
            );
        }
    };
    match operations::update_raffle(&state, &c.staff, &id, cfg.clone()).await {
        Ok(_) => done(c.lang, &format!("/console/raffles/{id}"), "saved"),
        Err(e) => form_page(&c, e.status, Some(&id), &cfg, Some(c.refusal(&e))),
    }
}

/// A lifecycle action's outcome: the raffle's page, with the confirmation
/// or the refusal.
fn after(
    state: &AppState,
    c: &Console,
    id: &str,
    result: Result<raffle_core::store::sequencer::Sequenced, crate::error::AppError>,
    what: &str,
) -> Response {
    match result {
        Ok(_) => done(c.lang, &format!("/console/raffles/{id}"), what),
        Err(e) => page(
            state,
            c,
            id,
            e.status,
            Some(c.refusal(&e)),
            &Done { done: None },
        ),
    }
}

/// `POST /console/raffles/{id}/open`.
pub async fn open(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<RaffleId>,
) -> Response {
    let result = operations::open_raffle(&state, &c.staff, &id).await;
    after(&state, &c, &id, result, "opened")
}

/// `POST /console/raffles/{id}/close`: sales close now (GLI-31 2.6.2).
pub async fn close(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<RaffleId>,
) -> Response {
    let result = operations::close_raffle(&state, &c.staff, &id).await;
    after(&state, &c, &id, result, "closed")
}

/// `GET /console/raffles/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<RaffleId>,
    d: Query<Done>,
) -> Response {
    page(&state, &c, &id, StatusCode::OK, None, &d)
}

/// A draw's progress, in words.
pub fn draw_progress(lang: Lang, s: Option<&raffle_core::ledger::DrawState>) -> &'static str {
    match s {
        Some(s) if s.claimed => lang.t("console.draw.claimed"),
        Some(s) if s.winner.is_some() => lang.t("console.draw.performed"),
        Some(s) if s.frozen.is_some() => lang.t("console.draw.frozen"),
        Some(s) if s.reconciled => lang.t("console.draw.reconciled"),
        _ => lang.t("console.draw.waiting"),
    }
}

fn page(
    state: &AppState,
    c: &Console,
    id: &str,
    status: StatusCode,
    problem: Option<Markup>,
    d: &Done,
) -> Response {
    let lang = c.lang;
    let path = format!("/console/raffles/{id}");
    let ledger = state.sequencer.ledger();
    let Some(r) = ledger.raffle(id) else {
        return c.refused_page(crate::error::AppError::not_found("no such raffle"), &path);
    };
    let cfg = &r.config;
    let zone = cfg.time_zone.as_str();
    let content = html! {
        h1 { (cfg.name) }
        (d.notice(lang))
        @if let Some(p) = problem { (p) }
        dl.receipt {
            dt { (lang.t("console.raffle.status")) } dd { span.status { (crate::site::raffles::status_text(lang, r.status)) } }
            dt { (lang.t("console.f.organisation")) } dd { (cfg.organisation) }
            @if let Some(l) = &cfg.licence { dt { (lang.t("console.f.licence")) } dd { (l) } }
            dt { (lang.t("console.f.jurisdiction")) } dd { (cfg.jurisdiction) }
            dt { (lang.t("console.f.sales_start")) } dd { (lang.time(cfg.sales_start, zone)) }
            dt { (lang.t("console.f.sales_end")) } dd { (lang.time(cfg.sales_end, zone)) }
            dt { (lang.t("console.raffle.sold")) } dd { (lang.count(r.sold_numbers())) }
            dt { (lang.t("console.raffle.gross")) } dd { (lang.money(r.gross)) }
            dt { (lang.t("console.raffle.net")) } dd { (lang.money(r.net)) }
            dt { (lang.t("raffle.jackpot")) } dd { (lang.money(r.jackpot())) }
        }
        @if r.status != Status::Draft {
            p { a href=(href_public(lang, id)) { (lang.t("console.raffle.public")) } }
        }
        @if c.may(MANAGER) {
            div.actions {
                @if r.status == Status::Draft {
                    p { a href=(c.href(&format!("/console/raffles/{id}/edit"))) { (lang.t("console.raffle.edit")) } }
                    form method="post" action=(c.href(&format!("/console/raffles/{id}/open"))) {
                        (c.csrf_field())
                        p.note { (lang.t("console.raffle.open.note")) }
                        button type="submit" { (lang.t("console.raffle.open")) }
                    }
                }
                @if r.status == Status::Open {
                    form method="post" action=(c.href(&format!("/console/raffles/{id}/close"))) {
                        (c.csrf_field())
                        p.note { (lang.t("console.raffle.close.note")) }
                        button type="submit" { (lang.t("console.raffle.close")) }
                    }
                }
            }
        }
        h2 { (lang.t("raffle.draws")) }
        div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
            table {
                thead { tr {
                    th scope="col" { (lang.t("console.f.draw.name")) }
                    th scope="col" { (lang.t("console.f.draw.cutoff")) }
                    th scope="col" { (lang.t("console.draw.progress")) }
                    th scope="col" { (lang.t("console.draw.winner")) }
                    th scope="col" { (lang.t("console.draw.links")) }
                } }
                tbody {
                    @for dc in &cfg.draws {
                        @let s = r.draws.get(&dc.id);
                        tr {
                            td { (dc.name) }
                            td { (lang.time(dc.cutoff, zone)) }
                            td { (draw_progress(lang, s)) }
                            td { @if let Some(w) = s.and_then(|s| s.winner.as_ref()) { (w.number) } @else { "—" } }
                            td {
                                a href=(c.href(&format!("/console/raffles/{id}/draws/{}", dc.id))) { (lang.t("console.draw.ceremony")) }
                                @if c.may(crate::routes::roles::FIGURES) {
                                    " · " a href=(c.href(&format!("/console/raffles/{id}/draws/{}/reconciliation", dc.id))) { (lang.t("console.reconciliation.title")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    c.page(status, &cfg.name.clone(), &path, content)
}

fn href_public(lang: Lang, id: &str) -> String {
    super::href(lang, &format!("/raffles/{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_shares_and_times_are_read_without_floating_point() {
        assert_eq!(parse_amount("12"), Some(1200));
        assert_eq!(parse_amount("12.5"), Some(1250));
        assert_eq!(parse_amount("12.05"), Some(1205));
        assert_eq!(parse_amount("1,234.50"), Some(123_450));
        assert_eq!(parse_amount("12,50"), Some(1250));
        assert_eq!(parse_amount("1 234,5"), Some(123_450));
        assert_eq!(parse_amount("12.345"), None);
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("1e3"), None);
        assert_eq!(parse_amount(""), None);
        assert_eq!(parse_amount("99999999999999999999"), None);
        assert_eq!(parse_share("50"), Some(5000));
        assert_eq!(parse_share("12.5"), Some(1250));
        assert_eq!(parse_share("0"), None);
        assert_eq!(parse_share("100.01"), None);
        // 18:00 in Toronto in December is 23:00 UTC, and back.
        let t = parse_local_time("2026-12-20T18:00", "America/Toronto").unwrap();
        assert_eq!(t.to_string(), "2026-12-20T23:00:00.000000Z");
        assert_eq!(local_time(t, "America/Toronto"), "2026-12-20 18:00");
        assert_eq!(
            parse_local_time("2026-12-20 18:00", "America/Toronto"),
            Some(t)
        );
        assert_eq!(
            parse_local_time("2026-12-20T18:00:30", "America/Toronto")
                .unwrap()
                .to_string(),
            "2026-12-20T23:00:30.000000Z"
        );
        assert_eq!(parse_local_time("2026-12-20 18h", "America/Toronto"), None);
        assert_eq!(
            parse_local_time("2026-12-20 6:00 PM", "America/Toronto"),
            None
        );
        assert_eq!(parse_local_time("2026-12-20T18:00", "Mars/Olympus"), None);
    }

    #[test]
    fn the_starting_form_reads_back_as_its_configuration() {
        let cfg = RaffleConfig {
            name: "Spring 50/50".into(),
            organisation: "Hospital Foundation".into(),
            ..starting_config()
        };
        // Round the times to seconds, as the form does.
        let minute =
            |t: Timestamp| Timestamp::from_micros(t.as_micros() - t.as_micros() % 1_000_000);
        let cfg = RaffleConfig {
            sales_start: minute(cfg.sales_start),
            sales_end: minute(cfg.sales_end),
            draws: cfg
                .draws
                .iter()
                .map(|d| DrawConfig {
                    cutoff: minute(d.cutoff),
                    draw_at: minute(d.draw_at),
                    ..d.clone()
                })
                .collect(),
            ..cfg
        };
        let c = Console::for_tests();
        let html = form(&c, "/x", &cfg, "console.form.create").into_string();
        // Every input's value, as a browser would post them.
        let mut body = Vec::new();
        let doc = html.replace("&amp;", "&");
        for input in doc.split("<input").skip(1) {
            let input = input.split('>').next().unwrap();
            let attr = |a: &str| {
                input
                    .split_once(&format!(" {a}=\""))
                    .map(|(_, rest)| rest.split('"').next().unwrap().to_string())
            };
            let (Some(name), value) = (attr("name"), attr("value")) else {
                continue;
            };
            if attr("type").as_deref() == Some("checkbox") && !input.contains(" checked") {
                continue;
            }
            body.push((name, value.unwrap_or_default()));
        }
        for select in doc.split("<select").skip(1) {
            let name = select
                .split_once(" name=\"")
                .unwrap()
                .1
                .split('"')
                .next()
                .unwrap();
            let chosen = select
                .split("<option")
                .find(|o| o.contains(" selected"))
                .or_else(|| select.split("<option").nth(1))
                .unwrap();
            let value = chosen
                .split_once(" value=\"")
                .unwrap()
                .1
                .split('"')
                .next()
                .unwrap();
            body.push((name.to_string(), value.to_string()));
        }
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&body)
            .finish();
        let read = config_from(&Fields::parse(encoded.as_bytes())).unwrap_or_else(|e| {
            panic!("{} {}: {encoded}", e.field, e.problem);
        });
        assert_eq!(read, cfg);
    }
}
