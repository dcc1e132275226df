//! A real raffle run by the real `raffled` (in-process, on a fresh
//! PostgreSQL database), for the auditor to verify and to tamper with:
//! an early-bird draw with a fixed prize and a 50/50 main draw, six sales,
//! a void approved by a second person, both reconciliations, both draws
//! and both claims, and the significant events anchored.
#![allow(dead_code)]

pub use testkit::app as web_common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use transparency::NoteSigner;
use transparency::store::{Appender, DirStorage, TileStorage, read_entry};
#[allow(unused_imports)]
pub use web_common::{App, app_with_witnesses, call, drop_database, request};

/// What a finished raffle left behind.
pub struct Ran {
    pub raffle: String,
    pub receipts: Vec<Value>,
    pub voided_sale: String,
}

async fn ok(app: &App, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let (status, v) = call(app, method, path, token, body).await;
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// Creates a user with `roles` and signs them in; returns the session token.
pub async fn user(app: &App, name: &str, roles: &[&str]) -> String {
    web_common::signed_in(app, name, roles).await.token
}

/// Requests something that needs a second person, and approves it.
async fn approved(app: &App, path: &str, requester: &str, approver: &str, body: Value) -> Value {
    let v = ok(app, "POST", path, Some(requester), body).await;
    let approval = v["approval_id"].as_str().expect("an approval").to_string();
    ok(
        app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(approver),
        json!({ "decision": "approve" }),
    )
    .await
}

fn config(now_micros: i64) -> Value {
    use raffle_core::Timestamp;
    let at = |secs: i64| Timestamp::from_micros(now_micros + secs * 1_000_000);
    json!({ "config": testkit::raffles::two_draws(at(-60), at(3), at(7)) })
}

async fn buy(app: &App, raffle: &str) -> Value {
    ok(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        None,
        serde_json::from_str(web_common::PURCHASE).unwrap(),
    )
    .await
}

async fn sleep_until(micros: i64) {
    let now = raffle_core::Timestamp::now().as_micros();
    if micros > now {
        tokio::time::sleep(std::time::Duration::from_micros(
            (micros - now) as u64 + 200_000,
        ))
        .await;
    }
}

/// Runs the whole raffle through the API.
pub async fn run_raffle(app: &App) -> Ran {
    let manager = user(app, "mia", &["raffle_manager"]).await;
    let fin1 = user(app, "fay", &["finance"]).await;
    let fin2 = user(app, "fred", &["finance"]).await;
    let start = raffle_core::Timestamp::now().as_micros();
    let v = ok(
        app,
        "POST",
        "/api/v1/raffles",
        Some(&manager),
        config(start),
    )
    .await;
    let raffle = v["id"].as_str().unwrap().to_string();
    ok(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&manager),
        Value::Null,
    )
    .await;
    let mut receipts = Vec::new();
    for _ in 0..3 {
        receipts.push(buy(app, &raffle).await);
    }
    let voided_sale = receipts[0]["sale_id"].as_str().unwrap().to_string();
    approved(
        app,
        &format!("/api/v1/sales/{voided_sale}/void"),
        &fin1,
        &fin2,
        json!({ "raffle_id": raffle, "reason": "buyer_request", "refund": true }),
    )
    .await;
    // The early bird: after its cutoff, reconciled by two people, drawn.
    sleep_until(start + 3_000_000).await;
    approved(
        app,
        &format!("/api/v1/raffles/{raffle}/reconciliation"),
        &fin1,
        &fin2,
        json!({ "draw": "early-bird" }),
    )
    .await;
    let draws = |d: &str, step: &str| format!("/api/v1/raffles/{raffle}/draws/{d}/{step}");
    ok(
        app,
        "POST",
        &draws("early-bird", "freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    ok(
        app,
        "POST",
        &draws("early-bird", "perform"),
        Some(&manager),
        Value::Null,
    )
    .await;
    for _ in 0..3 {
        receipts.push(buy(app, &raffle).await);
    }
    // The main draw, after the end time closed the raffle.
    sleep_until(start + 7_000_000).await;
    approved(
        app,
        &format!("/api/v1/raffles/{raffle}/reconciliation"),
        &fin1,
        &fin2,
        json!({ "draw": "main" }),
    )
    .await;
    let frozen = ok(
        app,
        "POST",
        &draws("main", "freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(
        frozen["entry"]["prize"]["minor"], "2000",
        "50% of 50.00 less the 5.00 early bird"
    );
    ok(
        app,
        "POST",
        &draws("main", "perform"),
        Some(&manager),
        Value::Null,
    )
    .await;
    // Both prizes claimed by their validation numbers.
    let page = ok(
        app,
        "GET",
        &format!("/api/v1/raffles/{raffle}"),
        None,
        Value::Null,
    )
    .await;
    for d in page["draws"].as_array().unwrap() {
        let sale = d["winning_sale"].as_str().or(d["sale"].as_str());
        let number = d["winner"].as_str().or(d["winning_number"].as_str());
        let winner = receipts
            .iter()
            .find(|r| {
                Some(r["sale_id"].as_str().unwrap()) == sale
                    || number.is_some_and(|n| {
                        let n: u64 = n.parse().unwrap();
                        let first: u64 = r["draw_numbers"]["first"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        let last: u64 =
                            r["draw_numbers"]["last"].as_str().unwrap().parse().unwrap();
                        (first..=last).contains(&n)
                    })
            })
            .unwrap_or_else(|| panic!("a receipt for the winner of {d}"));
        let vn = &winner["validation_number"];
        let (status, v) = call(
            app,
            "POST",
            "/api/v1/claims",
            Some(&manager),
            json!({ "validation_number": vn }),
        )
        .await;
        if status == axum::http::StatusCode::CONFLICT {
            // The same sale won both draws: its number is public since the
            // first claim, so the second is supervised (schema version 2).
            approved(
                app,
                "/api/v1/claims/supervised",
                &manager,
                &fin1,
                json!({ "validation_number": vn, "identity": { "name": "A. Winner", "document": "licence X1" } }),
            )
            .await;
        } else {
            assert!(status.is_success(), "claim: {status} {v}");
        }
    }
    web::digest_events(&app.state)
        .await
        .unwrap()
        .expect("events to anchor");
    Ran {
        raffle,
        receipts,
        voided_sale,
    }
}

pub fn publications(app: &App) -> PathBuf {
    app.state.config.publications_dir()
}

pub fn signer(app: &App) -> NoteSigner {
    let text = std::fs::read_to_string(app.state.config.key_path()).unwrap();
    NoteSigner::from_private_key(&text).unwrap()
}

/// Every entry of a published log.
pub fn entries(dir: &Path) -> Vec<Vec<u8>> {
    let storage = DirStorage::new(dir, false).unwrap();
    let note = storage.read("checkpoint").unwrap().unwrap();
    let cp = transparency::Checkpoint::parse_text(transparency::Note::parse(&note).unwrap().text())
        .unwrap();
    (0..cp.size)
        .map(|i| read_entry(&storage, i, cp.size).unwrap())
        .collect()
}

/// Publishes `entries` as a new log in `dir`, signed with the real key (a
/// malicious operator holds it).
pub fn publish(dir: &Path, entries: &[Vec<u8>], key: &NoteSigner) {
    let mut appender = Appender::create(DirStorage::new(dir, false).unwrap());
    if !entries.is_empty() {
        appender.append(entries).unwrap();
    }
    let note = appender.checkpoint(key.name()).sign(key).unwrap();
    appender.publish_checkpoint(&note).unwrap();
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Runs `raffle-audit` with `args` (and `stdin`); returns the output.
pub fn audit(args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(testkit::programs::program("raffle-audit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
