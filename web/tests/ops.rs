//! Operating raffled: readiness follows the publication store (the
//! fault-injecting one), every answer carries a request id that JSON
//! errors repeat, and the metrics expose each named series as OpenMetrics
//! text.

use axum::http::StatusCode;
use publications::faults::{Call, Fault, Plan};
use testkit::app as common;

use common::{PURCHASE, drop_database, request};
use serde_json::Value;

async fn ready(app: &common::App) -> (StatusCode, Value) {
    let (status, body) = request(app, "GET", "/readyz", &[], String::new()).await;
    (status, serde_json::from_slice(&body).unwrap())
}

async fn purchase(app: &common::App, raffle: &str, key: &str) -> StatusCode {
    request(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", key)],
        PURCHASE.to_string(),
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_while_the_publication_store_fails_and_ready_after() {
    let plan = Plan::new();
    let app = common::app_with_faults(plan.clone()).await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let (status, v) = request(&app, "GET", "/healthz", &[], String::new()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
    let (status, v) = ready(&app).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ready"], true, "{v}");
    plan.arm(Call::WriteTiles, Fault::Before, 1_000);
    let status = purchase(&app, &raffle, "readiness-purchase-key-0001").await;
    assert!(status.is_server_error(), "{status}");
    let (status, v) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let why = v["not_ready"][0].as_str().unwrap();
    assert!(why.contains("durable writes"), "{v}");
    assert!(
        !why.contains("injected"),
        "the error's text stays in the logs: {v}"
    );
    plan.disarm();
    // The same purchase, retried with its key, goes through once the store heals.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = purchase(&app, &raffle, "readiness-purchase-key-0001").await;
        if status == StatusCode::CREATED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::CREATED);
    let (status, v) = ready(&app).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_has_a_request_id_and_a_json_error_repeats_it() {
    use tower::ServiceExt as _;
    let app = common::app().await;
    let router = web::router(app.state.clone());
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let req = axum::http::Request::get("/api/v1/raffles/NOT-A-UUID")
            .header("x-request-id", "chosen-by-the-client")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["request_id"], id.as_str(), "{v}");
        ids.insert(id);
    }
    assert_eq!(
        ids.len(),
        3,
        "each request has its own id, never the client's"
    );
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_expose_each_named_series_as_openmetrics_text() {
    use tower::ServiceExt as _;
    let app = common::app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    assert_eq!(
        purchase(&app, &raffle, "metrics-purchase-key-00001").await,
        StatusCode::CREATED
    );
    let res = web::ops::metrics::router(app.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    // The text format: comments, samples `name{labels} value`, and # EOF last.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
    let mut samples = std::collections::BTreeMap::new();
    for line in &lines {
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        samples.insert(series.to_string(), value);
    }
    // And as the Prometheus project's own parser reads it.
    let families = openmetrics_families(&text);
    for family in [
        "raffle_http_requests",
        "raffle_http_request_duration_seconds",
        "raffle_purchases",
        "raffle_sequencer_batches",
        "raffle_sequencer_queue_depth",
        "raffle_publication_lag_seconds",
        "raffle_witness_requests",
        "raffle_verifications",
        "raffle_database_connections",
        "raffle_communication_events",
        "raffle_program_errors",
        "raffle_queue_full",
    ] {
        assert!(
            families.contains(&family.to_string()),
            "{family} not parsed: {families:?}"
        );
    }
    let has = |prefix: &str| samples.keys().any(|k| k.starts_with(prefix));
    for series in [
        "raffle_http_requests_total{",
        "raffle_http_request_duration_seconds_bucket{",
        "raffle_purchases_total{outcome=\"acknowledged\"",
        "raffle_sequencer_batches_total",
        "raffle_sequencer_batch_entries_total",
        "raffle_sequencer_batch_seconds_total",
        "raffle_sequencer_last_batch_entries",
        "raffle_sequencer_queue_depth",
        "raffle_sequencer_failures_total",
        "raffle_publication_lag_seconds",
        "raffle_witness_requests_total{",
        "raffle_database_connections{state=\"idle\"",
    ] {
        assert!(has(series), "no {series} in\n{text}");
    }
    assert_eq!(
        samples["raffle_verifications_total{result=\"failed\"}"],
        0.0
    );
    let purchases = samples["raffle_purchases_total{outcome=\"acknowledged\",reason=\"\"}"];
    assert_eq!(purchases, 1.0);
    assert!(samples["raffle_sequencer_batches_total"] >= 1.0);
    // Routes are labelled by their template, never by an id.
    assert!(
        has(
            "raffle_http_requests_total{method=\"POST\",route=\"/api/v1/raffles/{id}/purchases\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(!text.contains(raffle.as_str()), "no raffle id in a label");
    drop_database(&app.db).await;
}

/// The metric families Python's `prometheus_client` OpenMetrics parser
/// reads from `text` (it refuses text that is not OpenMetrics).
fn openmetrics_families(text: &str) -> Vec<String> {
    use std::io::Write as _;
    let script = "import sys, json\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        print(json.dumps([f.name for f in text_string_to_metric_families(sys.stdin.read())]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs prometheus_client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the text: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A fake witness: answers 404 to everything while it runs.
async fn serve_witness(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new()).await;
    })
}

async fn communication_events(app: &common::App, kind: &str) -> Vec<Value> {
    app.state
        .store
        .events(None, None, Some("communication"), Some(kind), None, 100)
        .await
        .unwrap()
}

/// Waits up to 10 s for `kind` events to number `n`.
async fn until_events(app: &common::App, kind: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let events = communication_events(app, kind).await;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {n} communication {kind} events");
}

// GLI-31 5.6.1: lost communications, and their recovery, are significant events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_stops_answering_raises_one_loss_and_one_recovery_event() {
    use transparency::NoteSigner;
    use transparency::key::ALG_COSIGNATURE_V1;
    let key = NoteSigner::generate("regulator.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let witness = serve_witness(listener).await;
    let app = common::app_with(|c| {
        c.witness_keys = vec![key.verifier().vkey()];
        c.witness_urls = vec![format!("{}=http://{addr}/", key.verifier().name())];
        c.comm_loss_secs = 0;
    })
    .await
    .unwrap();
    let link = "witness:regulator.example/witness";
    for _ in 0..50 {
        if app.state.links.snapshot().get(link).is_some_and(|s| s.up) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app.state.links.snapshot()[link].up);
    witness.abort();
    let _ = witness.await;
    let lost = until_events(&app, "lost", 1).await;
    assert_eq!(lost[0]["detail"]["link"], "witness", "{lost:?}");
    assert_eq!(lost[0]["detail"]["name"], "regulator.example/witness");
    assert!(
        !lost[0].to_string().contains(&addr.to_string()),
        "no address in the event"
    );
    assert!(!app.state.links.snapshot()[link].up);
    // Still down a while later: still one event, not one per probe.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(communication_events(&app, "lost").await.len(), 1);
    assert!(communication_events(&app, "restored").await.is_empty());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _witness = serve_witness(listener).await;
    let restored = until_events(&app, "restored", 1).await;
    assert_eq!(restored[0]["detail"]["link"], "witness", "{restored:?}");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(communication_events(&app, "lost").await.len(), 1);
    assert_eq!(communication_events(&app, "restored").await.len(), 1);
    assert!(app.state.links.snapshot()[link].up);
    drop_database(&app.db).await;
}

// GLI-31 5.6.1: a program error is a significant event; the answer says
// nothing of the panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_answered_500_and_recorded_as_a_program_error() {
    let app = common::app().await;
    let answer = web::ops::monitor::panicked(
        &app.state.metrics,
        &app.state.incidents,
        Box::new("index out of bounds in a handler"),
    );
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&body).contains("index out of bounds"));
    let mut events = Vec::new();
    for _ in 0..50 {
        events = app
            .state
            .store
            .events(None, None, Some("program"), Some("error"), None, 10)
            .await
            .unwrap();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["detail"]["panic"],
        "index out of bounds in a handler"
    );
    // A second panic within the minute is counted, not recorded again.
    let _ =
        web::ops::monitor::panicked(&app.state.metrics, &app.state.incidents, Box::new("again"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let events = app
        .state
        .store
        .events(None, None, Some("program"), Some("error"), None, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let text = app.state.metrics.render(&app.state);
    assert!(text.contains("raffle_program_errors_total 2"), "{text}");
    drop_database(&app.db).await;
}

/// The status screen, for administrators and auditors only, in both
/// languages, and its live panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_screen_shows_the_sequencer_log_witnesses_and_release() {
    let app = common::app().await;
    let admin = common::signed_in(&app, "root", &["administrator"]).await;
    let finance = common::signed_in(&app, "fay", &["finance"]).await;
    let page = |token: String, path: &'static str| {
        let app = &app;
        async move {
            let cookie = format!("raffle_session={token}");
            request(app, "GET", path, &[("cookie", &cookie)], String::new()).await
        }
    };
    let (status, body) = page(admin.token.clone(), "/console/status").await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    for want in [
        "Sequencer",
        "Published log",
        "Witnesses",
        "Running release",
        "software verification is not built yet",
        "data-refresh-url",
    ] {
        assert!(html.contains(want), "no {want:?} in the status page");
    }
    let (status, body) = page(admin.token.clone(), "/console/status/panel?lang=fr-CA").await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Séquenceur") && !html.contains("<html"),
        "{html}"
    );
    let (status, _) = page(finance.token.clone(), "/console/status").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The panel's automatic reloads do not keep an unattended session alive.
    let last_seen = || async {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM now() - last_seen)::float8 FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'root'",
        )
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
    };
    sqlx::query("UPDATE sessions SET last_seen = now() - interval '20 minutes' FROM users u WHERE u.id = sessions.user_id AND u.username = 'root'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (status, _) = page(admin.token.clone(), "/console/status/panel").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        last_seen().await > 19.0 * 60.0,
        "the panel counted as activity"
    );
    let (status, _) = page(admin.token.clone(), "/console/status").await;
    assert_eq!(status, StatusCode::OK);
    assert!(last_seen().await < 60.0, "the page itself is activity");
    drop_database(&app.db).await;
}

/// A publication store that hangs rather than fails: not ready while a
/// batch's writes take longer than the bound, ready once they finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_while_a_write_hangs_past_the_bound() {
    let plan = Plan::new();
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = testkit::db::fresh_database();
    let mut config = web::config::Config::for_tests(url, dir.path().to_path_buf(), &["test"]);
    config.comm_loss_secs = 1;
    let state = web::start_with(config, Some(plan.clone())).await.unwrap();
    let app = common::App::from_state(state, db);
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    assert_eq!(ready(&app).await.0, StatusCode::OK);
    plan.arm(
        Call::WriteTiles,
        Fault::Slow(std::time::Duration::from_secs(3)),
        1,
    );
    let state = app.state.clone();
    let buying = tokio::spawn(async move {
        let app = common::App::from_state(state, String::new());
        purchase(&app, raffle.as_str(), "a-hanging-write-purchase-01").await
    });
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let (status, v) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["not_ready"][0]
            .as_str()
            .unwrap()
            .contains("have not finished"),
        "{v}"
    );
    assert_eq!(buying.await.unwrap(), StatusCode::CREATED);
    assert_eq!(ready(&app).await.0, StatusCode::OK);
    drop(dir);
    drop_database(&app.db).await;
}
