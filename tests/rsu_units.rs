//! Sales units end to end with the real programs: three `raffle-rsu`
//! processes (headless, journals on disk, file printers) are enrolled with
//! a real `raffled`, which is then stopped; they sell offline; `raffled`
//! starts again and the units sync through a proxy that cuts connections
//! at random points, in the request or in the answer. Every sale is in the
//! log exactly once, in each unit's order, and `raffle-audit` passes.

use raffle_core::Timestamp;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use testkit::app::{drop_database, fresh_database, http};

const PASSPHRASE: &str = "the venue's long passphrase";

fn free_port() -> u16 {
    testkit::measure::free_local_port().unwrap()
}

/// A small xorshift for cut points (the test's own choices, replayable).
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn spawn_raffled(addr: &str, url: &str, data: &std::path::Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(testkit::programs::program("raffled"))
        .arg("demo")
        .env("DATABASE_URL", url)
        .env("RAFFLE_LISTEN", addr)
        .env("RAFFLE_DATA_DIR", data)
        .stdout(Stdio::null())
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

async fn api(addr: &str, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http(
        addr,
        method,
        path,
        &[("authorization", auth.as_str())],
        &body,
    )
    .await
    .unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A staff user made in raffled's database (its TOTP secret sealed with
/// the server's secret), signed in over HTTP: the token, and the user.
async fn staff(
    addr: &str,
    store: &raffle_core::store::Store,
    secret: &[u8; 32],
    name: &str,
    roles: &[&str],
) -> (String, raffle_core::store::people::User, String) {
    let roles: Vec<raffle_core::Role> = roles
        .iter()
        .map(|r| raffle_core::Role::parse(r).unwrap())
        .collect();
    let (mut user, password) = web::app::auth::new_user(name, &roles).unwrap();
    let totp = user.totp_secret.clone();
    user.totp_secret = web::app::auth::seal_totp_with(secret, &totp).unwrap();
    store.create_user(&user).await.unwrap();
    let body = json!({ "username": name, "password": password, "totp": web::app::auth::totp_now(&totp).unwrap() });
    let (status, text) = http(addr, "POST", "/api/v1/sessions", &[], &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    (v["token"].as_str().unwrap().to_string(), user, password)
}

/// A `raffle-rsu headless` process.
struct Unit {
    id: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Unit {
    fn start(dir: &std::path::Path, id: &str) -> Unit {
        let mut child = Command::new(testkit::programs::program("raffle-rsu"))
            .args(["--dir", dir.to_str().unwrap(), "--printer"])
            .arg(format!("file:{}", dir.join("tickets").display()))
            .arg("headless")
            .env("RAFFLE_RSU_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Unit {
            id: id.to_string(),
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    fn must(&mut self, cmd: Value) -> Value {
        let v = self.ask(cmd.clone());
        assert_eq!(v["ok"], true, "{}: {cmd} -> {v}", self.id);
        v
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy to `upstream` that cuts connections at random points: a
/// chunk of a request (8 KiB at most) is the last one in 24, cut part way
/// (the server sees half a request); a chunk of an answer is dropped and
/// the connection cut one time in four (the server did the work, the unit
/// never hears of it). Connections are kept alive by the unit's client,
/// so the cuts fall per chunk, not per connection.
async fn cutting_proxy(upstream: String, seed: u64, cuts: Arc<AtomicU64>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut seeds = Dice(seed);
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                continue;
            };
            let mut dice = Dice(seeds.next(u64::MAX) | 1);
            let upstream = upstream.clone();
            let cuts = cuts.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let mut up = [0u8; 8192];
                let mut down = [0u8; 8192];
                loop {
                    tokio::select! {
                        n = cr.read(&mut up) => {
                            let Ok(n) = n else { return };
                            if n == 0 { let _ = sw.shutdown().await; continue; }
                            if dice.next(24) == 0 {
                                let keep = dice.next(n as u64) as usize;
                                let _ = sw.write_all(&up[..keep]).await;
                                cuts.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            if sw.write_all(&up[..n]).await.is_err() { return; }
                        }
                        n = sr.read(&mut down) => {
                            let Ok(n) = n else { return };
                            if n == 0 { return; }
                            if dice.next(4) == 0 {
                                cuts.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            if cw.write_all(&down[..n]).await.is_err() { return; }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_units_sell_while_raffled_is_stopped_and_every_sale_lands_once() {
    let data = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut raffled = spawn_raffled(&addr, &url, data.path()).await;
    let store = raffle_core::store::Store::connect(&url).await.unwrap();
    let secret = web::app::keys::load_or_create_secret(&data.path().join("server.secret")).unwrap();
    let (admin, ..) = staff(&addr, &store, &secret, "ada", &["administrator"]).await;
    let (admin2, ..) = staff(&addr, &store, &secret, "abe", &["administrator"]).await;
    let (manager, ..) = staff(&addr, &store, &secret, "mia", &["raffle_manager"]).await;
    let (seller_token, seller, seller_password) =
        staff(&addr, &store, &secret, "ola", &["rsu_operator"]).await;
    let (status, v) = api(
        &addr,
        "POST",
        "/api/v1/account/device-pin",
        &seller_token,
        json!({ "current_password": seller_password, "pin": "48051693" }),
    )
    .await;
    assert_eq!(status, 204, "{v}");

    let now = Timestamp::now().as_micros();
    let at = |secs: i64| Timestamp::from_micros(now + secs * 1_000_000);
    let (status, v) = api(
        &addr,
        "POST",
        "/api/v1/raffles",
        &manager,
        json!({ "config": testkit::raffles::two_draws(at(-60), at(3600), at(7200)) }),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let (status, v) = api(
        &addr,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        &manager,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let vkey = std::fs::read_to_string(data.path().join("publications/vkey")).unwrap();

    // Three units, each initialised on its own, registered, enrolled by two
    // administrators and allocated 2,000 numbers; each syncs once for its
    // operator list and raffle.
    let mut units = Vec::new();
    let dirs = tempfile::tempdir().unwrap();
    for id in ["gate-1", "gate-2", "gate-3"] {
        let dir = dirs.path().join(id);
        let out = Command::new(testkit::programs::program("raffle-rsu"))
            .args(["--dir", dir.to_str().unwrap(), "init", "--server"])
            .arg(format!("http://{addr}"))
            .args([
                "--vkey",
                vkey.trim(),
                "--id",
                id,
                "--printer-spec",
                "file:tickets",
            ])
            .env("RAFFLE_RSU_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let (status, v) = api(
            &addr,
            "POST",
            "/api/v1/rsu/devices",
            &admin,
            json!({ "id": id, "model": "PAX A920", "operator": "Gate crew", "key": public }),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        let (status, pending) = api(
            &addr,
            "POST",
            &format!("/api/v1/rsu/devices/{id}/enrol"),
            &admin,
            Value::Null,
        )
        .await;
        assert_eq!(status, 202, "{pending}");
        let approval = pending["approval_id"].as_str().unwrap();
        let (status, v) = api(
            &addr,
            "POST",
            &format!("/api/v1/approvals/{approval}"),
            &admin2,
            json!({ "decision": "approve" }),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = api(
            &addr,
            "POST",
            &format!("/api/v1/raffles/{raffle}/rsu/allocations"),
            &manager,
            json!({ "rsu": id, "count": 2000 }),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let mut unit = Unit::start(&dir, id);
        unit.must(json!({ "cmd": "sync" }));
        unit.must(
            json!({ "cmd": "sign_in", "staff": seller.staff_id.to_string(), "pin": "48051693" }),
        );
        units.push(unit);
    }

    // raffled stops; the units sell on.
    raffled.kill().await.unwrap();
    let mut dice = Dice(0x5eed_1234_abcd_0001);
    let mut sold = [0u64; 3];
    // 220 each: more than a sync page (200 records).
    for round in 0..220 {
        for (i, unit) in units.iter_mut().enumerate() {
            let (package, price) =
                [("p1", 500), ("p3", 1000), ("p10", 2000)][dice.next(3) as usize];
            let v = unit.must(json!({
                "cmd": "sell", "raffle": raffle, "package": package, "quantity": 1, "cash": price,
            }));
            assert_eq!(v["printed"], Value::Null, "round {round}: {v}");
            sold[i] += 1;
        }
    }
    for unit in units.iter_mut() {
        let v = unit.ask(json!({ "cmd": "sync" }));
        assert_eq!(v["ok"], false, "the server is down: {v}");
    }

    // raffled starts again, behind a network that cuts connections.
    let raffled = spawn_raffled(&addr, &url, data.path()).await;
    let cuts = Arc::new(AtomicU64::new(0));
    let proxy = cutting_proxy(addr.clone(), 0x0dd_c0ffee, cuts.clone()).await;
    drop(units);
    let mut units = Vec::new();
    for id in ["gate-1", "gate-2", "gate-3"] {
        let dir = dirs.path().join(id);
        // The unit's server is the proxy now.
        let path = dir.join("unit.json");
        let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        file["server"] = json!(format!("http://{proxy}"));
        std::fs::write(&path, file.to_string()).unwrap();
        units.push(Unit::start(&dir, id));
    }
    let mut attempts = 0;
    for unit in units.iter_mut() {
        loop {
            attempts += 1;
            assert!(attempts < 500, "the units never finished uploading");
            let v = unit.ask(json!({ "cmd": "sync" }));
            if v["ok"] == true && v["waiting"] == 0 {
                assert_eq!(v["refused"], json!([]), "{v}");
                break;
            }
        }
        let status = unit.must(json!({ "cmd": "status" }));
        assert_eq!(status["waiting"], 0, "{status}");
    }
    let cut = cuts.load(Ordering::SeqCst);
    eprintln!(
        "{} sales; {cut} connections cut in {attempts} sync attempts",
        sold.iter().sum::<u64>()
    );
    assert!(cut > 0, "the proxy cut no connection");

    // Every sale is in the log once, in each unit's order.
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT body FROM log_entries WHERE kind = 'sale' ORDER BY idx")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    for (i, id) in ["gate-1", "gate-2", "gate-3"].iter().enumerate() {
        let seqs: Vec<u64> = rows
            .iter()
            .map(|(b,)| serde_json::from_slice::<Value>(b).unwrap())
            .filter(|e| e["rsu"] == *id)
            .map(|e| e["device"]["seq"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(seqs, (1..=sold[i]).collect::<Vec<_>>(), "{id}");
    }
    let rejected: (i64,) =
        sqlx::query_as("SELECT count(*) FROM log_entries WHERE kind = 'rsu.rejected'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(rejected.0, 0);
    // Each unit printed a ticket for every sale.
    for (i, id) in ["gate-1", "gate-2", "gate-3"].iter().enumerate() {
        let tickets = std::fs::read_dir(dirs.path().join(id).join("tickets"))
            .unwrap()
            .count();
        assert_eq!(tickets as u64, sold[i], "{id}");
    }
    drop(units);
    drop(raffled);

    let publications = data.path().join("publications");
    let out = Command::new(testkit::programs::program("raffle-audit"))
        .args(["log", publications.to_str().unwrap(), "--vkey", vkey.trim()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "raffle-audit log: {text}");
    drop_database(&db).await;
}
