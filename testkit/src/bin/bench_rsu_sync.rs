//! `bench-rsu-sync [--records N] [--page P]`: `raffled` in-process on a
//! fresh database; one sales unit, enrolled and allocated N numbers, sells
//! N single tickets offline, then syncs them in signed pages of P records
//! (the protocol's limit is 200), each page sequenced before the next is
//! sent, as a unit does. Checks every sale is in the log once. Ends with
//! one line:
//!
//! `rsu_records=N pages=N sync_ms=N records_per_s=N slowest_page_ms=N`

use std::time::Instant;
use testkit::app::{app, approve, call, signed_in};
use testkit::rsu::ScriptedDevice;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(clap::Parser)]
#[command(name = "bench-rsu-sync")]
struct Args {
    /// Offline sales to sync.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    records: u64,
    /// Records per sync request.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=200))]
    page: u64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    let app = app().await;
    let admin = signed_in(&app, "ada", &["administrator"]).await;
    let admin2 = signed_in(&app, "abe", &["administrator"]).await;
    let manager = signed_in(&app, "mia", &["raffle_manager"]).await;
    let config = testkit::raffles::one_draw(
        testkit::raffles::in_secs(-60),
        testkit::raffles::in_secs(3600),
    );
    let (_, v) = call(
        &app,
        "POST",
        "/api/v1/raffles",
        Some(&manager.token),
        serde_json::json!({ "config": config }),
    )
    .await;
    let raffle = v["id"].as_str().expect("a raffle").to_string();
    call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&manager.token),
        serde_json::Value::Null,
    )
    .await;
    let seller = testkit::rsu::operator_with_pin(&app, "olu", "48051693").await;
    let mut unit = ScriptedDevice::new("bench-1", &app, &seller.user.staff_id);
    call(
        &app,
        "POST",
        "/api/v1/rsu/devices",
        Some(&admin.token),
        serde_json::json!({ "id": "bench-1", "model": "bench", "operator": "bench", "key": hex::encode(unit.key.public()) }),
    )
    .await;
    let (_, pending) = call(
        &app,
        "POST",
        "/api/v1/rsu/devices/bench-1/enrol",
        Some(&admin.token),
        serde_json::Value::Null,
    )
    .await;
    approve(&app, &pending, &admin2.token).await;
    let (_, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/rsu/allocations"),
        Some(&manager.token),
        serde_json::json!({ "rsu": "bench-1", "count": args.records }),
    )
    .await;
    let first: u64 = v["entry"]["numbers"]["first"]
        .as_str()
        .expect("allocated")
        .parse()
        .expect("a number");
    unit.allocated(&raffle, first, args.records);
    // The unit's first contact gives it the operator list it sells under.
    let (status, answer) = unit.send(&app, &[], &[], None).await.expect("not cut");
    assert_eq!(status, axum::http::StatusCode::OK, "{answer}");
    assert_eq!(unit.operators.len(), 1, "{answer}");
    let price = raffle_core::Money::new(500, raffle_core::Currency::CAD);
    let at = raffle_core::Timestamp::now();
    for _ in 0..args.records {
        unit.sell(&raffle, "p1", 1, price, at);
    }
    let page = usize::try_from(args.page).expect("a page size");
    let started = Instant::now();
    let mut pages = 0u64;
    let mut slowest = 0u128;
    let chunks: Vec<Vec<_>> = unit
        .journal
        .chunks(page)
        .map(|c| c.iter().map(|s| s.record.clone()).collect())
        .collect();
    for chunk in chunks {
        let t = Instant::now();
        let (status, answer) = unit.send(&app, &chunk, &[], None).await.expect("not cut");
        assert_eq!(status, axum::http::StatusCode::OK, "{answer}");
        assert_eq!(
            answer["sequenced"].as_u64(),
            Some(chunk.len() as u64),
            "{answer}"
        );
        slowest = slowest.max(t.elapsed().as_millis());
        pages += 1;
    }
    let elapsed = started.elapsed();
    let ledger_sales = app
        .state
        .sequencer
        .ledger()
        .device("bench-1")
        .map(|d| d.head.seq)
        .unwrap_or(0);
    assert_eq!(ledger_sales, args.records, "every record in the log once");
    println!(
        "rsu_records={} pages={pages} sync_ms={} records_per_s={} slowest_page_ms={slowest}",
        args.records,
        elapsed.as_millis(),
        (args.records as f64 / elapsed.as_secs_f64()) as u64,
    );
    testkit::app::drop_database(&app.db).await;
}
