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
