//! The admin console: server-rendered pages for staff, over the same
//! operations as the admin API ([`crate::app::operations`]).
//!
//! Guarantees:
//! - Sign-in with password and TOTP (the API's own rules: each code once,
//!   lock-out after five failures); a user created in the console enrols
//!   their authenticator at first sign-in, from a QR code only they see.
//! - A session cookie (`HttpOnly`, `SameSite=Strict`, path `/console`)
//!   that ends after 30 minutes idle or at sign-out.
//! - Every page and action is in [`ROUTES`] with the roles it needs, and
//!   one middleware ([`authorize`]) checks the session, the enrolment, the
//!   role and, on every form post, the CSRF token ([`crate::site::csrf`]) before
//!   a handler runs (a test walks the table for every role).
//! - Every console page is `no-store`, under the site's strict CSP.

mod account;
mod card;
mod claims;
mod draws;
mod events;
mod raffles;
mod settings;
mod status;
mod units;
mod users;
mod voids;

use crate::AppState;
use crate::app::auth::{SignedIn, Staff};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::routes::roles::*;
use crate::routes::{Access, Route, Table, entry, find};
use crate::site::{LangQuery, csrf, href, lang, layout, no_store};
use axum::extract::{Form, MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Router};
use maud::{Markup, html};
use raffle_core::Role;
use sha2::Digest as _;
use std::sync::OnceLock;

pub const SESSION_COOKIE: &str = "raffle_session";

/// The console's routes: sign-in and enrolment are public (they set up
/// the session); every other page and action needs a session with the
/// roles shown, the same as the API's routes for the same operations.
pub fn table() -> Table {
    use Method as M;
    let (public, staff) = (Access::Public, Access::Staff);
    Table(vec![
        entry(
            M::GET,
            "/console/sign-in",
            public,
            "The sign-in form.",
            sign_in_show,
        ),
        entry(M::POST, "/console/sign-in", public, "Signs in.", sign_in),
        entry(M::POST, "/console/sign-out", public, "Signs out.", sign_out),
        entry(
            M::GET,
            "/console/enrol",
            public,
            "The enrolment steps.",
            enrol_show,
        ),
        entry(
            M::POST,
            "/console/enrol",
            public,
            "An enrolment step.",
            enrol,
        ),
        entry(M::GET, "/console", staff(ANY), "The console's home.", home),
        entry(
            M::GET,
            "/console/raffles/new",
            staff(MANAGER),
            "The new raffle form.",
            raffles::new_form,
        ),
        entry(
            M::POST,
            "/console/raffles",
            staff(MANAGER),
            "Creates a raffle.",
            raffles::create,
        ),
        entry(
            M::GET,
            "/console/raffles/{id}",
            staff(ANY),
            "A raffle.",
            raffles::show,
        ),
        entry(
            M::GET,
            "/console/raffles/{id}/edit",
            staff(MANAGER),
            "A draft raffle's form.",
            raffles::edit_form,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/edit",
            staff(MANAGER),
            "Changes a draft raffle.",
            raffles::update,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/open",
            staff(MANAGER),
            "Opens sales.",
            raffles::open,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/close",
            staff(MANAGER),
            "Closes sales.",
            raffles::close,
        ),
        entry(
            M::GET,
            "/console/raffles/{id}/draws/{draw_id}/reconciliation",
            staff(FIGURES),
            "A draw's reconciliation figures.",
            draws::reconciliation,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/reconciliation",
            staff(FINANCE),
            "Requests the reconciliation acknowledgement.",
            draws::acknowledge,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/reconciliation/fetch",
            staff(FINANCE),
            "Fetches Stripe's books again for the card reconciliation.",
            card::fetch,
        ),
        entry(
            M::GET,
            "/console/raffles/{id}/draws/{draw_id}",
            staff(ANY),
            "A draw's ceremony.",
            draws::ceremony,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/freeze",
            staff(MANAGER),
            "Freezes a draw.",
            draws::freeze,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/contribution",
            staff(MANAGER),
            "Records a witness's contribution.",
            draws::contribution,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/perform",
            staff(MANAGER),
            "Performs a draw.",
            draws::perform,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/redraw",
            staff(MANAGER),
            "Requests a redraw.",
            draws::redraw,
        ),
        entry(
            M::GET,
            "/console/claims",
            staff(MANAGER),
            "The claim form.",
            claims::show,
        ),
        entry(
            M::POST,
            "/console/claims",
            staff(MANAGER),
            "Pays a claim.",
            claims::pay,
        ),
        entry(
            M::POST,
            "/console/claims/supervised",
            staff(MANAGER),
            "Requests a supervised claim.",
            claims::request_supervised,
        ),
        entry(
            M::GET,
            "/console/voids",
            staff(FINANCE),
            "The void form.",
            voids::show,
        ),
        entry(
            M::POST,
            "/console/voids",
            staff(FINANCE),
            "Requests a void.",
            voids::request,
        ),
        entry(
            M::POST,
            "/console/reversals/{id}",
            staff(FINANCE),
            "Requests that a reversed card payment's sale be voided or kept.",
            voids::reversal,
        ),
        entry(
            M::GET,
            "/console/approvals",
            staff(APPROVERS),
            "Requests waiting for a second person.",
            voids::approvals,
        ),
        entry(
            M::POST,
            "/console/approvals/{id}",
            staff(APPROVERS),
            "Approves or refuses a request.",
            voids::decide,
        ),
        entry(
            M::GET,
            "/console/account",
            staff(ANY),
            "Your account.",
            account::show,
        ),
        entry(
            M::POST,
            "/console/account/password",
            staff(ANY),
            "Changes your password.",
            account::change_password,
        ),
        entry(
            M::POST,
            "/console/account/device-pin",
            staff(RSU_OPERATOR),
            "Sets your PIN for signing in on sales units.",
            account::set_device_pin,
        ),
        entry(
            M::POST,
            "/console/account/sessions/{id}",
            staff(ANY),
            "Ends one of your sessions.",
            account::end_session,
        ),
        entry(
            M::GET,
            "/console/users",
            staff(ADMINISTRATOR),
            "Users.",
            users::list,
        ),
        entry(
            M::POST,
            "/console/users",
            staff(ADMINISTRATOR),
            "Creates a user.",
            users::create,
        ),
        entry(
            M::POST,
            "/console/users/{id}/roles",
            staff(ADMINISTRATOR),
            "Sets a user's roles.",
            users::set_roles,
        ),
        entry(
            M::POST,
            "/console/users/{id}/{action}",
            staff(ADMINISTRATOR),
            "Resets, disables or enables a user, or ends their sessions.",
            users::act,
        ),
        entry(
            M::GET,
            "/console/rsu",
            staff(UNIT_READERS),
            "The sales units' master list.",
            units::master_list,
        ),
        entry(
            M::POST,
            "/console/rsu",
            staff(ADMINISTRATOR),
            "Registers a sales unit.",
            units::register,
        ),
        entry(
            M::POST,
            "/console/rsu/{rsu}/{action}",
            staff(ADMINISTRATOR),
            "Requests a unit's enrolment or re-enabling, or disables it.",
            units::act,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/rsu/allocations",
            staff(MANAGER),
            "Allocates a raffle's next numbers to a unit.",
            units::allocate,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/rsu/cash",
            staff(FINANCE),
            "Records a count of a unit's cash (float or drop).",
            units::record_cash,
        ),
        entry(
            M::POST,
            "/console/raffles/{id}/draws/{draw_id}/rsu/{rsu}/unreconcilable",
            staff(FINANCE),
            "Requests a unit's declaration as unreconcilable for a draw.",
            units::declare,
        ),
        entry(
            M::GET,
            "/console/events",
            staff(EVENTS),
            "Searches significant events.",
            events::search,
        ),
        entry(
            M::GET,
            "/console/status",
            staff(EVENTS),
            "The system status: sequencer, log, witnesses, publication store, release, open events.",
            status::page,
        ),
        entry(
            M::GET,
            status::PANEL,
            staff(EVENTS),
            "The system status panel alone, for its live reload.",
            status::panel_only,
        ),
        entry(
            M::GET,
            "/console/settings",
            staff(ADMINISTRATOR),
            "The jurisdiction's settings.",
            settings::show,
        ),
        entry(
            M::POST,
            "/console/settings",
            staff(ADMINISTRATOR),
            "Saves the settings.",
            settings::save,
        ),
    ])
}

/// The console's routes (descriptions only), as its check reads them.
pub fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| table().routes())
}

/// What every console handler behind [`authorize`] is given: who is
/// signed in, the page's language and the CSRF token for its forms.
#[derive(Clone)]
pub struct Console {
    pub staff: Staff,
    pub lang: Lang,
    pub csrf: String,
    set_cookie: Option<HeaderValue>,
}

impl Console {
    /// Whether the user may use a page open to `roles` (none: any
    /// signed-in user, as the route tables write it).
    pub fn may(&self, roles: &[Role]) -> bool {
        roles.is_empty() || self.staff.has(roles)
    }

    /// A hidden CSRF field for a form.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(csrf::FIELD) value=(self.csrf); }
    }

    pub fn href(&self, path: &str) -> String {
        href(self.lang, path)
    }

    /// A console page: the navigation the user's roles open, who is signed
    /// in, then `content`; `no-store`.
    pub fn page(&self, status: StatusCode, title: &str, path: &str, content: Markup) -> Response {
        let lang = self.lang;
        // Each link is shown to the roles its page's route opens to.
        let links: Vec<(&str, &str, &[Role])> = [
            ("/console", "console.nav.home"),
            ("/console/raffles/new", "console.nav.new"),
            ("/console/claims", "console.nav.claims"),
            ("/console/voids", "console.nav.voids"),
            ("/console/approvals", "console.nav.approvals"),
            ("/console/users", "console.nav.users"),
            ("/console/rsu", "console.nav.units"),
            ("/console/events", "console.nav.events"),
            ("/console/status", "console.nav.status"),
            ("/console/settings", "console.nav.settings"),
            ("/console/account", "console.nav.account"),
        ]
        .into_iter()
        .filter_map(|(to, key)| {
            let roles = find(routes(), &Method::GET, to).and_then(Route::roles)?;
            Some((to, key, roles))
        })
        .collect();
        let roles: Vec<&str> = self
            .staff
            .user
            .roles
            .iter()
            .map(|r| lang.t(users::role_key(*r)))
            .collect();
        let roles = roles.join(", ");
        let body = html! {
            nav.console aria-label=(lang.t("console.title")) {
                ul {
                    @for (to, key, roles) in &links {
                        @if self.may(roles) {
                            li {
                                @if *to == path { a href=(self.href(to)) aria-current="page" { (lang.t(key)) } }
                                @else { a href=(self.href(to)) { (lang.t(key)) } }
                            }
                        }
                    }
                }
                form.inline method="post" action=(self.href("/console/sign-out")) {
                    (self.csrf_field())
                    span { (lang.f("console.signed", &[("name", &self.staff.user.username), ("roles", &roles)])) " " }
                    button type="submit" { (lang.t("console.signout")) }
                }
            }
            (content)
        };
        no_store(
            layout(lang, status, title, path, body),
            self.set_cookie.clone(),
        )
    }

    /// A refused or failed operation under the catalogue's lead: a rule's
    /// refusal in the page's language, any other failure as its message.
    pub fn refusal(&self, e: &AppError) -> Markup {
        html! {
            div.error role="alert" {
                p { (self.lang.t("console.refused.lead")) }
                p {
                    @match &e.refusal {
                        Some(r) => (crate::i18n::refusal(self.lang, r)),
                        None => (e.message),
                    }
                }
            }
        }
    }

    /// A page that says only that something was refused.
    pub fn refused_page(&self, e: AppError, path: &str) -> Response {
        let status = e.status;
        self.page(
            status,
            self.lang.t("console.refused.title"),
            path,
            html! { h1 { (self.lang.t("console.refused.title")) } (self.refusal(&e)) },
        )
    }
}

/// A console page's path parameters parsed into their types
/// ([`raffle_core::ids`]): a malformed one is answered with the console's
/// own page (400, in the page's language), before the handler runs.
pub struct PageIds<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<AppState>
    for PageIds<T>
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<PageIds<T>, Response> {
        use axum::extract::Path;
        use axum::extract::rejection::PathRejection;
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(PageIds(t)),
            Err(e) => {
                let status = match e {
                    PathRejection::FailedToDeserializePathParams(_) => StatusCode::BAD_REQUEST,
                    _ => e.status(),
                };
                let error = AppError::new(status, e.body_text());
                let path = parts.uri.path().to_string();
                Err(match parts.extensions.get::<Console>() {
                    Some(c) => c.refused_page(error, &path),
                    None => error.into_response(),
                })
            }
        }
    }
}

/// `?done=` after an action: the confirmation shown, from a fixed list.
#[derive(serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    pub fn notice(&self, lang: Lang) -> Markup {
        let key = match self.done.as_deref() {
            Some("created") => "console.done.created",
            Some("saved") => "console.done.saved",
            Some("opened") => "console.done.opened",
            Some("closed") => "console.done.closed",
            Some("requested") => "console.done.requested",
            Some("approved") => "console.done.approved",
            Some("rejected") => "console.done.rejected",
            Some("frozen") => "console.done.frozen",
            Some("contributed") => "console.done.contributed",
            Some("performed") => "console.done.performed",
            Some("roles") => "console.done.roles",
            Some("enrolled") => "console.done.enrolled",
            Some("password") => "console.done.password",
            Some("device_pin") => "console.done.device_pin",
            Some("session_ended") => "console.done.session_ended",
            Some("fetching") => "console.done.fetching",
            _ => return html! {},
        };
        html! { p.done role="status" { (lang.t(key)) } }
    }
}

/// A redirect after a successful action (303, so the browser gets the page).
pub fn done(lang: Lang, path: &str, what: &str) -> Response {
    no_store(
        Redirect::to(&format!("{}&done={what}", href(lang, path))).into_response(),
        None,
    )
}

pub fn router(state: AppState) -> Router<AppState> {
    table().router(move |h| h.route_layer(middleware::from_fn_with_state(state.clone(), authorize)))
}

/// Form bodies are small: anything larger is refused before it is read whole.
const FORM_LIMIT: usize = 64 * 1024;

/// The one place where console pages check the session, the enrolment,
/// the role and (for a form post) the CSRF token.
async fn authorize(
    State(state): State<AppState>,
    matched: MatchedPath,
    q: Query<LangQuery>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let lang = lang(&q, &parts.headers);
    // The status panel's automatic reload is no sign of someone at the desk.
    let seen = matched.as_str() != status::PANEL;
    let staff = match signed_in_seen(&state, lang, &parts.headers, seen).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if !staff.user.enrolled {
        return no_store(
            Redirect::to(&href(lang, "/console/enrol")).into_response(),
            None,
        );
    }
    let (token, set_cookie) = csrf::token(&parts.headers);
    let console = Console {
        staff,
        lang,
        csrf: token,
        set_cookie,
    };
    // The page's own path (for the language switcher), not the route's pattern.
    let path = parts.uri.path().to_string();
    let Some(roles) = find(routes(), &parts.method, matched.as_str()).and_then(Route::roles) else {
        return console.refused_page(
            AppError::new(
                StatusCode::FORBIDDEN,
                "this page is not in the console's route table",
            ),
            "/console",
        );
    };
    if !console.may(roles) {
        let mut roles_text: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        roles_text.sort();
        return console.page(
            StatusCode::FORBIDDEN,
            lang.t("console.forbidden.title"),
            &path,
            html! {
                h1 { (lang.t("console.forbidden.title")) }
                p.error role="alert" { (lang.f("console.forbidden", &[("roles", &roles_text.join(", "))])) }
            },
        );
    }
    let body = if parts.method == Method::POST {
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(b) => b,
            Err(_) => {
                return console.refused_page(
                    AppError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the form is larger than 64 KiB",
                    ),
                    &path,
                );
            }
        };
        let submitted = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == csrf::FIELD)
            .map(|(_, v)| v.into_owned());
        if !csrf::check(&parts.headers, submitted.as_deref()) {
            return console.page(
                StatusCode::FORBIDDEN,
                lang.t("console.refused.title"),
                &path,
                html! { h1 { (lang.t("console.refused.title")) } p.error role="alert" { (lang.t("check.expired")) } },
            );
        }
        axum::body::Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert(console);
    next.run(Request::from_parts(parts, body)).await
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    crate::site::cookies(headers, SESSION_COOKIE)
        .next()
        .map(str::to_string)
}

/// The user of the session cookie, or what to answer instead: the sign-in
/// page (without a cookie, by a redirect; with one that has ended, saying so).
async fn signed_in(state: &AppState, lang: Lang, headers: &HeaderMap) -> Result<Staff, Response> {
    signed_in_seen(state, lang, headers, true).await
}

/// [`signed_in`], counting the request as the user's activity only with `seen`.
async fn signed_in_seen(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    seen: bool,
) -> Result<Staff, Response> {
    let Some(token) = session_token(headers) else {
        return Err(no_store(
            Redirect::to(&href(lang, "/console/sign-in")).into_response(),
            None,
        ));
    };
    let token_sha256: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
    match state
        .store
        .session_user_seen(&token_sha256, state.config.limits.session_hours, seen)
        .await
    {
        Ok(Some(user)) => Ok(Staff { user, token_sha256 }),
        Ok(None) => Err(sign_in_page(
            lang,
            headers,
            StatusCode::UNAUTHORIZED,
            Some(lang.t("console.expired")),
        )),
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

fn sign_in_form(lang: Lang, token: &str, message: Option<&str>) -> Markup {
    html! {
        h1 { (lang.t("console.signin")) }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action=(href(lang, "/console/sign-in")) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            p { label for="username" { (lang.t("console.username")) } br; input #username name="username" type="text" autocomplete="username" required; }
            p { label for="password" { (lang.t("console.password")) } br; input #password name="password" type="password" autocomplete="current-password" required; }
            p {
                label for="code" { (lang.t("console.code")) } br;
                input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" aria-describedby="code-help";
                br; span #code-help .note { (lang.t("console.code.first")) }
            }
            p { button type="submit" { (lang.t("console.submit")) } }
        }
    }
}

fn sign_in_page(
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let (token, set) = csrf::token(headers);
    let resp = layout(
        lang,
        status,
        lang.t("console.signin"),
        "/console/sign-in",
        sign_in_form(lang, &token, message),
    );
    no_store(resp, set)
}

/// A sign-in or enrolment form posted without its CSRF token.
fn csrf_refused(lang: Lang, headers: &HeaderMap) -> Response {
    sign_in_page(
        lang,
        headers,
        StatusCode::FORBIDDEN,
        Some(lang.t("check.expired")),
    )
}

fn session_cookie(token: &str) -> HeaderValue {
    crate::site::set_cookie(SESSION_COOKIE, token, "/console", None)
}

/// `GET /console/sign-in`.
pub async fn sign_in_show(q: Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = lang(&q, &headers);
    sign_in_page(lang, &headers, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    username: Option<String>,
    password: Option<String>,
    code: Option<String>,
}

/// `POST /console/sign-in`.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = lang(&q, &headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        return csrf_refused(lang, &headers);
    }
    let result = crate::app::auth::sign_in(
        &state,
        f.username.as_deref().unwrap_or(""),
        f.password.as_deref().unwrap_or(""),
        f.code.as_deref().unwrap_or("").trim(),
        client.0,
    )
    .await;
    match result {
        Ok(SignedIn::Enrolled(token)) => no_store(
            Redirect::to(&href(lang, "/console")).into_response(),
            Some(session_cookie(&token)),
        ),
        Ok(SignedIn::MustEnrol(token)) => no_store(
            Redirect::to(&href(lang, "/console/enrol")).into_response(),
            Some(session_cookie(&token)),
        ),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => sign_in_page(
            lang,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(lang.t("console.refused")),
        ),
        Err(e) => e.into_response(),
    }
}

/// The enrolment page: the QR code of the user's new TOTP secret (and the
/// secret as text, for typing into an authenticator), and the form for
/// the first code.
fn enrol_page(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    staff: &Staff,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let (token, set) = csrf::token(headers);
    // Step one, while the password is still the one-time code: a password
    // of the user's own, and no secret yet (whoever held the code could
    // read it). Step two: the secret made when the password was set.
    if staff.user.must_set_password {
        let content = html! {
            h1 { (lang.t("console.enrol.title")) }
            @if let Some(m) = message { p.error role="alert" { (m) } }
            p { (lang.t("console.enrol.first")) }
            form method="post" action=(href(lang, "/console/enrol")) {
                input type="hidden" name=(csrf::FIELD) value=(token);
                p { label for="password" { (lang.t("console.enrol.password")) } br;
                    input #password name="password" type="password" autocomplete="new-password" minlength="12" maxlength="128" required; }
                p { label for="password2" { (lang.t("console.enrol.password2")) } br;
                    input #password2 name="password2" type="password" autocomplete="new-password" minlength="12" maxlength="128" required; }
                p { button type="submit" { (lang.t("console.enrol.next")) } }
            }
        };
        return no_store(
            layout(
                lang,
                status,
                lang.t("console.enrol.title"),
                "/console/enrol",
                content,
            ),
            set,
        );
    }
    let secret = match crate::app::auth::open_totp(state, &staff.user.totp_secret) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let uri = crate::app::auth::totp_uri(&staff.user.username, &secret);
    let qr = qrcode::QrCode::new(uri.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    let content = html! {
        h1 { (lang.t("console.enrol.title")) }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        p { (lang.t("console.enrol.intro")) }
        figure.qr {
            (maud::PreEscaped(qr))
            figcaption { (lang.t("console.enrol.qr")) }
        }
        p { (lang.t("console.enrol.secret")) " " code.vn { (secret) } }
        form method="post" action=(href(lang, "/console/enrol")) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            p { label for="code" { (lang.t("console.enrol.code")) } br; input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required; }
            p { button type="submit" { (lang.t("console.enrol.submit")) } }
        }
    };
    no_store(
        layout(
            lang,
            status,
            lang.t("console.enrol.title"),
            "/console/enrol",
            content,
        ),
        set,
    )
}

/// `GET /console/enrol`: for a session of a user still to enrol.
pub async fn enrol_show(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    match signed_in(&state, lang, &headers).await {
        Ok(staff) if staff.user.enrolled => {
            no_store(Redirect::to(&href(lang, "/console")).into_response(), None)
        }
        Ok(staff) => enrol_page(&state, lang, &headers, &staff, StatusCode::OK, None),
        Err(resp) => resp,
    }
}

#[derive(serde::Deserialize)]
pub struct EnrolForm {
    csrf: Option<String>,
    code: Option<String>,
    password: Option<String>,
    password2: Option<String>,
}

/// `POST /console/enrol`: the first code from the new authenticator
/// completes the enrolment; a wrong one counts as a failed sign-in.
pub async fn enrol(
    State(state): State<AppState>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<EnrolForm>,
) -> Response {
    let lang = lang(&q, &headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        return csrf_refused(lang, &headers);
    }
    let mut staff = match signed_in(&state, lang, &headers).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if staff.user.enrolled {
        return no_store(Redirect::to(&href(lang, "/console")).into_response(), None);
    }
    if staff.user.must_set_password {
        let password = f.password.as_deref().unwrap_or("");
        let problem = if password != f.password2.as_deref().unwrap_or("") {
            Some(lang.t("console.enrol.mismatch").to_string())
        } else {
            crate::app::auth::check_new_password(&staff.user.username, password)
                .err()
                .map(|_| lang.t("console.enrol.weak").to_string())
        };
        if let Some(problem) = problem {
            return enrol_page(
                &state,
                lang,
                &headers,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&problem),
            );
        }
        // The same step as the API's: the password, then a new secret.
        return match crate::app::people::enrolment_password(
            &state,
            &staff.user,
            &staff.token_sha256,
            password,
        )
        .await
        {
            Ok(_) => match state.store.user_by_id(&staff.user.id).await {
                Ok(Some(user)) => {
                    staff.user = user;
                    enrol_page(&state, lang, &headers, &staff, StatusCode::OK, None)
                }
                Ok(None) => AppError::not_found("no such user").into_response(),
                Err(e) => AppError::from(e).into_response(),
            },
            Err(e) => e.into_response(),
        };
    }
    match crate::app::auth::enrol(
        &state,
        &staff.user,
        f.code.as_deref().unwrap_or(""),
        client.0,
    )
    .await
    {
        Ok(true) => done(lang, "/console", "enrolled"),
        Ok(false) => {
            // Five failures lock the account, as for sign-ins; a locked
            // account's session ends.
            if let Ok(true) = crate::app::auth::locked_out(&state, &staff.user, client.0).await {
                let _ = state.store.delete_session(&staff.token_sha256).await;
                return sign_in_page(
                    lang,
                    &headers,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(lang.t("console.locked")),
                );
            }
            enrol_page(
                &state,
                lang,
                &headers,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(lang.t("console.enrol.wrong")),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /console`: the raffles, with what the user's roles can do next.
async fn home(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    done_q: Query<Done>,
) -> Response {
    let lang = c.lang;
    let pending = if c.may(APPROVERS) {
        state.store.pending_approvals().await.map(|p| p.len()).ok()
    } else {
        None
    };
    let content = {
        let ledger = state.sequencer.ledger();
        let mut raffles: Vec<_> = ledger.raffles().collect();
        raffles.sort_by_key(|r| std::cmp::Reverse(r.config.sales_start));
        html! {
            h1 { (lang.t("console.title")) }
            (done_q.notice(lang))
            @if let Some(n) = pending.filter(|n| *n > 0) {
                p { a href=(c.href("/console/approvals")) { (lang.f("console.approvals.waiting", &[("count", &n.to_string())])) } }
            }
            h2 { (lang.t("console.raffles")) }
            @if raffles.is_empty() { p { (lang.t("console.none")) } }
            @if c.may(MANAGER) { p { a href=(c.href("/console/raffles/new")) { (lang.t("console.nav.new")) } } }
            div.table tabindex="0" role="region" aria-label=(lang.t("console.table")) {
                table {
                    thead { tr { th scope="col" { (lang.t("console.raffle.name")) } th scope="col" { (lang.t("console.raffle.status")) } th scope="col" { (lang.t("console.raffle.sold")) } th scope="col" { (lang.t("console.raffle.net")) } } }
                    tbody {
                        @for r in &raffles {
                            tr {
                                td { a href=(c.href(&format!("/console/raffles/{}", r.id))) { (r.config.name) } }
                                td { (crate::site::raffles::status_text(lang, r.status)) }
                                td { (lang.count(r.sold_numbers())) }
                                td { (lang.money(r.net)) }
                            }
                        }
                    }
                }
            }
        }
    };
    c.page(StatusCode::OK, lang.t("console.title"), "/console", content)
}

#[derive(serde::Deserialize)]
pub struct SignOutForm {
    csrf: Option<String>,
}

/// `POST /console/sign-out`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<SignOutForm>,
) -> Response {
    let lang = lang(&q, &headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        return csrf_refused(lang, &headers);
    }
    if let Ok(staff) = signed_in(&state, lang, &headers).await
        && let Err(e) = state.store.delete_session(&staff.token_sha256).await
    {
        return AppError::from(e).into_response();
    }
    let clear = crate::site::set_cookie(SESSION_COOKIE, "", "/console", Some(0));
    no_store(
        Redirect::to(&href(lang, "/console/sign-in")).into_response(),
        Some(clear),
    )
}

/// A form's fields, for forms with repeated or optional fields.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// A field's value, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

#[cfg(test)]
impl Console {
    /// A manager's console context, for rendering pages in unit tests.
    pub fn for_tests() -> Console {
        Console {
            staff: Staff {
                user: raffle_core::store::people::User {
                    id: raffle_core::ids::UserId::new_random(),
                    staff_id: "s_0000000000000001".parse().unwrap(),
                    username: "mia".into(),
                    password_hash: String::new(),
                    totp_secret: String::new(),
                    roles: vec![Role::RaffleManager],
                    must_set_password: false,
                    enrolled: true,
                    disabled: false,
                },
                token_sha256: [0; 32],
            },
            lang: Lang::En,
            csrf: "token".into(),
            set_cookie: None,
        }
    }
}
