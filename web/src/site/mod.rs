//! The public website: server-rendered HTML (maud), one stylesheet and one
//! small script for live updates; every page works without JavaScript.
//!
//! Guarantees: every string comes from the language's catalogue
//! ([`crate::i18n`]); every page is sent with a strict
//! Content-Security-Policy (no inline script or style), frame denial,
//! `nosniff` and a same-origin referrer policy.
//!
//! The public site: the raffle list, the raffle page (rules, packages,
//! draws, live jackpot estimate, countdown, results, the jurisdiction's
//! texts), buying and the receipt, the ticket check (forms with CSRF
//! protection: [`csrf`]) and the transparency page. The staff's console
//! ([`crate::console`]) shares its page furniture (layout, cookies).

mod buy;
pub mod csrf;
pub(crate) mod raffles;
mod tickets;
mod transparency;

use crate::AppState;
use crate::i18n::{LANGS, Lang};
use crate::routes::{Access, Table, entry};
use axum::Router;
use axum::extract::Query;
use axum::http::Method;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The security headers of every page.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The public site's routes.
pub fn table() -> Table {
    use Method as M;
    let public = Access::Public;
    Table(vec![
        entry(
            M::GET,
            "/",
            public,
            "The raffles on sale and past.",
            raffles::list,
        ),
        entry(
            M::GET,
            "/raffles/{id}",
            public,
            "A raffle's page.",
            raffles::show,
        ),
        entry(
            M::GET,
            "/raffles/{id}/jackpot",
            public,
            "A raffle's live jackpot (JSON).",
            raffles::jackpot,
        ),
        entry(
            M::POST,
            "/raffles/{id}/buy",
            public,
            "Buys a package (form).",
            buy::buy,
        ),
        entry(
            M::GET,
            "/orders/{id}",
            public,
            "An order: its receipt, or why it is waiting.",
            buy::order,
        ),
        entry(
            M::GET,
            "/transparency",
            public,
            "How to verify the published log.",
            transparency::page,
        ),
        entry(
            M::GET,
            "/tickets/check",
            public,
            "The ticket check form.",
            tickets::show,
        ),
        entry(
            M::POST,
            "/tickets/check",
            public,
            "Checks a ticket by its validation number.",
            tickets::check,
        ),
        entry(
            M::GET,
            "/sales/{id}/receipt.tlog-proof",
            public,
            "A sale's inclusion proof.",
            tickets::receipt_file,
        ),
        entry(
            M::GET,
            "/static/site.css",
            public,
            "The stylesheet.",
            || async {
                asset(
                    "text/css; charset=utf-8",
                    include_str!("../../static/site.css"),
                )
            },
        ),
        entry(
            M::GET,
            "/static/live.js",
            public,
            "The live-update script.",
            || async {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../../static/live.js"),
                )
            },
        ),
    ])
}

pub fn router(_state: AppState) -> Router<AppState> {
    // The public site has no session check: a route needing one fails the
    // start rather than being served open.
    table().router(|_| panic!("the public site's route table names a staff route"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `?lang=` on any page.
#[derive(serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The page's language.
pub fn lang(q: &Query<LangQuery>, headers: &HeaderMap) -> Lang {
    Lang::choose(q.lang.as_deref(), headers)
}

/// The published log's URL as this visitor reaches the site (the Host
/// they used, when it is a plain host name or address).
pub fn log_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}/log/")
}

/// The values of the cookies named `name` (see [`cookie_name`]) that the browser sent.
pub fn cookies<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    let name = cookie_name(name);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Adds a `Set-Cookie` header (a new CSRF token, a session) to a page.
pub fn with_cookie(mut resp: Response, set_cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// A page that names someone's ticket, order or session: never kept by a
/// cache (`no-store`), with its cookie when there is one.
pub fn no_store(mut resp: Response, set_cookie: Option<HeaderValue>) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    with_cookie(resp, set_cookie)
}

/// The texts an administrator set for a raffle's jurisdiction (the
/// responsible-gambling help line, the prize-estimate notice), if any.
pub async fn jurisdiction_texts(
    state: &AppState,
    raffle: &str,
) -> Option<raffle_core::store::people::JurisdictionTexts> {
    let jurisdiction = state
        .sequencer
        .ledger()
        .raffle(raffle)
        .map(|r| r.config.jurisdiction.clone())?;
    state
        .store
        .jurisdiction_texts(&jurisdiction)
        .await
        .ok()
        .flatten()
}

/// A link to `path` that keeps the language.
pub fn href(lang: Lang, path: &str) -> String {
    format!("{path}?lang={}", lang.tag())
}

/// What every page and cookie of this server depends on, set for each
/// request by [`scope`] and read where pages and cookies are made, so that
/// no handler has to pass it along.
#[derive(Clone, Copy, Debug, Default)]
pub struct Site {
    /// The `test` payment provider is on (no money moves): every page says so.
    pub test_payments: bool,
    /// The origin of the card provider's hosted payment page, which the
    /// buy form's answer redirects to: the one origin besides this site's
    /// that the CSP's `form-action` allows (browsers apply it to a form's
    /// redirects).
    pub checkout_origin: Option<&'static str>,
    /// Buyers reach the site over HTTPS: cookies are `__Host-` and `Secure`.
    pub secure: bool,
}

tokio::task_local! {
    static SITE: Site;
}

/// Runs a request within its [`Site`].
pub async fn scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let site = Site {
        test_payments: state.payments.test_enabled(),
        secure: state.config.secure(),
        checkout_origin: state.payments.stripe().map(|s| s.checkout_origin),
    };
    SITE.scope(site, next.run(req)).await
}

/// The [`Site`] of the request being answered (the default outside one).
pub fn site() -> Site {
    SITE.try_with(|s| *s).unwrap_or_default()
}

/// A cookie's name: `__Host-<name>` over HTTPS (bound to this host, sent
/// only over TLS), `<name>` on a plain-HTTP development server.
pub fn cookie_name(name: &str) -> String {
    if site().secure {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, and over HTTPS
/// `Secure` with `Path=/` (as `__Host-` requires); on plain HTTP, `path`.
/// `max_age` in seconds (0 deletes it); `None` for a session cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<u64>) -> HeaderValue {
    cookie(name, value, path, max_age, "Strict")
}

/// [`set_cookie`] with `SameSite=Lax`: for the order cookie only, which
/// the browser must send when the payment provider's page (another site)
/// sends the buyer back to the order page. It opens one read-only page,
/// so a cross-site request with it can do nothing.
pub fn set_cookie_lax(name: &str, value: &str, path: &str, max_age: Option<u64>) -> HeaderValue {
    cookie(name, value, path, max_age, "Lax")
}

fn cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<u64>,
    same_site: &str,
) -> HeaderValue {
    let secure = site().secure;
    let mut c = format!(
        "{}={value}; Path={}; HttpOnly; SameSite={same_site}",
        cookie_name(name),
        if secure { "/" } else { path }
    );
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie names and values are ASCII")
}

/// A whole page: the layout around `content`, with the security headers.
pub fn layout(
    lang: Lang,
    status: StatusCode,
    title: &str,
    path: &str,
    content: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No icon: without this line browsers ask for /favicon.ico (a 404).
                link rel="icon" href="data:,";
                title { (title) " · " (lang.t("site.name")) }
                link rel="stylesheet" href="/static/site.css";
                script src="/static/live.js" defer {}
            }
            body {
                a.skip href="#content" { (lang.t("site.skip")) }
                header.site {
                    a href=(href(lang, "/")) { strong { (lang.t("site.name")) } }
                    nav aria-label=(lang.t("site.name")) {
                        ul {
                            li { a href=(href(lang, "/")) { (lang.t("site.raffles")) } }
                            li { a href=(href(lang, "/tickets/check")) { (lang.t("site.check")) } }
                            li { a href=(href(lang, "/transparency")) { (lang.t("site.transparency")) } }
                        }
                    }
                    nav.lang-switch aria-label=(lang.t("site.language")) {
                        @for other in LANGS {
                            @if other == lang {
                                span aria-current="true" lang=(other.tag()) { (other.name()) }
                            } @else {
                                a href=(href(other, path)) lang=(other.tag()) hreflang=(other.tag()) { (other.name()) }
                            }
                        }
                    }
                }
                @if site().test_payments {
                    p.demo role="note" { strong { (lang.t("site.demo")) } }
                }
                main #content {
                    (content)
                    // A failed request's id, for the buyer to quote (crate::ops::request_id).
                    @if status.is_client_error() || status.is_server_error() {
                        @if let Some(id) = crate::ops::request_id::current() {
                            p.reference { (lang.f("site.reference", &[("id", &id)])) }
                        }
                    }
                }
                footer.site { p { (lang.t("site.footer")) } }
            }
        }
    };
    secured(lang, (status, markup).into_response())
}

/// The security headers of every page (and of the console's live
/// fragments), and the page's language.
pub fn secured(lang: Lang, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let csp = match site().checkout_origin {
        Some(origin) => HeaderValue::from_str(&format!("{CSP} {origin}"))
            .unwrap_or(HeaderValue::from_static(CSP)),
        None => HeaderValue::from_static(CSP),
    };
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-language"));
    resp
}
