//! The admin console, as far as it goes today: sign-in with password and
//! TOTP (the API's own sign-in: lock-out after five failures, each code
//! once), a session cookie (`HttpOnly`, `SameSite=Strict`, path `/console`)
//! that ends after 30 minutes idle or at sign-out, and the home page with
//! the raffles. Every console page is `no-store`; every form carries the
//! CSRF token ([`super::csrf`]).

use super::{LangQuery, csrf, href, lang, layout, no_store};
use crate::AppState;
use crate::i18n::Lang;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use sha2::Digest as _;

pub const SESSION_COOKIE: &str = "raffle_session";

fn session_token(headers: &HeaderMap) -> Option<String> {
    super::cookies(headers, SESSION_COOKIE)
        .next()
        .map(str::to_string)
}

fn sign_in_form(lang: Lang, token: &str, message: Option<&str>) -> Markup {
    html! {
        h1 { (lang.t("console.signin")) }
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action=(href(lang, "/console/sign-in")) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            p { label for="username" { (lang.t("console.username")) } br; input #username name="username" type="text" autocomplete="username" required; }
            p { label for="password" { (lang.t("console.password")) } br; input #password name="password" type="password" autocomplete="current-password" required; }
            p { label for="code" { (lang.t("console.code")) } br; input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required; }
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

/// A console form posted without its CSRF token: the sign-in page again.
fn csrf_refused(lang: Lang, headers: &HeaderMap) -> Response {
    sign_in_page(
        lang,
        headers,
        StatusCode::FORBIDDEN,
        Some(lang.t("check.expired")),
    )
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
    q: Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = lang(&q, &headers);
    if !csrf::check(&headers, f.csrf.as_deref()) {
        return csrf_refused(lang, &headers);
    }
    let result = crate::auth::sign_in(
        &state,
        f.username.as_deref().unwrap_or(""),
        f.password.as_deref().unwrap_or(""),
        f.code.as_deref().unwrap_or("").trim(),
    )
    .await;
    match result {
        Ok(token) => {
            let cookie = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict"
            ))
            .expect("an ASCII cookie");
            no_store(
                Redirect::to(&href(lang, "/console")).into_response(),
                Some(cookie),
            )
        }
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => sign_in_page(
            lang,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(lang.t("console.locked")),
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

/// The signed-in user, or the sign-in page (with why) to answer instead.
async fn staff(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
) -> Result<crate::auth::Staff, Response> {
    let expired = || {
        sign_in_page(
            lang,
            headers,
            StatusCode::UNAUTHORIZED,
            Some(lang.t("console.expired")),
        )
    };
    let Some(token) = session_token(headers) else {
        return Err(no_store(
            Redirect::to(&href(lang, "/console/sign-in")).into_response(),
            None,
        ));
    };
    let token_sha256: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
    match state.store.session_user(&token_sha256).await {
        Ok(Some(user)) => Ok(crate::auth::Staff { user, token_sha256 }),
        Ok(None) => Err(expired()),
        Err(e) => Err(crate::error::AppError::from(e).into_response()),
    }
}

/// `GET /console`: who is signed in, the raffles, sign-out.
pub async fn home(
    State(state): State<AppState>,
    q: Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&q, &headers);
    let staff = match staff(&state, lang, &headers).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let (token, set) = csrf::token(&headers);
    let content = {
        let ledger = state.sequencer.ledger();
        let mut raffles: Vec<_> = ledger.raffles().collect();
        raffles.sort_by_key(|r| std::cmp::Reverse(r.config.sales_start));
        html! {
            h1 { (lang.t("console.title")) }
            p { (lang.f("console.signed", &[("name", &staff.user.username), ("roles", &staff.user.roles.join(", "))])) }
            form method="post" action=(href(lang, "/console/sign-out")) {
                input type="hidden" name=(csrf::FIELD) value=(token);
                button type="submit" { (lang.t("console.signout")) }
            }
            h2 { (lang.t("console.raffles")) }
            @if raffles.is_empty() { p { (lang.t("console.none")) } }
            ul {
                @for r in &raffles {
                    li { a href=(href(lang, &format!("/raffles/{}", r.id))) { (r.config.name) } " · " (super::raffles::status_text(lang, r.status)) }
                }
            }
        }
    };
    no_store(
        layout(
            lang,
            StatusCode::OK,
            lang.t("console.title"),
            "/console",
            content,
        ),
        set,
    )
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
    if let Ok(staff) = staff(&state, lang, &headers).await
        && let Err(e) = state.store.delete_session(&staff.token_sha256).await
    {
        return crate::error::AppError::from(e).into_response();
    }
    let clear = HeaderValue::from_static(
        "raffle_session=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
    );
    no_store(
        Redirect::to(&href(lang, "/console/sign-in")).into_response(),
        Some(clear),
    )
}
