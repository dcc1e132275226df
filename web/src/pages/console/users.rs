//! Users and roles (administrators only; GLI-31 5.2.2). A new user gets a
//! one-time password, shown once to the administrator, and enrols their
//! own TOTP authenticator at first sign-in; role changes record the old
//! and new roles (5.2.4). At least one administrator always remains.

use super::{Console, Done, Fields, done};
use crate::AppState;
use crate::auth::ROLES;
use crate::operations;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

/// The catalogue key naming a role.
pub fn role_key(role: &str) -> &'static str {
    match role {
        "administrator" => "console.role.administrator",
        "raffle_manager" => "console.role.raffle_manager",
        "finance" => "console.role.finance",
        "auditor" => "console.role.auditor",
        _ => "console.role.rsu_operator",
    }
}

fn role_boxes(c: &Console, prefix: &str, checked: &[String]) -> Markup {
    html! {
        @for role in ROLES {
            label {
                input type="checkbox" name="roles" value=(role) id=(format!("{prefix}-{role}")) checked[checked.iter().any(|r| r == role)];
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
                        @if u.enrolled { (lang.t("console.users.enrolled")) } @else { (lang.t("console.users.not_enrolled")) }
                        @if u.locked { " · " (lang.t("console.users.locked")) }
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
    match operations::create_user(&state, &c.staff, f.get("username"), &f.all("roles"), true).await
    {
        Ok((user, password)) => {
            let notice = html! {
                div.done role="status" {
                    p { (lang.f("console.users.created", &[("name", &user.username)])) }
                    p { (lang.t("console.users.password")) " " code.vn #new-password { (password) } }
                    p.note { (lang.t("console.users.password.note")) }
                }
            };
            page(&state, &c, StatusCode::CREATED, Some(notice)).await
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
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    match operations::set_roles(&state, &c.staff, &id, &f.all("roles")).await {
        Ok(()) => done(c.lang, "/console/users", "roles"),
        Err(e) => {
            let refusal = c.refusal(&e);
            page(&state, &c, e.status, Some(refusal)).await
        }
    }
}
