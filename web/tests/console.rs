//! The admin console through the real router on the real PostgreSQL:
//! every console route walked for every role and for no session (GLI-31
//! 5.2.2); CSRF refusals; TOTP enrolment at first sign-in; users, roles and
//! the last administrator; events searched and paged (5.6.2); jurisdiction
//! texts on the raffle page and the receipt; and a raffle run end to end
//! through the console's forms: a draft created, edited, opened, a change
//! after opening refused (2.2.3), a void approved by a second person
//! (2.3.3, 5.2.4), sales closed (2.6.2), the reconciliation acknowledged
//! (2.6.1, 2.6.3), the draw frozen and performed, the claim paid (2.7.1).

use testkit::app as common;

use axum::http::StatusCode;
use common::{App, PURCHASE, app, call, drop_database};
use raffle_core::Refusal;
use raffle_core::ledger::Status;
use serde_json::json;
use web::i18n::Lang;

/// A CSRF token of the right form (the cookie and the field must match).
const CSRF: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const FORBIDDEN: &str = "This page needs the role";

/// A browser: its cookies (CSRF token, console session).
#[derive(Clone)]
struct Browser {
    session: Option<String>,
    /// Other cookies it sends (`name=value`).
    cookies: Vec<String>,
}

struct Page {
    status: StatusCode,
    html: String,
    location: String,
    set_cookie: String,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            session: None,
            cookies: Vec::new(),
        }
    }

    async fn send(&self, app: &App, method: &str, path: &str, form: Option<&str>) -> Page {
        use tower::ServiceExt;
        let mut cookie = format!("raffle_csrf={CSRF}");
        if let Some(s) = &self.session {
            cookie.push_str(&format!("; raffle_session={s}"));
        }
        for c in &self.cookies {
            cookie.push_str(&format!("; {c}"));
        }
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("accept-language", "en")
            .header("host", "raffles.example")
            .header("cookie", cookie);
        if form.is_some() {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = req
            .body(axum::body::Body::from(form.unwrap_or("").to_string()))
            .unwrap();
        let resp = web::router(app.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        if status != StatusCode::SEE_OTHER && path.starts_with("/console") {
            assert_eq!(header("cache-control"), "no-store", "{method} {path}");
            assert_eq!(
                header("content-security-policy"),
                web::site::CSP,
                "{method} {path}"
            );
        }
        let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap();
        Page {
            status,
            html: String::from_utf8(body.to_vec()).unwrap(),
            location,
            set_cookie,
        }
    }

    async fn get(&self, app: &App, path: &str) -> Page {
        self.send(app, "GET", path, None).await
    }

    /// A form post with the CSRF token.
    async fn post(&self, app: &App, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", CSRF)
            .extend_pairs(fields)
            .finish();
        self.send(app, "POST", path, Some(&body)).await
    }

    /// Signs in through the sign-in form; returns the redirect's target.
    async fn sign_in(&mut self, app: &App, user: &str, password: &str, code: &str) -> String {
        let p = self
            .post(
                app,
                "/console/sign-in",
                &[("username", user), ("password", password), ("code", code)],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
        let cookie = p.set_cookie.split(';').next().unwrap();
        self.session = Some(cookie.split_once('=').unwrap().1.to_string());
        p.location
    }
}

/// A user created directly (enrolled, like the API's provisioning),
/// signed in to the console.
async fn staff(
    app: &App,
    name: &str,
    roles: &[&str],
) -> (Browser, raffle_core::store::people::User) {
    let roles: Vec<raffle_core::Role> = roles
        .iter()
        .map(|r| raffle_core::Role::parse(r).unwrap())
        .collect();
    let (u, password) = web::app::auth::new_user(name, &roles).unwrap();
    app.state.store.create_user(&u).await.unwrap();
    let mut b = Browser::new();
    let to = b
        .sign_in(
            app,
            name,
            &password,
            &web::app::auth::totp_now(&u.totp_secret).unwrap(),
        )
        .await;
    assert_eq!(to, "/console?lang=en");
    (b, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_route_checks_the_session_the_role_and_the_csrf_token() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let mut browsers = Vec::new();
    for role in raffle_core::Role::ALL {
        browsers.push((
            role,
            staff(&app, &format!("user-{role}"), &[role.as_str()]).await,
        ));
    }
    let some_user = browsers[0].1.1.id.clone();
    let nobody = Browser::new();
    let staff_routes: Vec<(String, &str, &[raffle_core::Role])> = web::console::routes()
        .iter()
        .filter_map(|r| Some((r.method.to_string(), r.path, r.roles()?)))
        .collect();
    assert!(
        staff_routes.len() > 30,
        "{} console routes",
        staff_routes.len()
    );
    for (method, route, allowed) in &staff_routes {
        let method = method.as_str();
        let path = route
            .replace(
                "{id}",
                if route.contains("/users/") {
                    &some_user
                } else {
                    &raffle
                },
            )
            .replace("{draw_id}", "main")
            .replace(
                "/approvals/{id}",
                "/approvals/00000000-0000-7000-8000-000000000000",
            );
        let path = if route.starts_with("/console/approvals/") {
            "/console/approvals/00000000-0000-7000-8000-000000000000".to_string()
        } else {
            path
        };
        // No session: to the sign-in page, whatever the method.
        let p = match method {
            "GET" => nobody.get(&app, &path).await,
            _ => nobody.post(&app, &path, &[]).await,
        };
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{method} {route} without a session"
        );
        assert_eq!(p.location, "/console/sign-in?lang=en", "{method} {route}");
        // A session that has ended: the sign-in page, saying so.
        let ended = Browser {
            session: Some("ended-or-forged".into()),
            cookies: Vec::new(),
        };
        let p = match method {
            "GET" => ended.get(&app, &path).await,
            _ => ended.post(&app, &path, &[]).await,
        };
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{method} {route}");
        for (role, (b, _)) in &browsers {
            let may = allowed.is_empty() || allowed.contains(role);
            let p = match method {
                "GET" => b.get(&app, &path).await,
                _ => b.post(&app, &path, &[]).await,
            };
            if may {
                assert!(
                    !p.html.contains(FORBIDDEN)
                        && p.status != StatusCode::UNAUTHORIZED
                        && !p.location.contains("sign-in"),
                    "{method} {route} as {role}: {} {}",
                    p.status,
                    p.html
                );
            } else {
                assert_eq!(
                    p.status,
                    StatusCode::FORBIDDEN,
                    "{method} {route} as {role}"
                );
                assert!(
                    p.html.contains(FORBIDDEN),
                    "{method} {route} as {role}: {}",
                    p.html
                );
            }
            // A form post without its token, or with another one, is refused
            // before anything is done.
            if method == "POST" && may {
                let p = b.send(&app, "POST", &path, Some("reason=misprint")).await;
                assert_eq!(
                    p.status,
                    StatusCode::FORBIDDEN,
                    "{route} as {role} without a token"
                );
                assert!(p.html.contains("This form has expired"), "{}", p.html);
                let wrong = format!("csrf={}", CSRF.replace('0', "1"));
                let p = b.send(&app, "POST", &path, Some(&wrong)).await;
                assert_eq!(
                    p.status,
                    StatusCode::FORBIDDEN,
                    "{route} as {role} with another token"
                );
            }
        }
    }
    // The navigation offers each role only what it may open.
    let (admin, _) = &browsers[0].1;
    let home = admin.get(&app, "/console").await.html;
    assert!(
        home.contains("/console/users") && !home.contains("/console/claims"),
        "{home}"
    );
    let (manager, _) = &browsers[1].1;
    let home = manager.get(&app, "/console").await.html;
    assert!(
        home.contains("/console/claims") && !home.contains("/console/users"),
        "{home}"
    );
    drop_database(&app.db).await;
}

/// The first request in `who`'s approvals queue that they may decide.
async fn first_approval(app: &App, who: &Browser) -> String {
    let queue = who.get(app, "/console/approvals").await.html;
    between(&queue, "action=\"/console/approvals/", "?").to_string()
}

/// `who` decides a request from the queue.
async fn decide(app: &App, who: &Browser, approval: &str) -> Page {
    who.post(
        app,
        &format!("/console/approvals/{approval}"),
        &[("decision", "approve")],
    )
    .await
}

/// A refusal as a console page in `lang` shows it: the catalogue's text
/// with its parameters, escaped as the page escapes text (maud: `&`, `<`,
/// `>`, `"`).
fn shown(lang: Lang, r: &Refusal) -> String {
    let mut html = String::new();
    for c in web::i18n::refusal(lang, r).chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            c => html.push(c),
        }
    }
    html
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    html.split_once(start)
        .unwrap_or_else(|| panic!("{start:?} not in {html}"))
        .1
        .split(end)
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_enrols_totp_at_first_sign_in_and_administrators_manage_roles_and_find_events() {
    let app = app().await;
    let (admin, admin_user) = staff(&app, "ada", &["administrator"]).await;

    // The administrator creates a user: the one-time password is shown once.
    let p = admin
        .post(
            &app,
            "/console/users",
            &[("username", "newbie"), ("roles", "finance")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.html);
    let password = between(&p.html, "id=\"new-password\">", "<").to_string();
    assert!(
        !p.html.contains("totp"),
        "the administrator never sees the secret"
    );
    let p = admin
        .post(
            &app,
            "/console/users",
            &[("username", "newbie"), ("roles", "finance")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.html);
    let p = admin
        .post(
            &app,
            "/console/users",
            &[("username", "x"), ("roles", "finance")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);

    // First sign-in: the password alone leads to the enrolment page only.
    let mut newbie = Browser::new();
    let to = newbie.sign_in(&app, "newbie", &password, "").await;
    assert_eq!(to, "/console/enrol?lang=en");
    let p = newbie.get(&app, "/console").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/console/enrol?lang=en")
    );
    let p = newbie.get(&app, "/console/voids").await;
    assert_eq!(p.location, "/console/enrol?lang=en");
    let api = call(
        &app,
        "POST",
        "/api/v1/sessions",
        None,
        json!({ "username": "newbie", "password": password, "totp": "000000" }),
    )
    .await;
    // Through the API the code opens an enrolment session (tests/people.rs).
    assert_eq!(api.0, StatusCode::CREATED, "{}", api.1);
    assert_eq!(api.1["enrolment"], "required");
    let bearer = newbie.session.clone().unwrap();
    let api = call(
        &app,
        "GET",
        "/api/v1/events",
        Some(&bearer),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        api.0,
        StatusCode::FORBIDDEN,
        "an unenrolled session reaches no API route"
    );
    let stored = app
        .state
        .store
        .user_by_name("newbie")
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    // Sealed at rest with a key outside the database.
    assert!(stored.starts_with("sealed1:"), "{stored}");
    let secret = web::app::auth::open_totp(&app.state, &stored).unwrap();
    assert!(!stored.contains(&secret));
    // Step one: a password of their own; no secret is shown before it
    // (whoever held the one-time code could read it).
    let p = newbie.get(&app, "/console/enrol").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.html.contains("name=\"password\"")
            && !p.html.contains("<svg")
            && !p.html.contains(&secret),
        "{}",
        p.html
    );
    let own = "newbie's own password";
    let p = newbie
        .post(
            &app,
            "/console/enrol",
            &[("password", own), ("password2", "different password")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    assert!(p.html.contains("The two passwords differ."), "{}", p.html);
    let p = newbie
        .post(
            &app,
            "/console/enrol",
            &[("password", own), ("password2", own)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    // Step two: a new secret, made when the password was set.
    let stored = app
        .state
        .store
        .user_by_name("newbie")
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    let fresh = web::app::auth::open_totp(&app.state, &stored).unwrap();
    assert_ne!(fresh, secret, "the secret made at creation is never used");
    let secret = fresh;
    assert!(
        p.html.contains("<svg") && p.html.contains(&secret),
        "{}",
        p.html
    );
    let code = web::app::auth::totp_now(&secret).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = newbie
        .post(&app, "/console/enrol", &[("code", wrong)])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    let p = newbie
        .post(&app, "/console/enrol", &[("code", &code)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, "/console?lang=en&done=enrolled");
    let p = newbie.get(&app, "/console?done=enrolled").await;
    assert!(
        p.html.contains("Signed in as newbie (Finance).")
            && p.html.contains("Your authenticator is set up"),
        "{}",
        p.html
    );
    // In French, the roles are named in French.
    let p = newbie.get(&app, "/console?lang=fr-CA").await;
    assert!(
        p.html.contains("Connecté en tant que newbie (Finances)."),
        "{}",
        p.html
    );
    // From now on the code is needed.
    let again = Browser::new();
    let p = again
        .post(
            &app,
            "/console/sign-in",
            &[
                ("username", "newbie"),
                ("password", &password),
                ("code", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{}", p.html);

    // Roles: changed with the old and new values recorded; the last
    // administrator keeps the role.
    let newbie_id = app
        .state
        .store
        .user_by_name("newbie")
        .await
        .unwrap()
        .unwrap()
        .id;
    let p = admin
        .post(
            &app,
            &format!("/console/users/{newbie_id}/roles"),
            &[("roles", "finance"), ("roles", "auditor")],
        )
        .await;
    assert_eq!(p.location, "/console/users?lang=en&done=roles");
    let p = admin.get(&app, "/console/users").await;
    assert!(p.html.contains("Authenticator set up"), "{}", p.html);
    let p = admin
        .post(
            &app,
            &format!("/console/users/{}/roles", admin_user.id),
            &[("roles", "auditor")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.html);
    assert!(
        p.html
            .contains(&shown(Lang::En, &Refusal::LastAdministrator {})),
        "{}",
        p.html
    );
    let p = admin
        .post(
            &app,
            &format!("/console/users/{newbie_id}/roles"),
            &[("roles", "croupier")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);

    // Events: by type, and a page at a time.
    let p = admin.get(&app, "/console/events?kind=roles_changed").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.html.contains("roles_changed") && p.html.contains("auditor"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("sign_in_failed"), "filtered by type");
    for i in 0..60 {
        app.state
            .store
            .record_event("test", "tick", &json!({ "i": i }), None)
            .await
            .unwrap();
    }
    let p = admin.get(&app, "/console/events?component=test").await;
    assert_eq!(p.html.matches("<td>tick</td>").count(), 50, "{}", p.html);
    assert!(p.html.contains("{&quot;i&quot;:59}") && !p.html.contains("{&quot;i&quot;:9}<"));
    let next = p.html.split("\" rel=\"next\"").next().unwrap();
    let next = next.rsplit("href=\"").next().unwrap().replace("&amp;", "&");
    let p = admin.get(&app, &next).await;
    assert_eq!(
        p.html.matches("<td>tick</td>").count(),
        10,
        "{next}: {}",
        p.html
    );
    assert!(p.html.contains("{&quot;i&quot;:0}") && !p.html.contains("rel=\"next\""));
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let p = admin
        .get(
            &app,
            &format!("/console/events?component=test&from={today}&to={today}"),
        )
        .await;
    assert_eq!(p.html.matches("<td>tick</td>").count(), 50);
    let p = admin
        .get(&app, "/console/events?component=test&to=2000-01-01")
        .await;
    assert!(p.html.contains("No event matches."), "{}", p.html);
    let p = admin.get(&app, "/console/events?from=yesterday").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("is not a date"), "{}", p.html);
    drop_database(&app.db).await;
}

/// A time `seconds` from now, as the form's `datetime-local` value in UTC.
fn at(seconds: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raffle_is_run_end_to_end_through_the_console() {
    let app = app().await;
    let (manager, _) = staff(&app, "mia", &["raffle_manager"]).await;
    let (fay, _) = staff(&app, "fay", &["finance"]).await;
    let (finn, _) = staff(&app, "finn", &["finance"]).await;
    let (admin, _) = staff(&app, "ada", &["administrator"]).await;
    let (auditor, _) = staff(&app, "aud", &["auditor"]).await;

    // A draft, from the form; a field it cannot read is named.
    // Sales end (and the draw's cutoff passes) 10 seconds from now.
    let sales_end = std::time::Instant::now() + std::time::Duration::from_secs(11);
    let (start, end, draw_at) = (at(-60), at(10), at(600));
    let mut fields = vec![
        ("name", "Console 50/50"),
        ("organisation", "Console Foundation"),
        ("licence", "L-1"),
        ("jurisdiction", "CA-ON"),
        ("time_zone", "UTC"),
        ("minimum_age", "19"),
        ("regions", "CA-ON"),
        ("approvers", "finance"),
        ("currency", "CAD"),
        ("first_number", "1"),
        ("sales_start", &start),
        ("sales_end", &end),
        ("package0.id", "p1"),
        ("package0.tickets", "1"),
        ("package0.price", "5"),
        ("package1.id", "p3"),
        ("package1.tickets", "3"),
        ("package1.price", "10.00"),
        ("draw0.id", "main"),
        ("draw0.name", "Main draw"),
        ("draw0.cutoff", &end),
        ("draw0.at", &draw_at),
        ("draw0.kind", "share"),
        ("draw0.share", "50"),
        ("wins", "number_once"),
        ("early_bird", "from_proceeds"),
        ("window_days", "30"),
        ("unclaimed", "redraw"),
        ("paperwork_over", "1000"),
    ];
    let mut bad = fields.clone();
    bad.retain(|(k, _)| *k != "package1.price");
    bad.push(("package1.price", "ten"));
    let p = manager.post(&app, "/console/raffles", &bad).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.html
            .contains("Price: enter an amount such as 10 or 10.50."),
        "{}",
        p.html
    );
    let p = manager.post(&app, "/console/raffles", &fields).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert!(p.location.ends_with("&done=created"), "{}", p.location);
    let raffle = between(&p.location, "/console/raffles/", "?").to_string();
    let page = format!("/console/raffles/{raffle}");
    {
        let ledger = app.state.sequencer.ledger();
        let r = ledger.raffle(&raffle).unwrap();
        assert_eq!(r.status, Status::Draft);
        assert_eq!(r.config.packages[1].price.minor, 1000);
        assert_eq!(r.config.buyers.minimum_age, 19);
        assert_eq!(r.config.claims.paperwork_over.unwrap().minor, 100_000);
    }
    // Edited while a draft (the log keeps old and new values).
    fields[0] = ("name", "Console 50/50 (edited)");
    let p = manager.post(&app, &format!("{page}/edit"), &fields).await;
    assert_eq!(
        p.location,
        format!("{page}?lang=en&done=saved"),
        "{}",
        p.html
    );
    let edit = manager.get(&app, &format!("{page}/edit")).await;
    assert!(
        edit.html.contains("value=\"Console 50/50 (edited)\""),
        "{}",
        edit.html
    );
    // Opened; then the configuration is frozen (GLI-31 2.2.3) and the refusal is an event.
    let p = manager.post(&app, &format!("{page}/open"), &[]).await;
    assert_eq!(p.location, format!("{page}?lang=en&done=opened"));
    let p = manager.post(&app, &format!("{page}/edit"), &fields).await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    let frozen = Refusal::ConfigurationFrozen {
        raffle: raffle.clone(),
        status: "open".into(),
    };
    assert!(p.html.contains(&shown(Lang::En, &frozen)), "{}", p.html);
    let refused = common::rows(&app, "events WHERE kind = 'configuration_change_refused'").await;
    assert_eq!(refused, 1);

    // Jurisdiction texts, set by an administrator, on the raffle page and the receipt.
    let texts = [
        ("jurisdiction", "ca-on"),
        ("help_line", "ConnexOntario 1-866-531-2600"),
        ("estimate_notice_en", "The jackpot shown is an estimate."),
        (
            "estimate_notice_fr",
            "Le gros lot affiché est une estimation.",
        ),
    ];
    let p = admin.post(&app, "/console/settings", &texts).await;
    assert_eq!(
        p.location, "/console/settings?lang=en&done=saved",
        "{}",
        p.html
    );
    let p = admin
        .post(
            &app,
            "/console/settings",
            &[("jurisdiction", "CA-ON"), ("help_line", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let public = Browser::new()
        .get(&app, &format!("/raffles/{raffle}"))
        .await;
    assert!(
        public.html.contains("The jackpot shown is an estimate."),
        "{}",
        public.html
    );
    assert!(
        public
            .html
            .contains("Help with gambling: ConnexOntario 1-866-531-2600")
    );

    // Two sales; one is voided by finance and approved by another person.
    let buy = |key: &'static str| {
        let app = &app;
        let raffle = raffle.clone();
        async move {
            let (status, body) = common::request(
                app,
                "POST",
                &format!("/api/v1/raffles/{raffle}/purchases"),
                &[(
                    "idempotency-key",
                    &format!("{key}-000000000000000000000000"),
                )],
                PURCHASE.to_string(),
            )
            .await;
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(status, StatusCode::CREATED, "{v}");
            v
        }
    };
    let kept = buy("a").await;
    let voided = buy("b").await;
    let mut buyer = Browser::new();
    let sale_id = kept["sale_id"].as_str().unwrap();
    buyer.cookies.push(format!(
        "raffle_order_{sale_id}={}",
        kept["order_token"].as_str().unwrap()
    ));
    let receipt = buyer.get(&app, &format!("/orders/{sale_id}")).await;
    assert!(
        receipt.html.contains("Buyers must be 19 or older."),
        "{}",
        receipt.html
    );
    assert!(receipt.html.contains("ConnexOntario"), "{}", receipt.html);
    let p = fay
        .post(
            &app,
            "/console/voids",
            &[
                ("ticket", voided["validation_number"].as_str().unwrap()),
                ("reason", "buyer_request"),
                ("refund", "yes"),
            ],
        )
        .await;
    assert_eq!(
        p.location, "/console/voids?lang=en&done=requested",
        "{}",
        p.html
    );
    let p = fay
        .post(
            &app,
            "/console/voids",
            &[("ticket", "no-such-sale"), ("reason", "misprint")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.html);
    let queue = fay.get(&app, "/console/approvals").await;
    assert!(queue.html.contains("Your own request"), "{}", queue.html);
    let approval = first_approval(&app, &finn).await;
    let p = decide(&app, &fay, &approval).await;
    assert_eq!(
        p.status,
        StatusCode::FORBIDDEN,
        "the requester cannot approve: {}",
        p.html
    );
    let p = decide(&app, &finn, &approval).await;
    assert_eq!(
        p.location, "/console/approvals?lang=en&done=approved",
        "{}",
        p.html
    );
    {
        let ledger = app.state.sequencer.ledger();
        let r = ledger.raffle(&raffle).unwrap();
        assert!(r.sale(voided["sale_id"].as_str().unwrap()).unwrap().voided);
    }

    // Sales closed by the manager (GLI-31 2.6.2); the cutoff passes.
    let p = manager.post(&app, &format!("{page}/close"), &[]).await;
    assert_eq!(p.location, format!("{page}?lang=en&done=closed"));
    tokio::time::sleep_until(sales_end.into()).await;

    // Reconciliation: the figures, then a confirmed request and a second person.
    let rec = format!("{page}/draws/main/reconciliation");
    let p = auditor.get(&app, &rec).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(between(&p.html, "id=\"rec-sales\">", "<"), "2");
    assert_eq!(between(&p.html, "id=\"rec-voids\">", "<"), "1");
    assert_eq!(between(&p.html, "id=\"rec-net\">", "<"), "$10.00");
    assert!(
        !p.html.contains("name=\"confirm\""),
        "an auditor only reads"
    );
    let p = fay.post(&app, &rec, &[]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = fay.post(&app, &rec, &[("confirm", "yes")]).await;
    assert_eq!(
        p.location,
        format!("{rec}?lang=en&done=requested"),
        "{}",
        p.html
    );
    let approval = first_approval(&app, &finn).await;
    let p = decide(&app, &finn, &approval).await;
    assert_eq!(
        p.location, "/console/approvals?lang=en&done=approved",
        "{}",
        p.html
    );

    // The draw screen: freeze, perform, the winning number and its call time.
    let draw = format!("{page}/draws/main");
    let p = manager.post(&app, &format!("{draw}/perform"), &[]).await;
    assert_eq!(p.status, StatusCode::CONFLICT, "not frozen yet: {}", p.html);
    let p = manager.post(&app, &format!("{draw}/freeze"), &[]).await;
    assert_eq!(
        p.location,
        format!("{draw}?lang=en&done=frozen"),
        "{}",
        p.html
    );
    let p = manager.get(&app, &draw).await;
    assert_eq!(between(&p.html, "id=\"eligible\">", "<"), "3");
    assert_eq!(between(&p.html, "id=\"prize\">", "<"), "$5.00");
    assert!(p.html.contains("no witness is configured"), "{}", p.html);
    let p = manager.post(&app, &format!("{draw}/perform"), &[]).await;
    assert_eq!(
        p.location,
        format!("{draw}?lang=en&done=performed"),
        "{}",
        p.html
    );
    let p = auditor.get(&app, &draw).await;
    let winner: u64 = between(&p.html, "id=\"winning-number\">", "<")
        .parse()
        .unwrap();
    assert!((1..=3).contains(&winner), "a kept sale's number: {winner}");
    assert!(p.html.contains(&format!(
        "raffle-audit draw http://raffles.example/log/ --raffle {raffle}"
    )));
    assert!(!p.html.contains("/perform"), "an auditor sees no action");

    // The claim, validated by its validation number (GLI-31 2.7.1), once.
    let vn = kept["validation_number"].as_str().unwrap();
    let p = manager
        .post(
            &app,
            "/console/claims",
            &[("validation_number", "nonsense")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    let p = manager
        .post(&app, "/console/claims", &[("validation_number", vn)])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(
        p.html.contains("Valid winning ticket: pay $5.00."),
        "{}",
        p.html
    );
    let p = manager
        .post(&app, "/console/claims", &[("validation_number", vn)])
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(
        p.html
            .contains(&shown(Lang::En, &Refusal::NoUnclaimedPrize {})),
        "{}",
        p.html
    );
    let p = manager.get(&app, &page).await;
    assert!(p.html.contains("Drawn and claimed"), "{}", p.html);
    drop_database(&app.db).await;
}

/// With two administrators, a user created in the console waits for the
/// other, whose approval alone shows the one-time code; disabling acts at
/// once; everyone changes their own password on their account page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_people_changes_wait_for_the_second_administrator_and_passwords_change() {
    let app = app().await;
    let (ada, _) = staff(&app, "ada", &["administrator"]).await;
    let (bob, bob_user) = staff(&app, "bob", &["administrator"]).await;
    let p = ada
        .post(
            &app,
            "/console/users",
            &[("username", "newbie"), ("roles", "finance")],
        )
        .await;
    assert_eq!(p.status, StatusCode::ACCEPTED, "{}", p.html);
    assert!(
        p.html.contains("another administrator must approve") && !p.html.contains("new-password"),
        "{}",
        p.html
    );
    let approval: String =
        sqlx::query_scalar("SELECT id::text FROM approvals WHERE kind = 'user_create'")
            .fetch_one(&app.state.store.pool)
            .await
            .unwrap();
    let p = ada.get(&app, "/console/approvals").await;
    assert!(
        p.html.contains("Create the user newbie") && p.html.contains("Your own request"),
        "{}",
        p.html
    );
    let p = ada
        .post(
            &app,
            &format!("/console/approvals/{approval}"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.html);
    let p = bob
        .post(
            &app,
            &format!("/console/approvals/{approval}"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let code = between(&p.html, "id=\"new-password\">", "<").to_string();
    assert!(
        app.state
            .store
            .user_by_name("newbie")
            .await
            .unwrap()
            .is_some()
    );
    // The code signs newbie in to the enrolment page only.
    let mut newbie = Browser::new();
    assert_eq!(
        newbie.sign_in(&app, "newbie", &code, "").await,
        "/console/enrol?lang=en"
    );
    // The account page: sessions, and a password change that needs the current one.
    let p = ada.get(&app, "/console/account").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("This session."), "{}", p.html);
    let change = |current: &'static str| {
        [
            ("current", current),
            ("password", "ada's new long password"),
            ("password2", "ada's new long password"),
        ]
    };
    let p = ada
        .post(&app, "/console/account/password", &change("wrong"))
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.html);
    let p = ada
        .post(
            &app,
            "/console/account/password",
            &[
                ("current", "x"),
                ("password", "ada's new long password"),
                ("password2", "other"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    // Disabling the other administrator waits for them to agree (else one
    // would be left, alone); disabling newbie ends his session at once.
    let p = ada
        .post(
            &app,
            &format!("/console/users/{}/disable", bob_user.id),
            &[],
        )
        .await;
    assert!(
        p.html.contains("another administrator must approve"),
        "{}",
        p.html
    );
    let p = bob.get(&app, "/console").await;
    assert_eq!(p.status, StatusCode::OK);
    let newbie_id = app
        .state
        .store
        .user_by_name("newbie")
        .await
        .unwrap()
        .unwrap()
        .id;
    let p = ada
        .post(&app, &format!("/console/users/{newbie_id}/disable"), &[])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let p = newbie.get(&app, "/console/enrol").await;
    assert!(
        p.status == StatusCode::UNAUTHORIZED || p.location.contains("sign-in"),
        "{} {}",
        p.status,
        p.html
    );
    drop_database(&app.db).await;
}

/// A malformed id in a console page's path is refused by the console's
/// own page (400, in the page's language) before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_id_in_a_console_path_gets_the_console_page_in_its_language() {
    let app = app().await;
    let (b, _) = staff(&app, "mia", &["raffle_manager"]).await;
    let p = b.get(&app, "/console/raffles/NOT-A-UUID?lang=fr-CA").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.html);
    assert!(p.html.contains("Non effectué"), "{}", p.html);
    assert!(p.html.contains("raffle id"), "{}", p.html);
    let p = b
        .get(
            &app,
            "/console/raffles/00000000-0000-4000-8000-000000000000/draws/Main!",
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.html);
    assert!(p.html.contains("draw id"), "{}", p.html);
    drop_database(&app.db).await;
}
