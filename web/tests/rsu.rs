//! Sales units end to end, with scripted units (`testkit::rsu`) signing as
//! the protocol says: offline sales synced in cut and retried pages land
//! exactly once and in each unit's order; sales made before a cutoff and
//! synced after it count for that draw; refused records are logged and
//! listed; the draw waits for every unit; sync requests must be the
//! unit's, fresh and well formed; the published log passes raffle-audit.

use axum::http::StatusCode;
use raffle_core::entry::{HexBytes, U64};
use raffle_core::{Currency, Money, Timestamp};
use serde_json::{Value, json};
use std::time::Duration;
use testkit::app::{App, SignedIn, app, approve, call, drop_database, signed_in};
use testkit::raffles::{in_secs, two_draws};
use testkit::rsu::ScriptedDevice;

struct Staff {
    admin: SignedIn,
    admin2: SignedIn,
    manager: SignedIn,
    finance: SignedIn,
    finance2: SignedIn,
    /// A seller with a device PIN, signed in on every unit.
    seller: SignedIn,
}

async fn staff(app: &App) -> Staff {
    Staff {
        admin: signed_in(app, "ada", &["administrator"]).await,
        admin2: signed_in(app, "abe", &["administrator"]).await,
        manager: signed_in(app, "mia", &["raffle_manager"]).await,
        finance: signed_in(app, "fay", &["finance"]).await,
        finance2: signed_in(app, "fin", &["finance"]).await,
        seller: testkit::rsu::operator_with_pin(app, "ola", "48051693").await,
    }
}

fn cad(minor: u64) -> Money {
    Money::new(minor, Currency::CAD)
}

fn at(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
}

/// Creates and opens a raffle with an early bird and a main draw.
async fn open_raffle(
    app: &App,
    s: &Staff,
    start: Timestamp,
    early: Timestamp,
    end: Timestamp,
) -> String {
    let config = two_draws(start, early, end);
    let (status, v) = call(
        app,
        "POST",
        "/api/v1/raffles",
        Some(&s.manager.token),
        json!({ "config": config }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let (status, v) = call(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&s.manager.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    raffle
}

/// Registers and enrols a unit (two administrators).
async fn enrol(app: &App, s: &Staff, id: &str) -> ScriptedDevice {
    let mut device = ScriptedDevice::new(id, app, &s.seller.user.staff_id);
    let (status, v) = call(
        app,
        "POST",
        "/api/v1/rsu/devices",
        Some(&s.admin.token),
        json!({ "id": id, "model": "PAX A920", "operator": "Gate crew", "key": hex::encode(device.key.public()) }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, pending) = call(
        app,
        "POST",
        &format!("/api/v1/rsu/devices/{id}/enrol"),
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    // Not by the requester (GLI-31 5.2.4).
    let (status, _) = approve(app, &pending, &s.admin.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = approve(app, &pending, &s.admin2.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "rsu.enrolled");
    // Its first contact gives it the operator list it sells under.
    let (status, answer) = device.send(app, &[], &[], None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        device
            .operators
            .iter()
            .any(|(id, _)| id == s.seller.user.staff_id.as_str()),
        "{answer}"
    );
    device
}

/// Allocates `count` numbers; the allocation's time (no number of it is
/// sold before).
async fn allocate(
    app: &App,
    s: &Staff,
    raffle: &str,
    device: &mut ScriptedDevice,
    count: u64,
) -> Timestamp {
    let (status, v) = call(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/rsu/allocations"),
        Some(&s.manager.token),
        json!({ "rsu": device.id, "count": count }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let first: u64 = v["entry"]["numbers"]["first"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    device.allocated(raffle, first, count);
    Timestamp::parse(v["entry"]["time"].as_str().unwrap()).unwrap()
}

async fn buy_online(app: &App, raffle: &str, key: &str) -> Value {
    let (status, bytes) = testkit::app::request(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", key)],
        testkit::app::PURCHASE.to_string(),
    )
    .await;
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

/// Reconciliation (two finance users), freeze and draw; the frozen entry.
async fn draw(app: &App, s: &Staff, raffle: &str, draw: &str) -> Result<Value, Value> {
    let (status, pending) = call(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/reconciliation"),
        Some(&s.finance.token),
        json!({ "draw": draw }),
    )
    .await;
    if status != StatusCode::ACCEPTED {
        return Err(pending);
    }
    let (status, v) = approve(app, &pending, &s.finance2.token).await;
    if status != StatusCode::OK {
        return Err(v);
    }
    let (status, frozen) = call(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/{draw}/freeze"),
        Some(&s.manager.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{frozen}");
    let (status, v) = call(
        app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/{draw}/perform"),
        Some(&s.manager.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    Ok(frozen["entry"].clone())
}

async fn sleep_until(t: Timestamp) {
    let wait = t.as_micros() - Timestamp::now().as_micros();
    if wait > 0 {
        tokio::time::sleep(Duration::from_micros(wait as u64 + 200_000)).await;
    }
}

/// Every log entry of a type, in log order, parsed.
async fn entries(app: &App, kind: &str) -> Vec<(i64, Value)> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT idx, body FROM log_entries WHERE kind = $1 ORDER BY idx")
            .bind(kind)
            .fetch_all(&app.state.store.pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(i, b)| (i, serde_json::from_slice(&b).unwrap()))
        .collect()
}

fn audit(app: &App) -> String {
    let publications = app.state.config.publications_dir();
    let vkey = std::fs::read_to_string(publications.join("vkey")).unwrap();
    let out = std::process::Command::new(testkit::programs::program("raffle-audit"))
        .args(["log", publications.to_str().unwrap(), "--vkey", vkey.trim()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "raffle-audit log: {text}");
    text
}

/// A small xorshift for cut points and page sizes (the test's own choices,
/// not a draw: no CSPRNG needed, and a failure can be replayed).
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_units_sell_ten_thousand_offline_and_every_sale_counts_once() {
    let app = app().await;
    let s = staff(&app).await;
    let start = in_secs(-3600);
    let early = in_secs(40);
    let end = in_secs(75);
    let raffle = open_raffle(&app, &s, start, early, end).await;
    buy_online(&app, &raffle, "online-purchase-one-0000000001").await;
    let mut units = vec![
        enrol(&app, &s, "gate-1").await,
        enrol(&app, &s, "gate-2").await,
        enrol(&app, &s, "gate-3").await,
    ];
    for u in units.iter_mut() {
        allocate(&app, &s, &raffle, u, 4000).await;
    }
    // Online sales continue after the allocated numbers.
    buy_online(&app, &raffle, "online-purchase-two-0000000002").await;

    // Before the early bird's cutoff, while the server is unreachable: 4,500
    // sales spread over the seconds since the units got their numbers.
    let allocated = Timestamp::now().as_micros();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p1 = cad(500);
    let now = Timestamp::now().as_micros();
    let before = [2000u64, 1500, 1000];
    for (u, n) in units.iter_mut().zip(before) {
        for i in 0..n {
            let t = allocated + (now - allocated) * i as i64 / n as i64;
            u.sell(&raffle, "p1", 1, p1, at(t));
        }
    }
    // One unit gets part of its sales through before the cutoff.
    let mut dice = Dice(0x5eed_1234_abcd_0042);
    units[0].sync_all(&app, 150, || None).await;
    assert_eq!(units[0].acknowledged, 2000);

    sleep_until(early).await;
    // After it, 5,500 more, then each unit seals for the early bird at its
    // own clock and syncs everything, cut at random points and retried.
    let now = Timestamp::now().as_micros();
    let after = [1500u64, 2000, 2000];
    for (u, n) in units.iter_mut().zip(after) {
        for i in 0..n {
            let t = early.as_micros() + (now - early.as_micros()) * i as i64 / n as i64;
            u.sell(&raffle, "p1", 1, p1, at(t));
        }
        u.seal(&raffle, "early-bird", early, Timestamp::now());
    }
    let mut cuts = 0u32;
    for u in units.iter_mut() {
        let page = 50 + dice.next(151) as usize;
        let mut seed = dice.next(u64::MAX);
        let answer = u
            .sync_all(&app, page, || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // One attempt in three is cut after 1 to 40 ms.
                seed.is_multiple_of(3).then(|| {
                    cuts += 1;
                    Duration::from_millis(1 + (seed >> 8) % 40)
                })
            })
            .await;
        assert_eq!(answer["rejected"], json!([]), "{answer}");
        assert_eq!(u.acknowledged, u.head.seq);
    }
    assert!(cuts > 3, "the uploads were hardly cut ({cuts})");

    // The early bird counts the 4,500 sales made before its cutoff, though
    // most were synced after it, and the online sales before it.
    let frozen = draw(&app, &s, &raffle, "early-bird")
        .await
        .expect("the early bird is allowed");
    assert_eq!(frozen["n"], "4506", "{frozen}");

    // Selling ends; each unit seals for the main draw and shows it uploaded.
    sleep_until(end).await;
    for u in units.iter_mut() {
        u.seal(&raffle, "main", end, Timestamp::now());
        let answer = u.sync_all(&app, 200, || None).await;
        let r = &answer["raffles"][0];
        assert_eq!(r["released"], true, "{answer}");
    }
    let frozen = draw(&app, &s, &raffle, "main")
        .await
        .expect("the main draw is allowed");
    // Every number but the early bird's winner, which wins once.
    assert_eq!(frozen["n"], "10005", "{frozen}");

    // Every sale is in the log exactly once, in each unit's order.
    let sales = entries(&app, "sale").await;
    let rsu_sales: Vec<&(i64, Value)> = sales
        .iter()
        .filter(|(_, e)| e["channel"] == "rsu")
        .collect();
    assert_eq!(rsu_sales.len(), 10_000);
    for u in &units {
        let seqs: Vec<u64> = rsu_sales
            .iter()
            .filter(|(_, e)| e["rsu"] == u.id.as_str())
            .map(|(_, e)| e["device"]["seq"].as_str().unwrap().parse().unwrap())
            .collect();
        let want: Vec<u64> = (1..=u.head.seq).collect();
        assert_eq!(
            seqs, want,
            "unit {}'s sales are not its chain in order",
            u.id
        );
    }
    assert!(entries(&app, "rsu.rejected").await.is_empty());
    let released = entries(&app, "rsu.released").await;
    assert_eq!(released.len(), 3);
    let unsold: u64 = released
        .iter()
        .map(|(_, e)| e["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(unsold, 2000, "12,000 allocated, 10,000 sold: {released:?}");
    // The master list shows each unit's tickets and contact.
    let (status, list) = call(
        &app,
        "GET",
        "/api/v1/rsu/devices",
        Some(&s.finance.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["devices"][0]["tickets_issued"], "3500", "{list}");
    assert_eq!(list["devices"][0]["software_version"], "scripted-rsu 1");
    assert!(list["devices"][0]["last_contact"].is_string());

    let report = audit(&app);
    eprintln!(
        "three units: 10,000 offline sales, {cuts} cut uploads; raffle-audit: {}",
        report.lines().next().unwrap_or_default()
    );
    drop_database(&app.db).await;
}

/// A console page as `who` sees it (the API token is also the console's
/// session cookie).
async fn console(app: &App, who: &SignedIn, path: &str) -> String {
    let cookie = format!("raffle_session={}", who.token);
    let (status, bytes) =
        testkit::app::request(app, "GET", path, &[("cookie", &cookie)], String::new()).await;
    let page = String::from_utf8(bytes).unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// Syncs one record (or a page) and returns the reasons logged.
async fn send(
    app: &App,
    u: &mut ScriptedDevice,
    records: &[raffle_core::entry::RsuRecord],
) -> Value {
    let (status, answer) = u.send(app, records, &[], None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_records_are_logged_with_their_reason_and_listed_for_refund() {
    // This unit commits every fault on purpose: it must not be disabled
    // for failing its revalidations half-way (that has its own test).
    let app = testkit::app::app_with(|c| c.units.revalidation_failures = 1000)
        .await
        .unwrap();
    let s = staff(&app).await;
    let end = in_secs(30);
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(15), end).await;
    let mut u = enrol(&app, &s, "kiosk-7").await;
    let allocated = allocate(&app, &s, &raffle, &mut u, 100).await;
    let p1 = cad(500);
    let t0 = Timestamp::now().as_micros();
    let good = u.sell(&raffle, "p1", 1, p1, at(t0));
    assert_eq!(send(&app, &mut u, &[good]).await["sequenced"], 1);

    // A forged signature: refused, logged once, the chain does not move.
    let (mut forged, vn) = u.draft(&raffle, "p1", 1, p1, at(t0 + 1));
    forged.signature = HexBytes(vec![7; 64]);
    let answer = send(&app, &mut u, std::slice::from_ref(&forged)).await;
    assert_eq!(answer["rejected"][0]["reason"], "bad_signature", "{answer}");
    assert_eq!(answer["head"]["seq"], "1");
    let again = send(&app, &mut u, std::slice::from_ref(&forged)).await;
    assert_eq!(again["rejected"], json!([]), "logged twice: {again}");

    // A record outside the allocation: chained, refused, listed for refund.
    let (mut outside, _) = u.draft(&raffle, "p1", 1, p1, at(t0 + 2));
    outside.numbers.first = U64(1);
    let outside = u.append(outside, vn.clone());
    assert_eq!(
        send(&app, &mut u, &[outside]).await["rejected"][0]["reason"],
        "outside_allocation"
    );

    // A record after the end time.
    let late = u.sell(
        &raffle,
        "p1",
        1,
        p1,
        Timestamp::from_micros(end.as_micros() + 1_000_000),
    );
    assert_eq!(
        send(&app, &mut u, &[late]).await["rejected"][0]["reason"],
        "outside_sales_window"
    );

    // A clock that ran backwards (before the last accepted sale).
    let back = u.sell(&raffle, "p1", 1, p1, allocated);
    assert_eq!(
        send(&app, &mut u, &[back]).await["rejected"][0]["reason"],
        "clock"
    );

    // A reordered chain: the record after next arrives first.
    let r6 = u.sell(&raffle, "p1", 1, p1, at(t0 + 10));
    let r7 = u.sell(&raffle, "p1", 1, p1, at(t0 + 11));
    let answer = send(&app, &mut u, &[r7.clone(), r6.clone()]).await;
    assert_eq!(answer["rejected"][0]["reason"], "broken_chain", "{answer}");
    assert_eq!(
        answer["sequenced"], 0,
        "nothing after the break is taken: {answer}"
    );
    let answer = send(&app, &mut u, &[r6, r7]).await;
    assert_eq!(answer["sequenced"], 2, "{answer}");

    // A fork: another record with a sequence already used.
    let head = u.head;
    let (mut fork, _) = u.draft(&raffle, "p1", 1, p1, at(t0 + 12));
    fork.seq = U64(head.seq);
    fork.prev = u.journal[u.journal.len() - 2].record.prev;
    u.key.sign_record(u.origin(), &mut fork);
    assert_eq!(
        send(&app, &mut u, &[fork]).await["rejected"][0]["reason"],
        "fork"
    );

    // A fork against a head the unit presented: it showed head 8 at a
    // contact, then uploads a different record 8.
    let (r8, r9) = (
        u.sell(&raffle, "p1", 1, p1, at(t0 + 13)),
        u.sell(&raffle, "p1", 1, p1, at(t0 + 14)),
    );
    let answer = send(&app, &mut u, std::slice::from_ref(&r8)).await;
    assert_eq!(answer["sequenced"], 1, "{answer}");
    assert_eq!(
        entries(&app, "rsu.seen").await.last().unwrap().1["seq"],
        "8"
    );
    let mut other9 = r9.clone();
    other9.price = cad(1000);
    other9.package = "p3".parse().unwrap();
    other9.numbers.count = U64(3);
    u.key.sign_record(u.origin(), &mut other9);
    let (headers, body) = u.request(
        raffle_core::rsu::Head {
            seq: 8,
            hash: raffle_core::rsu::record_hash(u.origin(), &r9),
        },
        &[other9],
        &[],
    );
    let (status, _, bytes) =
        testkit::rsu::raw_request(&app, &format!("/api/v1/rsu/{}/sync", u.id), &headers, body)
            .await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rejected"][0]["reason"], "fork", "{answer}");

    // Every refusal is in the log, and the chained ones (a buyer paid) are
    // listed for refund; the reordered record, accepted later, is not.
    let rejected: Vec<String> = entries(&app, "rsu.rejected")
        .await
        .iter()
        .map(|(_, e)| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        rejected,
        [
            "bad_signature",
            "outside_allocation",
            "outside_sales_window",
            "clock",
            "broken_chain",
            "fork",
            "fork"
        ]
    );
    let (status, units) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}/rsu"),
        Some(&s.finance.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let refunds: Vec<&str> = units["units"][0]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        refunds,
        [
            "bad_signature",
            "outside_allocation",
            "outside_sales_window",
            "clock",
            "fork",
            "fork"
        ],
        "{units}"
    );
    // The draw's reconciliation screen lists them, with the units' events.
    let page = console(
        &app,
        &s.finance,
        &format!("/console/raffles/{raffle}/draws/main/reconciliation"),
    )
    .await;
    let table = page
        .split_once("id=\"refused-records\"")
        .unwrap_or_else(|| panic!("{page}"))
        .1
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(table.matches("<code>").count(), 6, "{table}");
    // The units' events link is for those who may read events.
    assert!(!page.contains("component=rsu"), "{page}");
    let page = console(
        &app,
        &s.admin,
        &format!("/console/raffles/{raffle}/draws/main/reconciliation"),
    )
    .await;
    assert!(page.contains("component=rsu"), "{page}");
    audit(&app);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_waits_for_every_unit_until_sealed_and_uploaded_or_declared_by_two() {
    let app = app().await;
    let s = staff(&app).await;
    let early = in_secs(4);
    let raffle = open_raffle(&app, &s, in_secs(-600), early, in_secs(120)).await;
    let mut a = enrol(&app, &s, "unit-a").await;
    let mut b = enrol(&app, &s, "unit-b").await;
    allocate(&app, &s, &raffle, &mut a, 50).await;
    allocate(&app, &s, &raffle, &mut b, 50).await;
    let t = Timestamp::now().as_micros();
    a.sell(&raffle, "p1", 1, cad(500), at(t));
    b.sell(&raffle, "p1", 1, cad(500), at(t));
    sleep_until(early).await;

    // Neither unit has sealed: the early bird waits.
    let refused = draw(&app, &s, &raffle, "early-bird").await.unwrap_err();
    assert_eq!(refused["code"], "rsu_not_uploaded", "{refused}");
    // A seals but has not uploaded its sale yet: still waiting for it.
    a.seal(&raffle, "early-bird", early, Timestamp::now());
    let seal = a.seals.clone();
    let (status, answer) = a.send(&app, &[], &seal, None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["seals"][0]["result"]["log_index"].is_string(),
        "{answer}"
    );
    let refused = draw(&app, &s, &raffle, "early-bird").await.unwrap_err();
    assert_eq!(refused["code"], "rsu_not_uploaded");
    assert!(
        refused["error"].as_str().unwrap().contains("unit-a"),
        "{refused}"
    );
    a.seals.clear();
    // The console's draw screen shows each unit's state for the draw, and
    // the master list every unit.
    let page = console(
        &app,
        &s.finance,
        &format!("/console/raffles/{raffle}/draws/early-bird/reconciliation"),
    )
    .await;
    assert!(
        page.contains("unit-a") && page.contains("sealed, not all uploaded"),
        "{page}"
    );
    assert!(
        page.contains("unit-b") && page.contains("waiting"),
        "{page}"
    );
    let list = console(&app, &s.manager, "/console/rsu").await;
    assert!(
        list.contains("unit-a") && list.contains("PAX A920") && list.contains("Gate crew"),
        "{list}"
    );
    a.sync_all(&app, 100, || None).await;
    let refused = draw(&app, &s, &raffle, "early-bird").await.unwrap_err();
    assert!(
        refused["error"].as_str().unwrap().contains("unit-b"),
        "{refused}"
    );

    // B is lost: finance declares it, a second person approves.
    let path = format!("/api/v1/raffles/{raffle}/draws/early-bird/rsu/unit-b/unreconcilable");
    let (status, v) = call(
        &app,
        "POST",
        &path,
        Some(&s.manager.token),
        json!({ "reason": "lost" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a manager declared it: {v}");
    let (status, pending) = call(
        &app,
        "POST",
        &path,
        Some(&s.finance.token),
        json!({ "reason": "lost" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    let (status, _) = approve(&app, &pending, &s.finance.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "approved by its requester");
    let (status, v) = approve(&app, &pending, &s.finance2.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "rsu.unreconcilable");
    assert_eq!(v["entry"]["uploaded"], "0");
    let frozen = draw(&app, &s, &raffle, "early-bird")
        .await
        .expect("allowed now");
    assert_eq!(frozen["n"], "1", "A's sale only: {frozen}");
    // B's sale, made before the cutoff, arrives after the declaration: it
    // is refused, not counted, and listed for refund.
    b.seal(&raffle, "early-bird", early, Timestamp::now());
    b.seals.clear();
    let answer = b.sync_all(&app, 100, || None).await;
    assert_eq!(answer["rejected"][0]["reason"], "draw_closed", "{answer}");
    audit(&app);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_requests_must_be_the_units_fresh_and_well_formed() {
    let app = app().await;
    let s = staff(&app).await;
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(60), in_secs(120)).await;
    let mut u = enrol(&app, &s, "unit-x").await;
    allocate(&app, &s, &raffle, &mut u, 10).await;
    let r = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    let path = format!("/api/v1/rsu/{}/sync", u.id);
    let (headers, body) = u.request(u.head, std::slice::from_ref(&r), &[]);

    // Signed by another key, or over another body: 401, nothing logged.
    let other = ScriptedDevice::new("unit-x", &app, &s.seller.user.staff_id);
    let (h2, _) = other.request(u.head, std::slice::from_ref(&r), &[]);
    let (status, _, _) = testkit::rsu::raw_request(&app, &path, &h2, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut tampered = body.clone();
    let n = tampered.len();
    tampered[n - 3] = b' ';
    let (status, _, _) = testkit::rsu::raw_request(&app, &path, &headers, tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        entries(&app, "sale")
            .await
            .iter()
            .all(|(_, e)| e["channel"] == "online")
    );
    // Missing or malformed headers, an unknown unit: 4xx with a reason.
    let (status, _, b) = testkit::rsu::raw_request(&app, &path, &[], body.clone()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let bad_nonce = vec![("rsu-nonce", "XYZ".to_string()), headers[1].clone()];
    let (status, _, _) = testkit::rsu::raw_request(&app, &path, &bad_nonce, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = testkit::rsu::raw_request(
        &app,
        "/api/v1/rsu/no-such-unit/sync",
        &headers,
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) =
        testkit::rsu::raw_request(&app, "/api/v1/rsu/Bad_Id/sync", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The genuine request is taken once; replayed with its nonce, refused.
    let (status, _, b) = testkit::rsu::raw_request(&app, &path, &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (status, _, _) = testkit::rsu::raw_request(&app, &path, &headers, body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Sent again with a fresh nonce: skipped, not sold twice.
    let answer = send(&app, &mut u, std::slice::from_ref(&r)).await;
    assert_eq!(
        (answer["skipped"].as_u64(), answer["sequenced"].as_u64()),
        (Some(1), Some(0)),
        "{answer}"
    );

    // A signed body that does not read, or is too long: 400.
    let garbage = b"{\"head\":1}".to_vec();
    let sig = u.key.sign(&raffle_core::rsu::request_message(
        u.origin(),
        "unit-x",
        &"a".repeat(32),
        &garbage,
    ));
    let h = vec![
        ("rsu-nonce", "a".repeat(32)),
        (
            "rsu-signature",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig),
        ),
    ];
    let (status, _, b) = testkit::rsu::raw_request(&app, &path, &h, garbage).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let many: Vec<_> = (0..201).map(|_| r.clone()).collect();
    let (status, answer) = u.send(&app, &many, &[], None).await.unwrap();
    assert!(status.is_client_error(), "{status} {answer}");
    // A head that contradicts the unit's history: 409, a device fault.
    let (h, b) = u.request(
        raffle_core::rsu::Head {
            seq: 1,
            hash: [9; 32],
        },
        &[],
        &[],
    );
    let (status, _, bytes) = testkit::rsu::raw_request(&app, &path, &h, b).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    drop_database(&app.db).await;
}

/// Whether `pin` is the PIN of an Argon2id hash from an operator list.
fn pin_matches(hash: &str, pin: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    argon2::Argon2::default()
        .verify_password(pin.as_bytes(), &PasswordHash::new(hash).unwrap())
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_sign_in_by_a_signed_list_and_units_that_fail_revalidation_are_disabled() {
    let app = app().await;
    let s = staff(&app).await;
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(600), in_secs(1200)).await;

    // GLI-31 3.2.2: only operators set a device PIN, with their password,
    // and a PIN that is not trivial.
    let pin = |token: &str, current: &str, pin: &str| {
        let body = json!({ "current_password": current, "pin": pin });
        let token = token.to_string();
        let app = &app;
        async move {
            call(
                app,
                "POST",
                "/api/v1/account/device-pin",
                Some(&token),
                body,
            )
            .await
            .0
        }
    };
    assert_eq!(
        pin(&s.manager.token, &s.manager.password, "48051693").await,
        StatusCode::FORBIDDEN
    );
    let second = testkit::rsu::operator_with_pin(&app, "oki", "91730258").await;
    assert_eq!(
        pin(&second.token, "not the password", "48051794").await,
        StatusCode::FORBIDDEN
    );
    for weak in [
        "480516",
        "12345678",
        "98765432",
        "11111111",
        "12a45678",
        "1234567890123",
    ] {
        assert_eq!(
            pin(&second.token, &second.password, weak).await,
            StatusCode::BAD_REQUEST,
            "{weak}"
        );
    }

    // The unit's answer carries both operators and their PIN hashes,
    // signed (the scripted unit checks the signature), valid until it must
    // revalidate; no other route shows a PIN hash.
    let mut u = enrol(&app, &s, "unit-o").await;
    let (_, answer) = u.send(&app, &[], &[], None).await.unwrap();
    let list = &answer["operators"];
    let expires = Timestamp::parse(list["expires"].as_str().unwrap()).unwrap();
    let issued = Timestamp::parse(list["issued"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires.as_micros() - issued.as_micros(),
        12 * 3600 * 1_000_000
    );
    assert_eq!(u.operators.len(), 2, "{answer}");
    let hash_of = |staff: &SignedIn| {
        u.operators
            .iter()
            .find(|(id, _)| id == staff.user.staff_id.as_str())
            .map(|(_, h)| h.clone())
            .unwrap()
    };
    assert!(pin_matches(&hash_of(&s.seller), "48051693"));
    assert!(pin_matches(&hash_of(&second), "91730258"));
    assert!(!pin_matches(&hash_of(&second), "48051693"));
    let (_, users) = call(
        &app,
        "GET",
        "/api/v1/users",
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    assert!(!users.to_string().contains("argon2"), "{users}");

    // Sold by each operator, and by someone on no list: refused, listed.
    allocate(&app, &s, &raffle, &mut u, 20).await;
    let by_seller = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    u.operator = second.user.staff_id.clone();
    let by_second = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    u.operator = s.manager.user.staff_id.clone();
    let by_manager = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    let answer = send(&app, &mut u, &[by_seller, by_second.clone(), by_manager]).await;
    assert_eq!(answer["sequenced"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["reason"], "operator", "{answer}");
    let sales = entries(&app, "sale").await;
    let operators: Vec<&str> = sales
        .iter()
        .map(|(_, e)| e["device"]["operator"].as_str().unwrap())
        .collect();
    assert_eq!(
        operators,
        [
            s.seller.user.staff_id.as_str(),
            second.user.staff_id.as_str()
        ]
    );

    // The second operator is disabled: the next list leaves them out. What
    // they sold before the unit learned it counts; what they sell after is
    // refused.
    let sold_before = {
        u.operator = second.user.staff_id.clone();
        u.sell(&raffle, "p1", 1, cad(500), Timestamp::now())
    };
    let (status, pending) = call(
        &app,
        "POST",
        &format!("/api/v1/users/{}/disable", second.user.id),
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    // Disabling someone takes one administrator: it only takes away.
    assert_eq!(status, StatusCode::OK, "{pending}");
    let answer = send(&app, &mut u, &[]).await;
    assert_eq!(u.operators.len(), 1, "{answer}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let sold_after = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    let answer = send(&app, &mut u, &[sold_before, sold_after]).await;
    assert_eq!(answer["sequenced"], 1, "{answer}");
    assert_eq!(answer["rejected"][0]["reason"], "operator", "{answer}");

    // GLI-31 5.4.2: unsigned requests never count against a unit (anyone
    // can send them)...
    let path = format!("/api/v1/rsu/{}/sync", u.id);
    let stranger = ScriptedDevice::new("unit-o", &app, &s.seller.user.staff_id);
    for _ in 0..5 {
        let (h, b) = stranger.request(u.head, &[], &[]);
        let (status, _, _) = testkit::rsu::raw_request(&app, &path, &h, b).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, list) = call(
        &app,
        "GET",
        "/api/v1/rsu/devices",
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    let unit = &list["devices"][0];
    assert_eq!(unit["status"], "enabled", "{list}");
    assert_eq!(unit["failed_revalidations"], 0, "{list}");
    assert_eq!(unit["revalidation_overdue"], false, "{list}");
    assert!(unit["revalidated_at"].is_string(), "{list}");
    // ...but three signed syncs in a row that contradict the unit's own
    // history disable it, logged without a person, as an event.
    let forked = raffle_core::rsu::Head {
        seq: u.head.seq,
        hash: [9; 32],
    };
    for _ in 0..3 {
        let (h, b) = u.request(forked, &[], &[]);
        let (status, _, body) = testkit::rsu::raw_request(&app, &path, &h, b).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    let disabled = entries(&app, "rsu.disabled").await;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0].1["reason"], "revalidation_failed");
    assert_eq!(disabled[0].1["by"], Value::Null);
    let (_, list) = call(
        &app,
        "GET",
        "/api/v1/rsu/devices",
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    assert_eq!(list["devices"][0]["status"], "disabled", "{list}");
    assert_eq!(list["devices"][0]["failed_revalidations"], 3, "{list}");
    let (_, events) = call(
        &app,
        "GET",
        "/api/v1/events?kind=disabled_after_failed_revalidations",
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    assert!(events.to_string().contains("unit-o"), "{events}");
    // A disabled unit is given no operator to sign in.
    let answer = send(&app, &mut u, &[]).await;
    assert_eq!(answer["status"], "disabled");
    assert!(u.operators.is_empty(), "{answer}");
    audit(&app);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprints_and_voids_need_a_second_operator_and_voids_finance() {
    let app = app().await;
    let s = staff(&app).await;
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(600), in_secs(1200)).await;
    let supervisor = testkit::rsu::operator_with_pin(&app, "sam", "73059124").await;
    let sup = supervisor.user.staff_id.clone();
    let mut u = enrol(&app, &s, "unit-v").await;
    allocate(&app, &s, &raffle, &mut u, 20).await;
    let one = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    let two = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    assert_eq!(
        send(&app, &mut u, &[one.clone(), two.clone()]).await["sequenced"],
        2
    );

    // GLI-31 2.4: a reprint, supervised by a second listed operator, is
    // its own logged record; sent again it is acknowledged, not logged
    // twice.
    u.reprint(&one, 1, &sup, Timestamp::now());
    let answer = send(&app, &mut u, &[]).await;
    assert!(
        answer["reprints"][0]["result"]["log_index"].is_string(),
        "{answer}"
    );
    let answer = send(&app, &mut u, &[]).await;
    assert_eq!(answer["reprints"][0]["result"]["logged"], true, "{answer}");
    u.reprints.clear();
    let reprinted = entries(&app, "rsu.reprinted").await;
    assert_eq!(reprinted.len(), 1);
    let e = &reprinted[0].1;
    assert_eq!(
        (e["seq"].as_str(), e["copy"].as_u64()),
        (Some("1"), Some(1))
    );
    assert_eq!(e["supervisor"], sup.as_str());
    // Not supervised by the operator themself, nor by someone on no list.
    let alone = u.operator.clone();
    u.reprint(&one, 2, &alone, Timestamp::now());
    u.reprint(&one, 2, &s.manager.user.staff_id, Timestamp::now());
    let answer = send(&app, &mut u, &[]).await;
    u.reprints.clear();
    let refused: Vec<&str> = answer["reprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["refused"].as_str().unwrap())
        .collect();
    assert!(refused[0].contains("second operator"), "{answer}");
    assert!(refused[1].contains("no operator list"), "{answer}");
    assert_eq!(entries(&app, "rsu.reprinted").await.len(), 1);

    // A void asked on the unit by two operators waits for finance; sent
    // again it names the same request.
    u.void(
        &two,
        raffle_core::entry::VoidReason::Misprint,
        &sup,
        Timestamp::now(),
    );
    let answer = send(&app, &mut u, &[]).await;
    let pending = answer["voids"][0]["result"].clone();
    assert!(pending["approval_id"].is_string(), "{answer}");
    let answer = send(&app, &mut u, &[]).await;
    assert_eq!(answer["voids"][0]["result"], pending);
    assert!(entries(&app, "sale.voided").await.is_empty());
    // Finance approves: the void names the unit's operator as requester.
    let (status, v) = approve(&app, &pending, &s.finance.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let voided = entries(&app, "sale.voided").await;
    assert_eq!(voided.len(), 1);
    let e = &voided[0].1;
    assert_eq!(e["requested_by"], s.seller.user.staff_id.as_str());
    assert_eq!(e["approved_by"], s.finance.user.staff_id.as_str());
    assert_eq!(
        (e["reason"].as_str(), e["refund"].as_bool()),
        (Some("misprint"), Some(true))
    );
    let answer = send(&app, &mut u, &[]).await;
    assert_eq!(answer["voids"][0]["result"]["voided"], true, "{answer}");
    u.voids.clear();
    // A voided ticket is never reprinted; a void signed by another key is
    // refused and counts against the unit's revalidation.
    u.reprint(&two, 1, &sup, Timestamp::now());
    let answer = send(&app, &mut u, &[]).await;
    u.reprints.clear();
    assert!(
        answer["reprints"][0]["result"]["refused"]
            .as_str()
            .unwrap()
            .contains("voided"),
        "{answer}"
    );
    let mut forger = ScriptedDevice::new("unit-v", &app, &s.seller.user.staff_id);
    forger.void(
        &one,
        raffle_core::entry::VoidReason::Misprint,
        &sup,
        Timestamp::now(),
    );
    u.voids = forger.voids.clone();
    let answer = send(&app, &mut u, &[]).await;
    u.voids.clear();
    assert_eq!(
        answer["voids"][0]["result"]["refused"], "the signature is not the unit's",
        "{answer}"
    );
    let (_, list) = call(
        &app,
        "GET",
        "/api/v1/rsu/devices",
        Some(&s.admin.token),
        Value::Null,
    )
    .await;
    assert_eq!(list["devices"][0]["failed_revalidations"], 1, "{list}");
    let (_, units) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}/rsu"),
        Some(&s.finance.token),
        Value::Null,
    )
    .await;
    assert_eq!(units["units"][0]["reprints"], "1", "{units}");

    // Cash (GLI-31 2.8.1 d): finance counts the float and the drops; the
    // drop expected is the float plus the cash sales not voided (one 5.00
    // sale voided, one standing).
    let cash = |kind: &str, minor: i64| {
        let path = format!("/api/v1/raffles/{raffle}/rsu/unit-v/cash");
        let body = json!({ "kind": kind, "amount_minor": minor });
        let (app, token) = (&app, s.finance.token.clone());
        async move { call(app, "POST", &path, Some(&token), body).await.0 }
    };
    assert_eq!(cash("float", 10_000).await, StatusCode::NO_CONTENT);
    assert_eq!(cash("drop", 10_400).await, StatusCode::NO_CONTENT);
    assert_eq!(cash("drop", -100).await, StatusCode::NO_CONTENT);
    assert_eq!(cash("drop", 0).await, StatusCode::BAD_REQUEST);
    assert_eq!(cash("tip", 100).await, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/rsu/unit-v/cash"),
        Some(&s.manager.token),
        json!({ "kind": "drop", "amount_minor": 100 }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, units) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}/rsu"),
        Some(&s.finance.token),
        Value::Null,
    )
    .await;
    let c = &units["units"][0]["cash"];
    assert_eq!(
        (
            c["sales_minor"].as_i64(),
            c["float_minor"].as_i64(),
            c["drop_minor"].as_i64(),
            c["expected_drop_minor"].as_i64(),
            c["difference_minor"].as_i64()
        ),
        (
            Some(500),
            Some(10_000),
            Some(10_300),
            Some(10_500),
            Some(-200)
        ),
        "{units}"
    );
    let (status, _, page) = console_post(
        &app,
        &s.finance,
        &format!("/console/raffles/{raffle}/draws/main/rsu/cash"),
        &[("rsu", "unit-v"), ("kind", "drop"), ("amount", "2.00")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let page = console(
        &app,
        &s.finance,
        &format!("/console/raffles/{raffle}/draws/main/reconciliation"),
    )
    .await;
    assert!(
        page.contains("Record a unit") && page.contains("$105.00"),
        "{page}"
    );
    audit(&app);
    drop_database(&app.db).await;
}

/// A console form post as `who`, with a CSRF token (cookie and field):
/// the status, the redirect's target and the page.
async fn console_post(
    app: &App,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    use tower::ServiceExt;
    const CSRF: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", CSRF)
        .extend_pairs(fields)
        .finish();
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("accept-language", "en")
        .header("host", "raffles.example")
        .header(
            "cookie",
            format!("raffle_csrf={CSRF}; raffle_session={}", who.token),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .unwrap();
    let resp = web::router(app.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let page = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, location, String::from_utf8(page.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_registers_enrols_allocates_declares_and_disables_units() {
    let app = app().await;
    let s = staff(&app).await;
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(600), in_secs(1200)).await;
    let key = raffle_core::rsu::DeviceKey::generate().unwrap();
    let key_hex = hex::encode(key.public());

    // Administrators register; a bad key is refused with what is wrong.
    let unit = |k: &str| {
        vec![
            ("id", "gate-c".to_string()),
            ("model", "Sunmi V2".to_string()),
            ("operator", "North stand".to_string()),
            ("key", k.to_string()),
        ]
    };
    let bad = unit("zz");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, page) = console_post(&app, &s.admin, "/console/rsu", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("the key"), "{page}");
    let good = unit(&key_hex);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, page) = console_post(&app, &s.manager, "/console/rsu", &good).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{location} {page}");
    let (status, location, _) = console_post(&app, &s.admin, "/console/rsu", &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/console/rsu"), "{location}");
    let page = console(&app, &s.admin, "/console/rsu").await;
    assert!(
        page.contains("gate-c") && page.contains("Request enrolment"),
        "{page}"
    );

    // Enrolment: requested by one administrator, approved by another.
    let (status, location, page) =
        console_post(&app, &s.admin, "/console/rsu/gate-c/enrol", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(location.contains("done=requested"), "{location}");
    let queue = console(&app, &s.admin2, "/console/approvals").await;
    let approval = queue
        .split_once("action=\"/console/approvals/")
        .unwrap_or_else(|| panic!("{queue}"))
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (status, _, page) = console_post(
        &app,
        &s.admin2,
        &format!("/console/approvals/{approval}"),
        &[("decision", "approve")],
    )
    .await;
    assert!(
        status.is_success() || status == StatusCode::SEE_OTHER,
        "{page}"
    );
    assert_eq!(entries(&app, "rsu.enrolled").await.len(), 1);

    // A raffle manager allocates from the draw's reconciliation screen.
    let base = format!("/console/raffles/{raffle}/draws/main");
    let (status, _, page) = console_post(
        &app,
        &s.manager,
        &format!("{base}/rsu/allocations"),
        &[("rsu", "gate-c"), ("count", "250")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let allocated = entries(&app, "rsu.allocated").await;
    assert_eq!(allocated[0].1["numbers"]["count"], "250");
    let (status, _, _) = console_post(
        &app,
        &s.manager,
        &format!("{base}/rsu/allocations"),
        &[("rsu", "gate-c"), ("count", "lots")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Finance asks for the unit's declaration for the draw it waits on.
    let page = console(&app, &s.finance, &format!("{base}/reconciliation")).await;
    assert!(page.contains("Declare unreconcilable"), "{page}");
    let (status, location, page) = console_post(
        &app,
        &s.finance,
        &format!("{base}/rsu/gate-c/unreconcilable"),
        &[("reason", "stolen")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(location.contains("done=requested"), "{location}");
    let (status, _, _) = console_post(
        &app,
        &s.finance,
        &format!("{base}/rsu/gate-c/unreconcilable"),
        &[("reason", "bored")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Disabling is at once, one administrator.
    let (status, _, page) = console_post(&app, &s.admin, "/console/rsu/gate-c/disable", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let disabled = entries(&app, "rsu.disabled").await;
    assert_eq!(disabled[0].1["reason"], "remote");
    let page = console(&app, &s.admin, "/console/rsu").await;
    assert!(page.contains("Request enabling"), "{page}");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_operator_list_is_never_stretched_over_the_time_a_unit_had_none() {
    let app = app().await;
    let s = staff(&app).await;
    // Its first sync gave the unit a list valid for 12 hours.
    enrol(&app, &s, "unit-l").await;
    let store = &app.state.store;
    let ops = vec![s.seller.user.staff_id.to_string()];
    let now = time::OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let skew = time::Duration::minutes(5);
    let seller = s.seller.user.staff_id.as_str();
    let admitted = |lists: &[raffle_core::store::devices::OperatorList], at| {
        lists.iter().any(|l| l.admits(seller, at, skew))
    };
    // A day later, the same operators: the old list had expired, so a new
    // one starts then; the hours between admit no sale.
    store
        .issue_operator_list("unit-l", &ops, now + 24 * hour, now + 36 * hour)
        .await
        .unwrap();
    let lists = store.operator_lists("unit-l").await.unwrap();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(admitted(&lists, now + hour));
    assert!(!admitted(&lists, now + 18 * hour));
    assert!(admitted(&lists, now + 25 * hour));
    // Within its validity, the same list is extended, not doubled.
    store
        .issue_operator_list("unit-l", &ops, now + 30 * hour, now + 42 * hour)
        .await
        .unwrap();
    let lists = store.operator_lists("unit-l").await.unwrap();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(admitted(&lists, now + 41 * hour));
    // Other operators: a new list, and the one before ends then.
    store
        .issue_operator_list("unit-l", &[], now + 31 * hour, now + 43 * hour)
        .await
        .unwrap();
    let lists = store.operator_lists("unit-l").await.unwrap();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert!(admitted(&lists, now + 30 * hour));
    assert!(!admitted(&lists, now + 32 * hour));
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_voids_supervisor_is_no_second_person_to_approve_it() {
    let app = app().await;
    let s = staff(&app).await;
    let raffle = open_raffle(&app, &s, in_secs(-600), in_secs(600), in_secs(1200)).await;
    // Someone both operator and finance supervises a void on a unit.
    let both = signed_in(&app, "bea", &["rsu_operator", "finance"]).await;
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/account/device-pin",
        Some(&both.token),
        json!({ "current_password": both.password, "pin": "60318274" }),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    let mut u = enrol(&app, &s, "unit-s").await;
    allocate(&app, &s, &raffle, &mut u, 5).await;
    let sale = u.sell(&raffle, "p1", 1, cad(500), Timestamp::now());
    send(&app, &mut u, std::slice::from_ref(&sale)).await;
    u.void(
        &sale,
        raffle_core::entry::VoidReason::OperatorError,
        &both.user.staff_id,
        Timestamp::now(),
    );
    let answer = send(&app, &mut u, &[]).await;
    let pending = answer["voids"][0]["result"].clone();
    assert!(pending["approval_id"].is_string(), "{answer}");
    let (status, v) = approve(&app, &pending, &both.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "approver_is_requester", "{v}");
    let (status, v) = approve(&app, &pending, &s.finance.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    drop_database(&app.db).await;
}
