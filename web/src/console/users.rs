//! Users and roles (administrators only; GLI-31 5.2.2), through
//! [`crate::app::people`]: a new (or reset) user gets a one-time enrolment code,
//! shown once, to the creator while the organisation has one
//! administrator and else to the second administrator who approves; with
//! it the user sets their own password and authenticator. Role changes
//! record the old and new roles (5.2.4). Disabling ends a user's sessions
//! at once. At least one enabled administrator always remains.

use super::PageIds;
use super::{Console, Done, Fields, done};
use crate::AppState;
use crate::app::people::{self, Outcome};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use raffle_core::Role;
use raffle_core::ids::UserId;

/// The catalogue key naming a role.
pub fn role_key(role: Role) -> &'static str {
    match role {
        Role::Administrator => "console.role.administrator",
        Role::RaffleManager => "console.role.raffle_manager",
        Role::Finance => "console.role.finance",
        Role::Auditor => "console.role.auditor",
        Role::RsuOperator => "console.role.rsu_operator",
    }
}

/// The roles a form ticked, each parsed (an unknown one is refused).
fn ticked_roles(f: &Fields) -> Result<Vec<Role>, crate::error::AppError> {
    f.all("roles")
        .iter()
        .map(|r| Role::parse(r).map_err(crate::error::AppError::from))
        .collect()
}

fn role_boxes(c: &Console, prefix: &str, checked: &[Role]) -> Markup {
    html! {
        @for role in Role::ALL {
            label {
                input type="checkbox" name="roles" value=(role) id=(format!("{prefix}-{role}")) checked[checked.contains(&role)];
                " " (c.lang.t(role_key(role)))
            }
            " "
        }
    }
}

async fn page(
    state: &AppState,
    c: &Console,
    status: StatusCode,
    notice: Option<Markup>,
) -> Response {
    let lang = c.lang;
    let users = match state.store.users().await {
        Ok(u) => u,
        Err(e) => return c.refused_page(e.into(), "/console/users"),
    };
    let content = html! {
        h1 { (lang.t("console.users.title")) }
        @if let Some(n) = notice { (n) }
        h2 { (lang.t("console.users.new")) }
        form method="post" action=(c.href("/console/users")) {
            (c.csrf_field())
            p { label for="username" { (lang.t("console.username")) } br;
                input #username name="username" type="text" autocomplete="off" pattern="[A-Za-z0-9._\\-]{3,64}" required; }
            fieldset { legend { (lang.t("console.users.roles")) } (role_boxes(c, "new", &[])) }
            p { button type="submit" { (lang.t("console.users.create")) } }
        }
        h2 { (lang.t("console.users.list")) }
        ul.cards {
            @for u in &users {
                li.card {
                    p { strong { (u.username) } }
                    p.note {
                        (lang.f("console.users.sessions", &[("count", &u.sessions.to_string())])) " · "
                        @if u.enrolled { (lang.t("console.users.enrolled")) } @else { (lang.t("console.users.not_enrolled")) }
                        @if u.disabled { " · " (lang.t("console.users.disabled")) }
                        " · " (lang.f("console.users.since", &[("time", &lang.time(u.created_at, "UTC"))]))
                    }
                    form method="post" action=(c.href(&format!("/console/users/{}/roles", u.id))) {
                        (c.csrf_field())
                        fieldset {
                            legend { (lang.f("console.users.roles.of", &[("name", &u.username)])) }
                            (role_boxes(c, &u.id, &u.roles))
                        }
                        button type="submit" { (lang.t("console.users.save")) }
                    }
                    p {
                        @for (action, key) in user_actions(u.disabled) {
                            form.inline method="post" action=(c.href(&format!("/console/users/{}/{action}", u.id))) {
                                (c.csrf_field())
                                button.secondary type="submit" { (lang.t(key)) }
                            }
                            " "
                        }
                    }
                }
            }
        }
    };
    c.page(
        status,
        lang.t("console.users.title"),
        "/console/users",
        content,
    )
}

/// The actions on one user: (path segment, label key).
fn user_actions(disabled: bool) -> Vec<(&'static str, &'static str)> {
    let toggle = if disabled {
        ("enable", "console.users.enable")
    } else {
        ("disable", "console.users.disable")
    };
    vec![
        toggle,
        ("reset", "console.users.reset"),
        ("end-sessions", "console.users.end_sessions"),
    ]
}

/// What a change to people did, as a notice: the one-time enrolment code
/// (shown this once), or that a second administrator must approve.
pub fn outcome_notice(c: &Console, outcome: &Outcome) -> Markup {
    let lang = c.lang;
    match outcome {
        Outcome::Done(v) => enrolment_notice(c, v),
        Outcome::Pending(_) => html! {
            div.done role="status" { p { (lang.t("console.users.pending")) } }
        },
    }
}

/// A change's result; with an enrolment code, the code and how to hand it over.
pub fn enrolment_notice(c: &Console, v: &serde_json::Value) -> Markup {
    let lang = c.lang;
    let name = v["username"].as_str().unwrap_or_default();
    html! {
        div.done role="status" {
            @if let Some(code) = v["enrolment_code"].as_str() {
                p { (lang.f("console.users.created", &[("name", name)])) }
                p { (lang.t("console.users.password")) " " code.vn #new-password { (code) } }
                p.note { (lang.t("console.users.password.note")) }
            } @else {
                p { (lang.t("console.done.saved")) }
            }
        }
    }
}

/// `GET /console/users`.
pub async fn list(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    d: Query<Done>,
) -> Response {
    page(&state, &c, StatusCode::OK, Some(d.notice(c.lang))).await
}

/// `POST /console/users`: a new user; the page shows their one-time
/// password once.
pub async fn create(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    body: Bytes,
) -> Response {
    let lang = c.lang;
    let f = Fields::parse(&body);
    let _ = lang;
    let created = match ticked_roles(&f) {
        Ok(roles) => people::create_user(&state, &c.staff, f.get("username"), &roles).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(outcome) => {
            let status = match outcome {
                Outcome::Done(_) => StatusCode::CREATED,
                Outcome::Pending(_) => StatusCode::ACCEPTED,
            };
            let notice = outcome_notice(&c, &outcome);
            page(&state, &c, status, Some(notice)).await
        }
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

/// `POST /console/users/{id}/roles`.
pub async fn set_roles(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds(id): PageIds<UserId>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let set = match ticked_roles(&f) {
        Ok(roles) => people::set_roles(&state, &c.staff, &id, &roles).await,
        Err(e) => Err(e),
    };
    match set {
        Ok(Outcome::Done(_)) => done(c.lang, "/console/users", "roles"),
        Ok(pending) => {
            let notice = outcome_notice(&c, &pending);
            page(&state, &c, StatusCode::ACCEPTED, Some(notice)).await
        }
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}

/// `POST /console/users/{id}/{disable|enable|reset|end-sessions}`.
pub async fn act(
    State(state): State<AppState>,
    Extension(c): Extension<Console>,
    PageIds((id, action)): PageIds<(UserId, String)>,
) -> Response {
    let result = match action.as_str() {
        "disable" => people::disable(&state, &c.staff, &id).await,
        "enable" => people::enable(&state, &c.staff, &id).await,
        "reset" => people::reset_credentials(&state, &c.staff, &id).await,
        "end-sessions" => people::revoke_sessions_of(&state, &c.staff, &id)
            .await
            .map(Outcome::Done),
        _ => Err(crate::error::AppError::not_found("no such action")),
    };
    match result {
        Ok(outcome) => {
            let notice = outcome_notice(&c, &outcome);
            page(&state, &c, StatusCode::OK, Some(notice)).await
        }
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}
