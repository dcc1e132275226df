//! The kiosk UI in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core`; `scripts/test` installs both into
//! web/tests/browser), on a 390 px phone in English and French, with no
//! serious or critical axe-core violation and no horizontal scrolling.
//! The operator signs in, sells a package for cash and it prints, goes
//! offline (the network is cut) and sells, comes back online and sees
//! "All sales uploaded", and seals for the early bird once its cutoff
//! passed; the server holds both sales and the seal.

mod common;

use common::*;
use raffle_rsu::clock::SystemClock;
use raffle_rsu::unit::Settings;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_sells_offline_uploads_and_seals_in_chromium() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and web/tests/browser/node_modules: run scripts/test, which installs them"
    );
    let rig = Rig::with_early_cutoff(30).await;
    let mut unit = rig
        .unit_on(Settings::default(), Box::new(SystemClock))
        .unwrap();
    // Enrolled and connected once: it holds its operator list.
    blocking(|| unit.sync()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let kiosk = raffle_rsu::kiosk::router(Arc::new(Mutex::new(unit)), addr).unwrap();
    tokio::spawn(async move { axum::serve(listener, kiosk).await.unwrap() });
    // The test's own switch for the network, for the script to flip.
    let control = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control_addr = control.local_addr().unwrap();
    let cut = rig.cut.clone();
    let restore = rig.cut.clone();
    let switch = axum::Router::new()
        .route(
            "/cut",
            axum::routing::post(move || async move { cut.store(true, Ordering::SeqCst) }),
        )
        .route(
            "/restore",
            axum::routing::post(move || async move { restore.store(false, Ordering::SeqCst) }),
        );
    tokio::spawn(async move { axum::serve(control, switch).await.unwrap() });

    let mut command = tokio::process::Command::new("node");
    command
        .arg(browser.join("kiosk.mjs"))
        .arg(format!("http://{addr}"))
        .arg(format!("http://{control_addr}"))
        .arg(rig.seller())
        .arg(SELLER_PIN);
    if let Some(shots) = std::env::var_os("SCREENSHOTS") {
        command.arg(shots);
    }
    let out = command.output().await.expect("node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser script failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(r["pages"].as_array().unwrap().len() >= 6, "{r}");
    assert_eq!(r["violations"], serde_json::json!([]), "{r}");
    assert_eq!(r["overflow"], serde_json::json!([]), "{r}");
    let steps = r["steps"].as_object().unwrap();
    for step in [
        "signed_in",
        "sold",
        "printed",
        "offline_sale",
        "uploaded",
        "sealed",
        "french",
    ] {
        assert_eq!(steps[step], true, "{step}: {r}");
    }
    // The server holds both sales and the early bird's seal.
    let head = rig
        .app
        .state
        .sequencer
        .ledger()
        .device("gate-3")
        .unwrap()
        .head
        .seq;
    assert_eq!(head, 2);
    assert_eq!(rig.entries("rsu.sealed").await.len(), 1);
    assert_eq!(rig.printer.printed().len(), 2);
}
