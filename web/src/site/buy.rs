//! Buying on the site: the form on the raffle page, the receipt (every
//! GLI-31 2.3.1 field, the validation number as text and as a QR code, the
//! `.tlog-proof` download), and the order page of a payment confirmed
//! later, which updates itself (a meta refresh: no script needed) until the
//! tickets are issued.
//!
//! The form goes through the JSON API's own purchase path
//! ([`crate::api::public::purchase`]): the same buyer checks, the same order and
//! issuing code. Its hidden `order_key` is the idempotency key, so a form
//! sent twice (a double click, a reload) buys once.

use super::{LangQuery, csrf, href, lang, layout, no_store};
use crate::AppState;
use crate::i18n::Lang;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use maud::{Markup, PreEscaped, html};
use raffle_core::ledger::RaffleState;
use raffle_core::{Money, Timestamp};
use serde_json::{Value, json};

/// The purchase form of an open raffle, offering the configured payment
/// providers (none configured: online sales are closed, and no form).
pub fn form(
    lang: Lang,
    r: &RaffleState,
    token: &str,
    providers: &crate::app::payments::Providers,
) -> Markup {
    let test = providers.names().contains(&"test");
    if !test && !providers.cards() {
        return html! { p.note { (lang.t("buy.closed")) } };
    }
    let c = &r.config;
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).expect("the OS random number generator");
    let order_key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
    html! {
        form method="post" action=(href(lang, &format!("/raffles/{}/buy", r.id))) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            input type="hidden" name="order_key" value=(order_key);
            fieldset {
                legend { (lang.t("buy.package")) }
                @for (i, p) in c.packages.iter().enumerate() {
                    p {
                        input type="radio" name="package_id" id=(format!("package-{}", p.id)) value=(p.id) checked[i == 0];
                        " "
                        label for=(format!("package-{}", p.id)) {
                            (lang.plural("raffle.package", u64::from(p.tickets), &[("price", &lang.money(p.price))]))
                        }
                    }
                }
            }
            p {
                label for="quantity" { (lang.t("buy.quantity")) }
                br;
                input #quantity name="quantity" type="number" min="1" max="100" value="1" required;
            }
            p {
                input #age name="age_confirmed" type="checkbox" value="yes" required;
                " "
                label for="age" { (lang.f("buy.age", &[("age", &c.buyers.minimum_age.to_string())])) }
            }
            p {
                label for="region" { (lang.t("buy.region")) }
                br;
                select #region name="region" {
                    @for region in &c.buyers.regions { option value=(region) { (region) } }
                }
            }
            p {
                label for="payment" { (lang.t("buy.payment")) }
                br;
                select #payment name="payment" {
                    @if providers.cards() { option value="card" { (lang.t("buy.payment.card")) } }
                    @if test {
                        option value="now" { (lang.t("buy.payment.test")) }
                        option value="later" { (lang.t("buy.payment.test.later")) }
                    }
                }
            }
            p {
                label for="email" { (lang.t("buy.email")) }
                br;
                input #email name="email" type="email" maxlength="254" autocomplete="email" aria-describedby="email-note";
                br;
                small #email-note { (lang.t("buy.email.note")) }
            }
            p { button type="submit" { (lang.t("buy.submit")) } }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct BuyForm {
    csrf: Option<String>,
    order_key: Option<String>,
    package_id: Option<String>,
    quantity: Option<String>,
    age_confirmed: Option<String>,
    region: Option<String>,
    payment: Option<String>,
    email: Option<String>,
}

/// A page saying what went wrong, with a way back to the raffle.
fn failed(lang: Lang, status: StatusCode, raffle: &str, reason: &str) -> Response {
    let path = format!("/raffles/{raffle}");
    let content = html! {
        h1 { (lang.t("buy.title")) }
        p.error role="alert" { (lang.f("buy.failed", &[("reason", reason)])) }
        p { a href=(href(lang, &path)) { (lang.t("raffles.view")) } }
    };
    no_store(
        layout(lang, status, lang.t("buy.title"), &path, content),
        None,
    )
}

/// `POST /raffles/{id}/buy`.
pub async fn buy(
    State(state): State<AppState>,
    Path(raffle): Path<String>,
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<BuyForm>,
) -> Response {
    let lang = lang(&q, &headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        return failed(
            lang,
            StatusCode::FORBIDDEN,
            &raffle,
            lang.t("check.expired"),
        );
    }
    let quantity = f
        .quantity
        .as_deref()
        .unwrap_or("1")
        .trim()
        .parse::<u32>()
        .unwrap_or(0);
    // The form offers the test provider only where it is configured; the
    // purchase path refuses it elsewhere.
    let payment = match f.payment.as_deref() {
        Some("card") => json!({ "provider": "stripe" }),
        Some("later") => json!({ "provider": "test", "confirm": "later" }),
        _ => json!({ "provider": "test" }),
    };
    let email = f
        .email
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    let body = json!({
        "package_id": f.package_id.unwrap_or_default(),
        "quantity": quantity,
        "buyer": { "age_confirmed": f.age_confirmed.as_deref() == Some("yes"), "region": f.region.unwrap_or_default(), "email": email },
        "payment": payment,
    });
    let mut api_headers = HeaderMap::new();
    if let Some(key) = f.order_key.filter(|k| !k.is_empty() && k.len() <= 64)
        && let Ok(v) = HeaderValue::from_str(&format!("form-{key}"))
    {
        api_headers.insert("idempotency-key", v);
    }
    let Ok(raffle_id) = raffle_core::ids::RaffleId::parse(&raffle) else {
        return failed(
            lang,
            StatusCode::NOT_FOUND,
            &raffle,
            lang.t("raffle.notfound"),
        );
    };
    let resp = match crate::api::public::purchase(
        State(state.clone()),
        crate::api::Ids(raffle_id),
        api_headers,
        axum::body::Bytes::from(body.to_string()),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    match status {
        StatusCode::CREATED | StatusCode::OK => receipt_page(&state, lang, &v).await,
        StatusCode::ACCEPTED => {
            // The order's token goes into a cookie set with the redirect,
            // never into a URL, which carries only the order id. A card
            // payment goes to the provider's page first (its URL is the
            // one raffled got from the provider, not the buyer's), which
            // sends the buyer back to the order page.
            let order = v["order_id"].as_str().unwrap_or_default();
            let token = v["order_token"].as_str().unwrap_or_default();
            let next = match v["payment_url"].as_str() {
                Some(url) => url.to_string(),
                None => href(lang, &format!("/orders/{order}")),
            };
            let mut resp = axum::response::Redirect::to(&next).into_response();
            *resp.status_mut() = StatusCode::SEE_OTHER;
            no_store(
                resp,
                Some(super::set_cookie_lax(
                    &order_cookie(order),
                    token,
                    "/orders",
                    Some(ORDER_COOKIE_SECONDS),
                )),
            )
        }
        _ => failed(
            lang,
            status,
            &raffle,
            v["error"]
                .as_str()
                .unwrap_or("the server refused the order"),
        ),
    }
}

/// The receipt (GLI-31 2.3.1) from the API's receipt JSON.
async fn receipt_page(state: &AppState, lang: Lang, r: &Value) -> Response {
    let raffle = r["raffle_id"].as_str().unwrap_or_default();
    let texts = super::jurisdiction_texts(state, raffle).await;
    let minimum_age = state
        .sequencer
        .ledger()
        .raffle(raffle)
        .map(|r| r.config.buyers.minimum_age);
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    let zone = s("time_zone");
    let time = |v: &Value| {
        v.as_str()
            .and_then(|t| Timestamp::parse(t).ok())
            .map(|t| lang.time(t, &zone))
            .unwrap_or_default()
    };
    let money = serde_json::from_value::<Money>(r["price"].clone()).ok();
    let vn = s("validation_number");
    let qr = qrcode::QrCode::new(vn.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(180, 180)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    // The SVG is ours (no text of the buyer's in it); drop its XML prolog.
    let qr = qr
        .split_once("<svg")
        .map(|(_, rest)| format!("<svg role=\"img\" aria-labelledby=\"qr-label\"{rest}"))
        .unwrap_or_default();
    let n = &r["draw_numbers"];
    let sale = s("sale_id");
    let raffle = s("raffle_id");
    let content = html! {
        h1 { (lang.t("receipt.title")) }
        @if r["demo"].is_string() { p.demo role="note" { strong { (lang.t("site.demo")) } } }
        p.note { (lang.t("receipt.keep")) }
        dl.receipt {
            dt { (lang.t("receipt.organisation")) } dd { (s("organisation")) }
            dt { (lang.t("receipt.event")) } dd { a href=(href(lang, &format!("/raffles/{raffle}"))) { (s("raffle_name")) } }
            @if let Some(l) = r["licence"].as_str() { dt { (lang.t("receipt.licence")) } dd { (l) } }
            dt { (lang.t("receipt.jurisdiction")) } dd { (s("jurisdiction")) }
            dt { (lang.t("receipt.numbers")) }
            dd { (lang.plural("receipt.numbers.range", n["count"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0), &[("first", n["first"].as_str().unwrap_or("")), ("last", n["last"].as_str().unwrap_or(""))])) }
            dt { (lang.t("receipt.issued")) } dd { (time(&r["issued_at"])) }
            dt { (lang.t("receipt.unit")) }
            dd { @if s("sales_unit") == "online" { (lang.t("receipt.unit.online")) } @else { (s("sales_unit")) } }
            @if let Some(m) = money { dt { (lang.t("receipt.price")) } dd { (lang.money(m)) } }
            dt { (lang.t("receipt.validation")) } dd { strong.vn { (vn) } }
        }
        figure.qr {
            (PreEscaped(qr))
            figcaption #qr-label { (lang.t("receipt.qr")) }
        }
        h2 { (lang.t("receipt.draws")) }
        ul {
            @for d in r["draws"].as_array().into_iter().flatten() {
                li { (lang.f("receipt.draw", &[("name", d["name"].as_str().unwrap_or("")), ("time", &time(&d["draw_at"]))])) }
            }
        }
        @if let Some(age) = minimum_age { p { (lang.f("receipt.age", &[("age", &age.to_string())])) } }
        @if let Some(t) = &texts { p #help-line { (lang.f("raffle.help_line", &[("line", &t.help_line)])) } }
        p { (lang.f("receipt.log", &[("index", &s("log_index"))])) }
        p { a href=(format!("/sales/{sale}/receipt.tlog-proof")) download { (lang.t("check.download")) } }
        p { a href=(href(lang, "/tickets/check")) { (lang.t("check.title")) } }
    };
    no_store(
        layout(
            lang,
            StatusCode::OK,
            lang.t("receipt.title"),
            &format!("/raffles/{raffle}"),
            content,
        ),
        None,
    )
}

/// The cookie holding an order's token (one per order, so that two orders
/// in two tabs do not take each other's place).
fn order_cookie(order: &str) -> String {
    format!("raffle_order_{order}")
}

/// How long the browser keeps an order's cookie: as long as the receipt
/// with its validation number is kept after a card payment's session
/// (30 minutes) ends.
const ORDER_COOKIE_SECONDS: u64 = 25 * 3600;

/// `GET /orders/{id}`: pending (refreshing itself), refunded, or the
/// receipt, for the browser holding the order's cookie (the order id alone
/// is public: it is the sale id in the log).
pub async fn order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    let path = format!("/orders/{id}");
    let valid_id = raffle_core::ids::check_uuid("order id", &id).is_ok();
    let token = valid_id
        .then(|| super::cookies(&headers, &order_cookie(&id)).next())
        .flatten();
    let v = match crate::api::public::order_view(&state, &id, token).await {
        Ok(v) => v,
        Err(_) => {
            let content = html! { h1 { (lang.t("order.unknown")) } };
            return no_store(
                layout(
                    lang,
                    StatusCode::NOT_FOUND,
                    lang.t("order.title"),
                    &path,
                    content,
                ),
                None,
            );
        }
    };
    match v["status"].as_str() {
        Some("issued") if v["receipt"].is_object() => {
            receipt_page(&state, lang, &v["receipt"]).await
        }
        Some("cancelled") => {
            let reason = v["refusal"].as_str().unwrap_or("").to_string();
            let content = html! { h1 { (lang.t("order.title")) } p.error role="alert" { (lang.f("order.cancelled", &[("reason", &reason)])) } };
            no_store(
                layout(lang, StatusCode::OK, lang.t("order.title"), &path, content),
                None,
            )
        }
        Some("refunded") => {
            let stored = v["refusal"].as_str().unwrap_or("").to_string();
            let reason =
                crate::i18n::refusal_by_code(lang, &v["refusal_code"], &v["refusal_params"])
                    .unwrap_or(stored);
            let reason = reason.as_str();
            let content = html! { h1 { (lang.t("order.title")) } p.error role="alert" { (lang.f("order.refunded", &[("reason", reason)])) } };
            no_store(
                layout(lang, StatusCode::OK, lang.t("order.title"), &path, content),
                None,
            )
        }
        _ => {
            let content = html! {
                h1 { (lang.t("order.title")) }
                p role="status" { (lang.t("order.pending")) }
            };
            let mut resp = no_store(
                layout(lang, StatusCode::OK, lang.t("order.title"), &path, content),
                None,
            );
            // Without script: the browser asks again in 2 seconds.
            resp.headers_mut()
                .insert(header::REFRESH, HeaderValue::from_static("2"));
            resp
        }
    }
}
