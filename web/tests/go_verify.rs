//! The log `raffled` publishes, and the receipts it issues, verify with the
//! Go reference implementation (sumdb/note and sumdb/tlog), through the
//! interoperability program of `transparency/tests/interop/`.

mod common;

use common::{PURCHASE, drop_database, fresh_database};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_verifies_the_demo_log_and_its_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let config = web::config::Config {
        database_url: url,
        listen: "127.0.0.1:8080".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        log_origin: None,
        witness_keys: vec![],
    };
    let state = web::start(config).await.unwrap();
    let raffle = web::demo::ensure_demo_raffle(&state).await.unwrap();
    let proofs = dir.path().join("receipts");
    std::fs::create_dir_all(&proofs).unwrap();
    for i in 0..5 {
        use tower::ServiceExt;
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/api/v1/raffles/{raffle}/purchases"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(PURCHASE))
            .unwrap();
        let resp = web::api::router(state.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = serde_json::from_slice(
            &axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap(),
        )
        .unwrap();
        std::fs::write(
            proofs.join(format!("{i}.tlog-proof")),
            body["proof"].as_str().unwrap(),
        )
        .unwrap();
    }
    let program =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../transparency/tests/interop/interop.go");
    let out = std::process::Command::new("go")
        .arg("run")
        .arg(&program)
        .arg("verify-log")
        .arg(dir.path().join("publications"))
        .arg(&state.vkey)
        .arg(&proofs)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
        )
        .output()
        .expect("go is installed (scripts/test installs golang-go and golang-golang-x-mod-dev)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK 5 inclusion proofs"), "{stdout}");
    assert!(stdout.contains("OK 8 record hashes match"), "{stdout}");
    drop_database(&db).await;
}
