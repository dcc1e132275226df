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

/// One raw HTTP/1.1 request: the status and the whole response text.
async fn raw(
    addr: &str,
    host: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_acts_only_for_its_own_address_form_and_signed_in_screen() {
    let rig = Rig::new().await;
    let mut unit = rig
        .unit_on(Settings::default(), Box::new(SystemClock))
        .unwrap();
    blocking(|| unit.sync()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let kiosk = raffle_rsu::kiosk::router(Arc::new(Mutex::new(unit)), addr).unwrap();
    tokio::spawn(async move { axum::serve(listener, kiosk).await.unwrap() });
    let a = addr.to_string();

    // Another name for this address (DNS rebinding) is refused.
    let (status, _) = raw(&a, "rebound.example:80", "GET", "/", "", "").await;
    assert_eq!(status, 421);
    let (status, page) = raw(&a, &a, "GET", "/", "", "").await;
    assert_eq!(status, 200);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // A form without the page's token is refused.
    let (status, _) = raw(
        &a,
        &a,
        "POST",
        "/sign-in",
        "",
        &format!("csrf=x&staff={}&pin={SELLER_PIN}", rig.seller()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, answer) = raw(
        &a,
        &a,
        "POST",
        "/sign-in",
        "",
        &format!("csrf={csrf}&staff={}&pin={SELLER_PIN}", rig.seller()),
    )
    .await;
    assert_eq!(status, 303, "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        answer.to_lowercase().contains("httponly") && answer.contains("SameSite=Strict"),
        "{answer}"
    );
    // Another program on the unit that read the form's token, without the
    // screen's session: refused; with it: done.
    let sell = format!(
        "csrf={csrf}&raffle={}&package=p1&quantity=1&pay=cash&tendered=5",
        rig.raffle
    );
    let (status, _) = raw(&a, &a, "POST", "/sell", "", &sell).await;
    assert_eq!(status, 403);
    let (status, _) = raw(&a, &a, "POST", "/sell", "rsu_session=0123", &sell).await;
    assert_eq!(status, 403);
    let (status, _) = raw(&a, &a, "POST", "/sell", &cookie, &sell).await;
    assert_eq!(status, 303);
    assert_eq!(rig.printer.printed().len(), 1);
}
