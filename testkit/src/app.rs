//! `raffled` in-process for tests: the application on a fresh database
//! and data directory, requests through its router, a minimal HTTP/1.1
//! client for a real `raffled` process, and the enrolment and approval
//! steps many tests take.

pub use crate::db::{database_url, drop_database, fresh_database};

pub const PURCHASE: &str = r#"{"package_id":"p3","buyer":{"age_confirmed":true,"region":"CA-ON"},"payment":{"provider":"test"}}"#;

/// One HTTP/1.1 request with `Connection: close`; returns the status and body.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The application in-process, on a fresh database and data directory.
pub struct App {
    pub state: web::AppState,
    pub db: String,
    _dir: tempfile::TempDir,
}

impl App {
    /// An application started on `dir`, which it keeps until dropped.
    pub fn with_dir(state: web::AppState, db: String, dir: tempfile::TempDir) -> App {
        App {
            state,
            db,
            _dir: dir,
        }
    }

    /// An application started elsewhere (with its own data directory).
    pub fn from_state(state: web::AppState, db: String) -> App {
        App {
            state,
            db,
            _dir: tempfile::tempdir().unwrap(),
        }
    }
}

pub async fn app_with_witnesses(witness_keys: Vec<String>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let config = web::config::Config {
        witness_keys,
        ..web::config::Config::for_tests(url, dir.path().to_path_buf(), &["test"])
    };
    App {
        state: web::start(config).await.unwrap(),
        db,
        _dir: dir,
    }
}

/// The application with settings changed by `change` (from the tests'
/// defaults: the `test` provider allowed); the error `start` gave, if any.
pub async fn app_with(change: impl FnOnce(&mut web::config::Config)) -> Result<App, String> {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let mut config = web::config::Config::for_tests(url, dir.path().to_path_buf(), &["test"]);
    change(&mut config);
    Ok(App {
        state: web::start(config).await?,
        db,
        _dir: dir,
    })
}

/// A JSON answer (a value, or a body's text) without its `request_id`,
/// which differs for every request: tests that two answers cannot be told
/// apart compare the rest.
pub fn but_request_id(answer: impl Into<AnswerBody>) -> serde_json::Value {
    let mut v = answer.into().0;
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    v
}

/// What [`but_request_id`] takes.
pub struct AnswerBody(serde_json::Value);

impl From<&serde_json::Value> for AnswerBody {
    fn from(v: &serde_json::Value) -> AnswerBody {
        AnswerBody(v.clone())
    }
}

impl From<&String> for AnswerBody {
    fn from(s: &String) -> AnswerBody {
        AnswerBody(serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone())))
    }
}

/// The application with its publication store and commit obeying `plan`.
pub async fn app_with_faults(plan: std::sync::Arc<publications::faults::Plan>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let config = web::config::Config::for_tests(url, dir.path().to_path_buf(), &["test"]);
    App {
        state: web::start_with(config, Some(plan)).await.unwrap(),
        db,
        _dir: dir,
    }
}

pub async fn app() -> App {
    app_with_witnesses(vec![]).await
}

/// How many rows a table of the app's database holds.
pub async fn rows(app: &App, table: &'static str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
}

/// One request through the router (`oneshot`): the status and the body bytes.
pub async fn request(
    app: &App,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (axum::http::StatusCode, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = web::router(app.state.clone())
        .oneshot(req.body(axum::body::Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
}

/// A JSON request through the router, with a bearer token when given: the
/// status and the JSON answer (null when the body is not JSON).
pub async fn call(
    app: &App,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (axum::http::StatusCode, serde_json::Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, bytes) = request(app, method, path, &headers, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A user created over the API by `admin` (answered 201 with a one-time
/// enrolment code: the organisation has one administrator) and enrolled
/// through the API: the code, a password of their own, the TOTP secret
/// confirmed. Returns the enrolled session's token.
pub async fn enrol_via_api(app: &App, admin: &str, name: &str, roles: &[&str]) -> String {
    use axum::http::StatusCode;
    let (status, created) = call(
        app,
        "POST",
        "/api/v1/users",
        Some(admin),
        serde_json::json!({ "username": name, "roles": roles }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created.get("password").is_none() && created.get("totp_secret").is_none(),
        "{created}"
    );
    let code = created["enrolment_code"].as_str().unwrap();
    enrol_with_code(app, name, code).await
}

/// Signs in with a one-time enrolment code and completes the enrolment.
pub async fn enrol_with_code(app: &App, name: &str, code: &str) -> String {
    use axum::http::StatusCode;
    let (status, s) = call(
        app,
        "POST",
        "/api/v1/sessions",
        None,
        serde_json::json!({ "username": name, "password": code, "totp": "" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["enrolment"], "required");
    let token = s["token"].as_str().unwrap().to_string();
    let (status, v) = call(
        app,
        "POST",
        "/api/v1/enrolment/password",
        Some(&token),
        serde_json::json!({ "password": format!("{name}-own-password") }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let secret = v["totp_secret"].as_str().unwrap();
    let (status, v) = call(
        app,
        "POST",
        "/api/v1/enrolment/totp",
        Some(&token),
        serde_json::json!({ "code": web::app::auth::totp_now(secret).unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    token
}

/// Approves the pending request of an answer (`approval_id`) as `by`.
pub async fn approve(
    app: &App,
    pending: &serde_json::Value,
    by: &str,
) -> (axum::http::StatusCode, serde_json::Value) {
    let id = pending["approval_id"].as_str().unwrap();
    call(
        app,
        "POST",
        &format!("/api/v1/approvals/{id}"),
        Some(by),
        serde_json::json!({ "decision": "approve" }),
    )
    .await
}

/// A user made directly in the store (enrolled; the TOTP secret sealed as
/// the server keeps it) and signed in over the API.
pub struct SignedIn {
    pub token: String,
    pub password: String,
    /// The TOTP secret in the clear (the store holds it sealed).
    pub totp_secret: String,
    pub user: raffle_core::store::people::User,
}

/// Makes and signs in a user with `roles` (role names, as tests write them).
pub async fn signed_in(app: &App, name: &str, roles: &[&str]) -> SignedIn {
    let roles: Vec<raffle_core::Role> = roles
        .iter()
        .map(|r| raffle_core::Role::parse(r).unwrap())
        .collect();
    let (mut user, password) = web::app::auth::new_user(name, &roles).unwrap();
    let totp_secret = user.totp_secret.clone();
    user.totp_secret = web::app::auth::seal_totp(&app.state, &totp_secret).unwrap();
    app.state.store.create_user(&user).await.unwrap();
    let token = sign_in(app, name, &password, &totp_secret).await;
    SignedIn {
        token,
        password,
        totp_secret,
        user,
    }
}

/// Signs in over the API with the secret's current TOTP code: the token.
pub async fn sign_in(app: &App, name: &str, password: &str, totp_secret: &str) -> String {
    let body = serde_json::json!({
        "username": name,
        "password": password,
        "totp": web::app::auth::totp_now(totp_secret).unwrap(),
    });
    let (status, v) = call(app, "POST", "/api/v1/sessions", None, body).await;
    assert_eq!(
        status,
        axum::http::StatusCode::CREATED,
        "signing in {name}: {v}"
    );
    v["token"].as_str().unwrap().to_string()
}
