//! Significant events and data changes, searchable by date range,
//! component and event type (GLI-31 5.6.2), newest first, a page at a time
//! (the next page starts below the last event shown).

use super::Console;
use crate::AppState;
use crate::error::AppError;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// Events on a page.
const PAGE: i64 = 50;

#[derive(serde::Deserialize, Default)]
pub struct Search {
    /// Dates (`YYYY-MM-DD`, UTC), both included.
    from: Option<String>,
    to: Option<String>,
    component: Option<String>,
    kind: Option<String>,
    before: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A date's first instant (UTC); with `next`, the next day's.
fn day(text: &str, next: bool) -> Result<time::OffsetDateTime, AppError> {
    let bad = || AppError::bad_request(format!("{text:?} is not a date (YYYY-MM-DD)"));
    let mut parts = text.splitn(3, '-');
    let mut next_part = || {
        parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let (y, m, d) = (next_part(), next_part(), next_part());
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(bad());
    };
    let month = time::Month::try_from(m.parse::<u8>().map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(
        y.parse().map_err(|_| bad())?,
        month,
        d.parse().map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let date = if next {
        date.next_day()
            .ok_or_else(|| AppError::bad_request("date out of range"))?
    } else {
        date
    };
    Ok(date.midnight().assume_utc())
}

/// `GET /console/events`.
pub async fn search(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Query(q): Query<Search>,
) -> Response {
    let lang = c.lang;
    let found = async {
        let from = nonempty(&q.from).map(|d| day(d, false)).transpose()?;
        let to = nonempty(&q.to).map(|d| day(d, true)).transpose()?;
        let before = nonempty(&q.before)
            .map(|b| {
                b.parse::<i64>()
                    .map_err(|_| AppError::bad_request("before must be an event id"))
            })
            .transpose()?;
        Ok::<_, AppError>(
            state
                .store
                .events(
                    from,
                    to,
                    nonempty(&q.component),
                    nonempty(&q.kind),
                    before,
                    PAGE + 1,
                )
                .await?,
        )
    }
    .await;
    let (status, events, problem) = match found {
        Ok(e) => (StatusCode::OK, e, None),
        Err(e) => (e.status, Vec::new(), Some(c.refusal(&e))),
    };
    let more = events.len() as i64 > PAGE;
    let shown = &events[..events.len().min(PAGE as usize)];
    let next = shown.last().and_then(|e| e["id"].as_str()).map(|last| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("lang", lang.tag());
        for (k, v) in [
            ("from", &q.from),
            ("to", &q.to),
            ("component", &q.component),
            ("kind", &q.kind),
        ] {
            if let Some(v) = nonempty(v) {
                s.append_pair(k, v);
            }
        }
        s.append_pair("before", last);
        format!("/console/events?{}", s.finish())
    });
    let value = |v: &Option<String>| nonempty(v).unwrap_or("").to_string();
    let content = html! {
        h1 { (lang.t("console.events.title")) }
        @if let Some(p) = problem { (p) }
        form.filters method="get" action="/console/events" {
            input type="hidden" name="lang" value=(lang.tag());
            div.row {
                p { label for="from" { (lang.t("console.events.from")) } br; input #from name="from" type="date" value=(value(&q.from)); }
                p { label for="to" { (lang.t("console.events.to")) } br; input #to name="to" type="date" value=(value(&q.to)); }
                p { label for="component" { (lang.t("console.events.component")) } br; input #component name="component" type="text" size="12" value=(value(&q.component)); }
                p { label for="kind" { (lang.t("console.events.kind")) } br; input #kind name="kind" type="text" size="16" value=(value(&q.kind)); }
            }
            p { button type="submit" { (lang.t("console.events.search")) } }
        }
        p.note { (lang.t("console.events.utc")) }
        @if shown.is_empty() { p { (lang.t("console.events.none")) } }
        @else {
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("console.events.time")) }
                        th scope="col" { (lang.t("console.events.component")) }
                        th scope="col" { (lang.t("console.events.kind")) }
                        th scope="col" { (lang.t("console.events.user")) }
                        th scope="col" { (lang.t("console.events.detail")) }
                    } }
                    tbody {
                        @for e in shown {
                            tr {
                                td { @if let Ok(t) = raffle_core::Timestamp::parse(e["time"].as_str().unwrap_or_default()) { (lang.time(t, "UTC")) } }
                                td { (e["component"].as_str().unwrap_or_default()) }
                                td { (e["kind"].as_str().unwrap_or_default()) }
                                td { code { (e["user"].as_str().unwrap_or("—")) } }
                                td { code { (e["detail"].to_string()) } }
                            }
                        }
                    }
                }
            }
        }
        @if more { @if let Some(n) = next { p { a href=(n) rel="next" { (lang.t("console.events.next")) } } } }
    };
    c.page(
        status,
        lang.t("console.events.title"),
        "/console/events",
        content,
    )
}
