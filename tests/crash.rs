//! Crash safety, tested by killing the real `raffled` with SIGKILL at random
//! moments under concurrent purchases, and restarting it: every
//! acknowledged sale is in the database and in the published log exactly
//! once; every checkpoint ever published (and every receipt's checkpoint) is
//! a prefix of the final log; the root recomputed from the published tiles
//! equals the published checkpoint.

use testkit::app as common;

use common::{PURCHASE, drop_database, fresh_database, http};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use transparency::store::{TileHashSource, read_entry};
use transparency::{Checkpoint, Note};

fn free_port() -> u16 {
    testkit::measure::free_local_port().unwrap()
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom_fill(&mut b);
    u64::from_le_bytes(b) % n
}

fn getrandom_fill(b: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(b)
        .unwrap();
}

struct Server {
    addr: String,
    data: std::path::PathBuf,
    url: String,
}

impl Server {
    async fn spawn(&self) -> tokio::process::Child {
        let child = tokio::process::Command::new(testkit::programs::program("raffled"))
            .arg("demo")
            .env("DATABASE_URL", &self.url)
            .env("RAFFLE_LISTEN", &self.addr)
            .env("RAFFLE_DATA_DIR", &self.data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while http(&self.addr, "GET", "/api/v1/raffles", &[], "")
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "raffled did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let server = Server {
        addr: format!("127.0.0.1:{}", free_port()),
        data: dir.path().to_path_buf(),
        url,
    };
    let mut child = server.spawn().await;
    let (_, list) = http(&server.addr, "GET", "/api/v1/raffles", &[], "")
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let raffle = list["raffles"][0]["id"].as_str().unwrap().to_string();

    let acked: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen_checkpoints: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..6 {
        let (addr, raffle, acked, stop) = (
            server.addr.clone(),
            raffle.clone(),
            acked.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let key = format!("client{c}-{n:020}");
                let path = format!("/api/v1/raffles/{raffle}/purchases");
                if let Ok((201, body)) =
                    http(&addr, "POST", &path, &[("Idempotency-Key", &key)], PURCHASE).await
                {
                    acked
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    {
        let (dir, seen, stop) = (
            dir.path().join("publications/checkpoint"),
            seen_checkpoints.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(bytes) = std::fs::read(&dir) {
                    seen.lock().unwrap().insert(bytes);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300 + random_below(900))).await;
        child.kill().await.unwrap(); // SIGKILL
        child = server.spawn().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    child.kill().await.unwrap();
    child = server.spawn().await; // a last recovery before checking

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "only {} purchases were acknowledged",
        acked.len()
    );

    // The published log, verified as a whole.
    let publications = dir.path().join("publications");
    let (storage, vkey, report) = testkit::measure::verify_own_publications(&publications).unwrap();
    let size = report.checkpoint.checkpoint.size;
    let mut in_log: HashMap<String, u32> = HashMap::new();
    let mut numbers = HashSet::new();
    for i in 0..size {
        let entry =
            raffle_core::entry::Entry::parse(&read_entry(&storage, i, size).unwrap()).unwrap();
        if let raffle_core::entry::Body::Sale(s) = entry.body {
            *in_log.entry(String::from(s.sale)).or_default() += 1;
            for n in s.numbers.iter() {
                assert!(numbers.insert(n), "draw number {n} issued twice");
            }
        }
    }
    assert!(
        in_log.values().all(|&c| c == 1),
        "a sale is in the log twice"
    );

    // Every checkpoint ever published, and every receipt's, is a prefix of the final log.
    let src = TileHashSource::new(&storage, size);
    let mut checkpoints: Vec<Vec<u8>> = seen_checkpoints.lock().unwrap().iter().cloned().collect();
    for r in &acked {
        let proof =
            transparency::proof_file::ProofFile::parse(r["proof"].as_str().unwrap().as_bytes())
                .unwrap();
        proof.verify_extra_entry(&vkey, &[]).unwrap();
        checkpoints.push(proof.checkpoint.to_bytes());
    }
    for bytes in &checkpoints {
        let note = Note::parse(bytes).unwrap();
        note.verify(std::slice::from_ref(&vkey)).unwrap();
        let cp = Checkpoint::parse_text(note.text()).unwrap();
        assert!(cp.size <= size);
        assert_eq!(
            transparency::tree::root(&src, cp.size).unwrap(),
            cp.root,
            "checkpoint of size {} is not a prefix",
            cp.size
        );
    }

    // Every acknowledged sale is in the log and in the database exactly once.
    let store = raffle_core::store::Store::connect(&server.url)
        .await
        .unwrap();
    for r in &acked {
        let sale = r["sale_id"].as_str().unwrap();
        assert_eq!(
            in_log.get(sale),
            Some(&1),
            "acknowledged sale {sale} is not in the published log"
        );
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sales WHERE id::text = $1")
            .bind(sale)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            count, 1,
            "acknowledged sale {sale} is not in the database once"
        );
    }
    let db_sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(
        db_sales as usize,
        in_log.len(),
        "the database and the log disagree"
    );
    eprintln!(
        "crash test: {} acknowledged, {} sales in the log, {} checkpoints checked",
        acked.len(),
        in_log.len(),
        checkpoints.len()
    );
    child.kill().await.unwrap();
    store.pool.close().await;
    drop_database(&db).await;
}
