//! The log `raffled` publishes, and the receipts it issues, verify with the
//! Go reference implementation (sumdb/note and sumdb/tlog), through the
//! interoperability program of `transparency/tests/interop/`.

use testkit::app as common;

use common::{PURCHASE, drop_database};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_verifies_the_demo_log_and_its_receipts() {
    let app = common::app().await;
    let state = app.state.clone();
    let raffle = web::cli::demo::ensure_demo_raffle(&state).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proofs = dir.path().join("receipts");
    std::fs::create_dir_all(&proofs).unwrap();
    for i in 0..5 {
        let (status, bytes) = common::request(
            &app,
            "POST",
            &format!("/api/v1/raffles/{raffle}/purchases"),
            &[],
            PURCHASE.to_string(),
        )
        .await;
        assert_eq!(status, 201);
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
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
        .arg(state.config.publications_dir())
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
    drop_database(&app.db).await;
}
