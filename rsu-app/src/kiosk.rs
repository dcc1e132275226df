//! The kiosk shell: the operator's UI on 127.0.0.1, server-rendered for
//! the terminal's kiosk browser (phone-sized, large touch targets, English
//! and French), and a background sync that uploads whenever the network
//! is there (GLI-31 6.1.4).
//!
//! Every function on screen is one this page documents (3.2.4): sign in
//! and out, sell, reprint or void a ticket that did not print (with a
//! second operator), record the cash float or a drop, sync, change the
//! language. There is no other route.
//!
//! Assumptions and defences: the UI listens on loopback only; a request
//! whose Host is not the loopback address it listens on is refused (a web
//! page elsewhere cannot rebind a name to it), and every form carries a
//! per-process token (CSRF). The unit is one object behind a mutex: an
//! action waits for a sync in flight (at most the HTTP timeout).

use crate::i18n::Lang;
use crate::printer::Problem;
use crate::unit::{Overview, Tender, Unit};
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use raffle_core::entry::VoidReason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the background sync runs.
const SYNC_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Kiosk {
    unit: Arc<Mutex<Unit>>,
    /// The last action's outcome: (ok, text), shown once.
    flash: Arc<Mutex<Option<(bool, String)>>>,
    lang: Arc<Mutex<Lang>>,
    csrf: Arc<String>,
    host: Arc<Vec<String>>,
    /// The browser session of the operator signed in (an HttpOnly cookie):
    /// another local program that reads the page's form token still cannot
    /// act under their session.
    session: Arc<Mutex<Option<String>>>,
}

const SESSION_COOKIE: &str = "rsu_session";

/// Serves the kiosk on `listen` (a loopback address) until stopped.
pub fn serve(unit: Unit, listen: std::net::SocketAddr) -> crate::Result<()> {
    if !listen.ip().is_loopback() {
        return Err(crate::Error::Refused(
            "the kiosk listens on a loopback address only".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| crate::Error::Refused(e.to_string()))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| crate::Error::Refused(format!("{listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| crate::Error::Refused(e.to_string()))?;
        eprintln!("raffle-rsu: the kiosk is on http://{addr}/");
        let app = router(Arc::new(Mutex::new(unit)), addr)?;
        axum::serve(listener, app)
            .await
            .map_err(|e| crate::Error::Refused(e.to_string()))
    })
}

/// The kiosk's routes for a unit served at `addr`, with its background
/// sync started.
pub fn router(unit: Arc<Mutex<Unit>>, addr: std::net::SocketAddr) -> crate::Result<Router> {
    let csrf = crate::server::nonce().map_err(crate::Error::Random)?;
    let k = Kiosk {
        unit: unit.clone(),
        flash: Arc::default(),
        lang: Arc::default(),
        csrf: Arc::new(csrf),
        session: Arc::default(),
        host: Arc::new(vec![addr.to_string(), format!("localhost:{}", addr.port())]),
    };
    std::thread::spawn(move || {
        loop {
            {
                let mut u = unit.lock().expect("the unit");
                let due =
                    u.waiting().unwrap_or(0) > 0 || u.overview().map(|o| !o.online).unwrap_or(true);
                if due {
                    let _ = u.sync();
                }
            }
            std::thread::sleep(SYNC_EVERY);
        }
    });
    Ok(Router::new()
        .route("/", get(page))
        .route("/kiosk.css", get(css))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/sell", post(sell))
        .route("/reprint", post(reprint))
        .route("/void", post(void))
        .route("/cash", post(cash))
        .route("/sync", post(sync))
        .route("/lang", post(lang))
        .with_state(k))
}

fn host_ok(k: &Kiosk, headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| k.host.iter().any(|ok| ok == h))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

/// The session cookie the browser sent, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The Host and CSRF checks every form passes, and for an operator's
/// action, the browser's session: the refusal, if any.
fn guard(
    k: &Kiosk,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    operator: bool,
) -> Option<Response> {
    if !host_ok(k, headers) {
        return Some(refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "not this kiosk's address",
        ));
    }
    if form.get("csrf").map(String::as_str) != Some(k.csrf.as_str()) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "the form is stale: reload the page",
        ));
    }
    if operator {
        let held = k.session.lock().expect("session").clone();
        if held.is_none() || held != session_cookie(headers) {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "sign in on this screen first",
            ));
        }
    }
    None
}

/// Runs `f` on the unit off the async threads, after the checks of
/// [`guard`] (an operator's action needs the browser's session); the
/// outcome is shown on the next page.
async fn act(
    k: Kiosk,
    headers: HeaderMap,
    form: HashMap<String, String>,
    operator: bool,
    f: impl FnOnce(&mut Unit, &HashMap<String, String>, Lang) -> Result<String, String> + Send + 'static,
) -> Response {
    if let Some(refused) = guard(&k, &headers, &form, operator) {
        return refused;
    }
    let lang = *k.lang.lock().expect("lang");
    let unit = k.unit.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut u = unit.lock().expect("the unit");
        f(&mut u, &form, lang)
    })
    .await
    .unwrap_or_else(|_| Err("the action failed".into()));
    *k.flash.lock().expect("flash") = Some(match outcome {
        Ok(t) => (true, t),
        Err(t) => (false, t),
    });
    Redirect::to("/").into_response()
}

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    form.get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{name} is required"))
}

/// An amount typed as `20`, `20.5` or `20.50`, in minor units.
pub fn parse_amount(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not an amount (e.g. 20.00)");
    let (major, minor) = match text.trim().split_once('.') {
        Some((a, b)) => (a, b),
        None => (text.trim(), ""),
    };
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) || major.len() > 9 {
        return Err(bad());
    }
    if minor.len() > 2 || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let major: u64 = major.parse().map_err(|_| bad())?;
    let cents: u64 = match minor.len() {
        0 => 0,
        1 => minor.parse::<u64>().map_err(|_| bad())? * 10,
        _ => minor.parse().map_err(|_| bad())?,
    };
    major
        .checked_mul(100)
        .and_then(|m| m.checked_add(cents))
        .ok_or_else(bad)
}

async fn sign_in(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = guard(&k, &headers, &form, false) {
        return refused;
    }
    let unit = k.unit.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut u = unit.lock().expect("the unit");
        u.sign_in(field(&form, "staff")?, field(&form, "pin")?)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err("the action failed".into()));
    let mut r = Redirect::to("/").into_response();
    match outcome {
        Ok(()) => {
            let token = match crate::server::nonce() {
                Ok(t) => t,
                Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
            };
            *k.session.lock().expect("session") = Some(token.clone());
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
        Err(e) => *k.flash.lock().expect("flash") = Some((false, e)),
    }
    r
}

async fn sign_out(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = k.session.clone();
    act(k, headers, form, true, move |u, _, _| {
        u.sign_out().map_err(|e| e.to_string())?;
        *session.lock().expect("session") = None;
        Ok(String::new())
    })
    .await
}

async fn sell(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    act(k, headers, form, true, |u, f, lang| {
        let raffle = field(f, "raffle")?
            .parse()
            .map_err(|_| "no such raffle".to_string())?;
        let package = field(f, "package")?
            .parse()
            .map_err(|_| "choose a package".to_string())?;
        let quantity: u32 = field(f, "quantity")?
            .parse()
            .map_err(|_| "the quantity is a whole number".to_string())?;
        let tender = match field(f, "pay")? {
            "card" => Tender::Card,
            _ => Tender::Cash(parse_amount(field(f, "tendered")?)?),
        };
        let sale = u
            .sell(&raffle, &package, quantity, tender, lang)
            .map_err(|e| e.to_string())?;
        let first = sale.record.numbers.first.0;
        let last = first + sale.record.numbers.count.0 - 1;
        let mut text = format!("{} {}: {first}-{last}.", lang.t("Sale"), sale.record.seq.0);
        if sale.change > 0 {
            text.push_str(&format!(
                " {}: {}.",
                lang.t("Change"),
                crate::ticket::money(raffle_core::Money::new(
                    sale.change,
                    sale.record.price.currency
                ))
            ));
        }
        match sale.printed {
            Ok(()) => Ok(text),
            Err(p) => Err(format!(
                "{text} {}: {}",
                lang.t("Ticket not printed"),
                lang.t(p.code())
            )),
        }
    })
    .await
}

async fn reprint(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    act(k, headers, form, true, |u, f, lang| {
        let seq = field(f, "seq")?
            .parse()
            .map_err(|_| "no such sale".to_string())?;
        match u
            .reprint(seq, field(f, "supervisor")?, field(f, "pin")?, lang)
            .map_err(|e| e.to_string())?
        {
            Ok(()) => Ok(format!("{} {seq}: {}", lang.t("Sale"), lang.t("Reprint"))),
            Err(p) => Err(format!(
                "{}: {}",
                lang.t("Ticket not printed"),
                lang.t(p.code())
            )),
        }
    })
    .await
}

async fn void(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    act(k, headers, form, true, |u, f, lang| {
        let seq = field(f, "seq")?
            .parse()
            .map_err(|_| "no such sale".to_string())?;
        let reason: VoidReason = serde_json::from_value(serde_json::json!(field(f, "reason")?))
            .map_err(|_| "choose a reason".to_string())?;
        u.void(seq, reason, field(f, "supervisor")?, field(f, "pin")?)
            .map_err(|e| e.to_string())?;
        Ok(format!("{} {seq}: {}", lang.t("Sale"), lang.t("Void")))
    })
    .await
}

async fn cash(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    act(k, headers, form, true, |u, f, lang| {
        let amount = parse_amount(field(f, "amount")?)?;
        u.cash(field(f, "kind")?, amount)
            .map_err(|e| e.to_string())?;
        Ok(lang.t("Record").to_string())
    })
    .await
}

async fn sync(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    act(k, headers, form, false, |u, _, lang| {
        let s = u.sync().map_err(|e| e.to_string())?;
        Ok(if s.waiting == 0 {
            lang.t("All sales uploaded").to_string()
        } else {
            format!("{} {}", s.waiting, lang.t("sales waiting to upload"))
        })
    })
    .await
}

async fn lang(
    State(k): State<Kiosk>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let to = form.get("lang").and_then(|l| Lang::parse(l));
    let l = k.lang.clone();
    act(k, headers, form, false, move |_, _, _| {
        if let Some(to) = to {
            *l.lock().expect("lang") = to;
        }
        Ok(String::new())
    })
    .await
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/css"))],
        CSS,
    )
        .into_response()
}

async fn page(State(k): State<Kiosk>, headers: HeaderMap) -> Response {
    if !host_ok(&k, &headers) {
        return refuse(StatusCode::MISDIRECTED_REQUEST, "not this kiosk's address");
    }
    let lang = *k.lang.lock().expect("lang");
    let flash = k.flash.lock().expect("flash").take();
    let unit = k.unit.clone();
    let view = tokio::task::spawn_blocking(move || {
        let mut u = unit.lock().expect("the unit");
        u.overview().map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|_| Err("the unit failed".into()));
    let body = match view {
        Ok(o) => render(&o, lang, flash, &k.csrf),
        Err(e) => html! { p role="alert" { (e) } },
    };
    let mut r = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "raffle-rsu" }
                link rel="stylesheet" href="/kiosk.css";
            }
            body { main { (body) } }
        }
    }
    .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn render(o: &Overview, l: Lang, flash: Option<(bool, String)>, csrf: &str) -> Markup {
    let signed_in = o.session.as_ref().is_some_and(|s| s.locked.is_none());
    html! {
        header {
            p.identity { (o.software) " · " (o.rsu) }
            @if let Some(s) = &o.session {
                p.status { (l.t("Operator")) ": " (s.operator) }
            }
            p.status {
                @if o.online { span.ok { (l.t("Online")) } } @else { span.bad { (l.t("Offline")) } }
                " · "
                @if o.waiting == 0 { (l.t("All sales uploaded")) }
                @else { (o.waiting) " " (l.t("sales waiting to upload")) }
            }
            @if !o.online { @if let Some(e) = &o.last_error {
                p.status.warn { (e) }
            } }
            p.status {
                (l.t("Printer")) ": "
                @let problems = o.printer.problems();
                @if problems.is_empty() { (l.t("Ready")) }
                @else {
                    @for (i, p) in problems.iter().enumerate() {
                        @if i > 0 { ", " }
                        span class=(if p.blocks() { "bad" } else { "warn" }) { (l.t(p.code())) }
                    }
                }
            }
            form method="post" action="/lang" {
                (csrf_field(csrf))
                @if l == Lang::En {
                    button.link type="submit" name="lang" value="fr" lang="fr" { "Français" }
                } @else {
                    button.link type="submit" name="lang" value="en" lang="en" { "English" }
                }
            }
        }
        @if let Some((ok, text)) = &flash {
            @if !text.is_empty() {
                p role=(if *ok { "status" } else { "alert" }) class=(if *ok { "flash ok" } else { "flash bad" }) { (text) }
            }
        }
        @if let Some(why) = &o.stopped {
            section.stopped {
                h1 { (l.t("Selling is stopped")) }
                p role="alert" { (why) }
            }
        } @else if o.disabled {
            p role="alert" class="flash bad" { (l.t("The server disabled this unit.")) }
        }
        @if !signed_in {
            section {
                h1 { (l.t("Sign in")) }
                @if let Some(s) = &o.session { @if let Some(why) = &s.locked {
                    p.flash.warn { (l.t("Locked")) ": " (why) }
                } }
                form method="post" action="/sign-in" {
                    (csrf_field(csrf))
                    label for="staff" { (l.t("Staff id")) }
                    input id="staff" name="staff" autocomplete="username" required;
                    label for="pin" { (l.t("PIN")) }
                    input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="current-password" required;
                    button type="submit" { (l.t("Sign in")) }
                }
            }
        } @else {
            @if !o.unprinted.is_empty() {
                section.owed {
                    h2 { (l.t("Ticket not printed")) }
                    @for u in &o.unprinted {
                        p { (l.t("Sale")) " " (u.seq) @if let Some(p) = &u.problem { " · " (l.t(problem_code(p))) } }
                        form method="post" action="/reprint" {
                            (csrf_field(csrf))
                            input type="hidden" name="seq" value=(u.seq);
                            label for={"rs" (u.seq)} { (l.t("Supervisor")) }
                            input id={"rs" (u.seq)} name="supervisor" required;
                            label for={"rp" (u.seq)} { (l.t("Supervisor PIN")) }
                            input id={"rp" (u.seq)} name="pin" type="password" inputmode="numeric" required;
                            button type="submit" { (l.t("Reprint")) }
                        }
                        form method="post" action="/void" {
                            (csrf_field(csrf))
                            input type="hidden" name="seq" value=(u.seq);
                            input type="hidden" name="reason" value="misprint";
                            label for={"vs" (u.seq)} { (l.t("Supervisor")) }
                            input id={"vs" (u.seq)} name="supervisor" required;
                            label for={"vp" (u.seq)} { (l.t("Supervisor PIN")) }
                            input id={"vp" (u.seq)} name="pin" type="password" inputmode="numeric" required;
                            button.secondary type="submit" { (l.t("Void")) }
                        }
                    }
                }
            }
            @for (id, d, left, sealed) in &o.raffles {
                section {
                    h1 { (d.name) }
                    p { (l.t("Numbers left")) ": " (left) }
                    form method="post" action="/sell" {
                        (csrf_field(csrf))
                        input type="hidden" name="raffle" value=(id);
                        fieldset {
                            legend { (l.t("Sell")) }
                            @for (i, p) in d.packages.iter().enumerate() {
                                label.choice {
                                    input type="radio" name="package" value=(p.id) checked[i == 0];
                                    " " (p.tickets) " " (l.t(if p.tickets == 1 { "number" } else { "numbers" })) " · " (crate::ticket::money(p.price))
                                }
                            }
                        }
                        label for={"q" (id)} { (l.t("Quantity")) }
                        input id={"q" (id)} name="quantity" type="number" min="1" max="100" value="1" required;
                        fieldset {
                            legend { (l.t("Payment")) }
                            label.choice { input type="radio" name="pay" value="cash" checked; " " (l.t("Cash")) }
                            label.choice { input type="radio" name="pay" value="card"; " " (l.t("Card")) }
                        }
                        label for={"t" (id)} { (l.t("Cash tendered")) }
                        input id={"t" (id)} name="tendered" inputmode="decimal" placeholder="20.00";
                        button type="submit" { (l.t("Sell")) }
                    }
                    @let now = raffle_core::Timestamp::now();
                    @for draw in &d.draws {
                        p {
                            (draw.name) ": "
                            @if sealed.iter().any(|s| s == draw.id.as_str()) { span.ok { (l.t("Sealed")) } }
                            @else if draw.cutoff <= now {
                                form.inline method="post" action="/sync" {
                                    (csrf_field(csrf))
                                    button type="submit" { (l.t("Seal for the draw")) }
                                }
                            } @else { (crate::ticket::local_time(draw.cutoff, &d.time_zone)) }
                        }
                    }
                }
            }
            section {
                h2 { (l.t("Cash drawer")) }
                @let (float, sales, drops) = o.drawer;
                p { (l.t("Float")) ": " (cents(float)) " · " (l.t("Cash")) ": " (cents(sales)) " · " (l.t("Drop")) ": " (cents(drops)) }
                p { (l.t("Expected in drawer")) ": " (cents(float.saturating_add(sales).saturating_sub(drops))) }
                form method="post" action="/cash" {
                    (csrf_field(csrf))
                    fieldset {
                        legend { (l.t("Record")) }
                        label.choice { input type="radio" name="kind" value="float" checked; " " (l.t("Float")) }
                        label.choice { input type="radio" name="kind" value="drop"; " " (l.t("Drop")) }
                    }
                    label for="amount" { (l.t("Amount")) }
                    input id="amount" name="amount" inputmode="decimal" required;
                    button.secondary type="submit" { (l.t("Record")) }
                }
            }
            @if !o.refusals.is_empty() {
                section {
                    h2 { (l.t("Sales refused by the server")) }
                    ul { @for (seq, reason) in &o.refusals { li { (l.t("Sale")) " " (seq) ": " (reason) } } }
                }
            }
            form method="post" action="/sign-out" {
                (csrf_field(csrf))
                button.secondary type="submit" { (l.t("Sign out")) }
            }
        }
        form method="post" action="/sync" {
            (csrf_field(csrf))
            button.secondary type="submit" { (l.t("Sync now")) }
        }
    }
}

fn problem_code(code: &str) -> &'static str {
    [
        Problem::Disconnected,
        Problem::PaperOut,
        Problem::CoverOpen,
        Problem::PaperLow,
        Problem::BatteryLow,
    ]
    .into_iter()
    .find(|p| p.code() == code)
    .map_or("printer_disconnected", |p| p.code())
}

fn cents(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

const CSS: &str = "
*{box-sizing:border-box}
body{margin:0;font:18px/1.4 system-ui,sans-serif;color:#111;background:#fff}
main{max-width:480px;margin:0 auto;padding:12px}
header{border-bottom:2px solid #333;margin-bottom:12px}
.identity{font-weight:bold;margin:4px 0}
.status{margin:4px 0}
h1{font-size:1.4em;margin:12px 0 6px}
h2{font-size:1.2em;margin:12px 0 6px}
label{display:block;margin:10px 0 4px;font-weight:600}
label.choice{display:flex;align-items:center;gap:8px;min-height:48px;font-weight:normal;margin:0}
input{font-size:1.1em;width:100%;min-height:48px;padding:8px;border:2px solid #555;border-radius:6px}
input[type=radio]{width:28px;min-height:28px}
fieldset{border:1px solid #999;border-radius:6px;margin:10px 0;padding:6px 10px}
button{display:block;width:100%;min-height:56px;margin:12px 0;font-size:1.15em;font-weight:bold;color:#fff;background:#0b5394;border:0;border-radius:8px}
button.secondary{background:#444}
button.link{display:inline;width:auto;min-height:48px;background:none;color:#0b5394;text-decoration:underline;padding:0 8px;margin:0}
form.inline{display:inline}
.ok{color:#0a6b2d;font-weight:bold}
.bad{color:#b00020;font-weight:bold}
.warn{color:#7a4d00;font-weight:bold}
.flash{padding:10px;border-radius:6px;border:2px solid currentColor}
.stopped{border:3px solid #b00020;padding:8px;border-radius:8px}
.owed{border:3px solid #7a4d00;padding:8px;border-radius:8px}
";

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_read_as_minor_units_or_say_what_is_wrong() {
        assert_eq!(parse_amount("20"), Ok(2000));
        assert_eq!(parse_amount("20.5"), Ok(2050));
        assert_eq!(parse_amount(" 0.05 "), Ok(5));
        for bad in ["", ".5", "2.005", "-1", "1e3", "20,00", "9999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
