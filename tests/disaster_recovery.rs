//! Disaster recovery with real tools: a `pg_dump` taken earlier in a raffle
//! is restored with `pg_restore`, `raffled` restarts, rolls the database
//! forward from the published log, and every sale acknowledged after the
//! dump is back; the log it signs next is a consistent extension.

use testkit::app as common;

use common::{PURCHASE, drop_database, fresh_database, http};
use std::process::Command;
use std::time::{Duration, Instant};
use transparency::store::TileHashSource;
use transparency::{Checkpoint, Note};

async fn spawn(addr: &str, url: &str, data: &std::path::Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(testkit::programs::program("raffled"))
        .arg("demo")
        .env("DATABASE_URL", url)
        .env("RAFFLE_LISTEN", addr)
        .env("RAFFLE_DATA_DIR", data)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while http(addr, "GET", "/api/v1/raffles", &[], "").await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "raffled did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

async fn buy(addr: &str, raffle: &str, n: usize) -> Vec<String> {
    let mut sales = Vec::new();
    for _ in 0..n {
        let (status, body) = http(
            addr,
            "POST",
            &format!("/api/v1/raffles/{raffle}/purchases"),
            &[],
            PURCHASE,
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        sales.push(v["sale_id"].as_str().unwrap().to_string());
    }
    sales
}

fn pg(tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_dump_is_rolled_forward_from_the_published_log() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let addr = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let mut child = spawn(&addr, &url, dir.path()).await;
    let (_, list) = http(&addr, "GET", "/api/v1/raffles", &[], "")
        .await
        .unwrap();
    let raffle = serde_json::from_str::<serde_json::Value>(&list).unwrap()["raffles"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let before = buy(&addr, &raffle, 10).await;
    let dump = dir.path().join("raffle.dump");
    pg(
        "pg_dump",
        &[
            "--format=custom",
            "--file",
            dump.to_str().unwrap(),
            "--dbname",
            &url,
        ],
    );
    let after = buy(&addr, &raffle, 15).await;
    let checkpoint_before_restore =
        std::fs::read(dir.path().join("publications/checkpoint")).unwrap();
    child.kill().await.unwrap();

    // The database is lost and restored from the earlier dump.
    drop_database(&db).await;
    let base = url.rsplit_once('/').unwrap().0;
    pg(
        "psql",
        &[
            "--dbname",
            &format!("{base}/postgres"),
            "-qc",
            &format!("CREATE DATABASE \"{db}\""),
        ],
    );
    pg("pg_restore", &["--dbname", &url, dump.to_str().unwrap()]);

    let mut child = spawn(&addr, &url, dir.path()).await;
    let store = raffle_core::store::Store::connect(&url).await.unwrap();
    for sale in before.iter().chain(&after) {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sales WHERE id::text = $1")
            .bind(sale)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(n, 1, "acknowledged sale {sale} is not back");
    }
    // It keeps selling, numbers continue where the log left them, and the
    // log it signs extends the one published before the restore.
    let more = buy(&addr, &raffle, 1).await;
    let (_, ticket_page) = http(&addr, "GET", &format!("/api/v1/raffles/{raffle}"), &[], "")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ticket_page).unwrap()["numbers_sold"],
        "78"
    );
    let publications = dir.path().join("publications");
    let (storage, _, report) = testkit::measure::verify_own_publications(&publications).unwrap();
    let old =
        Checkpoint::parse_text(Note::parse(&checkpoint_before_restore).unwrap().text()).unwrap();
    let src = TileHashSource::new(&storage, report.checkpoint.checkpoint.size);
    assert_eq!(
        transparency::tree::root(&src, old.size).unwrap(),
        old.root,
        "the log after the restore does not extend the one before"
    );
    assert_eq!(more.len(), 1);
    child.kill().await.unwrap();
    store.pool.close().await;
    drop_database(&db).await;
}
