//! One's own account (every signed-in user): change the password (the
//! current one proves it is them; every other session ends), and see and
//! end one's sessions (GLI-31 5.2.2).

use super::{Console, Done, PageIds, done};
use crate::AppState;
use crate::app::people;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::ids::SessionId;

async fn page(
    state: &AppState,
    c: &Console,
    status: StatusCode,
    notice: Option<Markup>,
) -> Response {
    let lang = c.lang;
    let listed = async {
        let current = state.store.session_id(&c.staff.token_sha256).await?;
        let list = state.store.sessions_of(&c.staff.user.id).await?;
        Ok::<_, raffle_core::Error>((current, list))
    };
    let (current, sessions) = match listed.await {
        Ok(v) => v,
        Err(e) => return c.refused_page(e.into(), "/console/account"),
    };
    let content = html! {
        h1 { (lang.t("console.account.title")) }
        @if let Some(n) = notice { (n) }
        h2 { (lang.t("console.account.password")) }
        form method="post" action=(c.href("/console/account/password")) {
            (c.csrf_field())
            p { label for="current" { (lang.t("console.account.current")) } br;
                input #current name="current" type="password" autocomplete="current-password" required; }
            p { label for="password" { (lang.t("console.enrol.password")) } br;
                input #password name="password" type="password" autocomplete="new-password" minlength="12" maxlength="128" required; }
            p { label for="password2" { (lang.t("console.enrol.password2")) } br;
                input #password2 name="password2" type="password" autocomplete="new-password" minlength="12" maxlength="128" required; }
            p { button type="submit" { (lang.t("console.account.change")) } }
        }
        @if c.staff.user.roles.contains(&raffle_core::Role::RsuOperator) {
            h2 { (lang.t("console.account.pin")) }
            p.note { (lang.t("console.account.pin_note")) }
            form method="post" action=(c.href("/console/account/device-pin")) {
                (c.csrf_field())
                p { label for="pin_current" { (lang.t("console.account.current")) } br;
                    input #pin_current name="current" type="password" autocomplete="current-password" required; }
                p { label for="pin" { (lang.t("console.account.pin_new")) } br;
                    input #pin name="pin" type="password" inputmode="numeric" pattern="[0-9]{8,12}" autocomplete="off" minlength="8" maxlength="12" required; }
                p { label for="pin2" { (lang.t("console.account.pin_again")) } br;
                    input #pin2 name="pin2" type="password" inputmode="numeric" pattern="[0-9]{8,12}" autocomplete="off" minlength="8" maxlength="12" required; }
                p { button type="submit" { (lang.t("console.account.pin_set")) } }
            }
        }
        h2 { (lang.t("console.account.sessions")) }
        ul.cards {
            @for s in &sessions {
                li.card {
                    p { (lang.f("console.account.session", &[("since", &lang.time(s.created_at, "UTC")), ("seen", &lang.time(s.last_seen, "UTC"))])) }
                    @if current.as_deref() == Some(s.id.as_str()) {
                        p.note { (lang.t("console.account.this")) }
                    } @else {
                        form.inline method="post" action=(c.href(&format!("/console/account/sessions/{}", s.id))) {
                            (c.csrf_field())
                            button.secondary type="submit" { (lang.t("console.account.end")) }
                        }
                    }
                }
            }
        }
    };
    c.page(
        status,
        lang.t("console.account.title"),
        "/console/account",
        content,
    )
}

/// `GET /console/account`.
pub async fn show(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    d: Query<Done>,
) -> Response {
    page(&state, &c, StatusCode::OK, Some(d.notice(c.lang))).await
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    current: Option<String>,
    password: Option<String>,
    password2: Option<String>,
}

/// `POST /console/account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let lang = c.lang;
    let new = f.password.unwrap_or_default();
    if new != f.password2.unwrap_or_default() {
        let problem = html! { p.error role="alert" { (lang.t("console.enrol.mismatch")) } };
        return page(&state, &c, StatusCode::UNPROCESSABLE_ENTITY, Some(problem)).await;
    }
    let current = f.current.unwrap_or_default();
    match people::change_password(&state, &c.staff, &current, &new, client.0).await {
        Ok(()) => done(lang, "/console/account", "password"),
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct PinForm {
    current: Option<String>,
    pin: Option<String>,
    pin2: Option<String>,
}

/// `POST /console/account/device-pin` (sales-unit operators).
pub async fn set_device_pin(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    Extension(client): Extension<crate::edge::ClientAddr>,
    Form(f): Form<PinForm>,
) -> Response {
    let lang = c.lang;
    let pin = f.pin.unwrap_or_default();
    if pin != f.pin2.unwrap_or_default() {
        let problem = html! { p.error role="alert" { (lang.t("console.account.pin_mismatch")) } };
        return page(&state, &c, StatusCode::UNPROCESSABLE_ENTITY, Some(problem)).await;
    }
    let current = f.current.unwrap_or_default();
    match people::set_device_pin(&state, &c.staff, &current, &pin, client.0).await {
        Ok(()) => done(lang, "/console/account", "device_pin"),
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

/// `POST /console/account/sessions/{id}`: ends one of one's sessions.
pub async fn end_session(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<SessionId>,
) -> Response {
    match people::revoke_session(&state, &c.staff, &id).await {
        Ok(()) => done(c.lang, "/console/account", "session_ended"),
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}
