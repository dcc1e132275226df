//! `load-purchases [--rate R] [--seconds N] [--database URL] [--witness]`:
//! starts `raffled demo` on a fresh database (with `--witness`, beside a
//! `raffle-audit witness` that cosigns every checkpoint before it is
//! published), sends purchases over HTTP at a fixed rate
//! (open loop: each request leaves at its scheduled time, whatever the
//! replies), measures latency from each request's scheduled send time, then
//! checks every acknowledged sale against the published log. Ends with one
//! line:
//!
//! The per-address purchase limit is raised for the run (all purchases
//! come from one address here).
//!
//! `purchases_per_s=N p50_ms=N p99_ms=N acked=N missing=N duplicated=N server_cpu_us_per_purchase=N postgres_cpu_us_per_purchase=N`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::measure::{free_local_port, postgres_cpu_us, process_cpu_us, verify_own_publications};
use transparency::store::read_entry;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PURCHASE: &str = r#"{"package_id":"p3","buyer":{"age_confirmed":true,"region":"CA-ON"},"payment":{"provider":"test"}}"#;

#[derive(serde::Deserialize)]
struct Ack {
    sale_id: String,
}

/// Open-loop purchase load against a fresh `raffled demo`.
#[derive(clap::Parser)]
#[command(name = "load-purchases")]
struct Args {
    /// Purchases per second.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// The PostgreSQL server, without a database (a scratch one is made).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database: String,
    /// Run a `raffle-audit witness` (built beside this program) and have
    /// `raffled` wait for its cosignature on every checkpoint.
    #[arg(long)]
    witness: bool,
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Err(e) = run(args).await {
        eprintln!("load-purchases: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let raffled = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("raffled");
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("raffle_load_{}", std::process::id());
    let url = format!("{}/{db}", args.database);
    let port = free_local_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut command = tokio::process::Command::new(&raffled);
    command
        .arg("demo")
        .env("DATABASE_URL", &url)
        .env("RAFFLE_LISTEN", &addr)
        .env("RAFFLE_DATA_DIR", data.path())
        // Every purchase comes from this one address: the per-address
        // limit (a setting; a real surge comes from many) is raised.
        .env("RAFFLE_RATE_PURCHASES", "1000000000")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    let witness = if args.witness {
        let (witness, vkey, url) = start_witness(data.path(), &format!("{addr}/log"))?;
        let name = vkey.split('+').next().unwrap_or_default().to_string();
        command
            .env("RAFFLE_WITNESS_KEYS", &vkey)
            .env("RAFFLE_WITNESS_URLS", format!("{name}={url}"));
        Some((witness, vkey))
    } else {
        None
    };
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", raffled.display()))?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    let started = Instant::now();
    let raffle = loop {
        if let Ok(r) = client.get(format!("{base}/api/v1/raffles")).send().await
            && let Ok(text) = r.text().await
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(id) = v["raffles"][0]["id"].as_str()
        {
            break id.to_string();
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("raffled did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let url_purchase = Arc::new(format!("{base}/api/v1/raffles/{raffle}/purchases"));
    let pid = child.id().unwrap_or(0);
    let (server_cpu0, pg_cpu0) = (process_cpu_us(pid), postgres_cpu_us());
    let own_cpu0 = process_cpu_us(std::process::id());

    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = t0 + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let (client, url) = (client.clone(), url_purchase.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .header("idempotency-key", format!("load-{i:020}"))
                .body(PURCHASE)
                .send()
                .await;
            let body = match resp {
                Ok(r) if r.status().as_u16() == 201 => r.text().await.ok(),
                _ => None,
            };
            (scheduled.elapsed(), body, scheduled - t0)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut acked: Vec<String> = Vec::new();
    // The slowest reply of each second of the run, to see when it stalled.
    let mut per_second: Vec<Duration> = Vec::new();
    for t in tasks {
        let (latency, body, offset) = t.await.map_err(|e| e.to_string())?;
        latencies.push(latency);
        let second = offset.as_secs() as usize;
        if per_second.len() <= second {
            per_second.resize(second + 1, Duration::ZERO);
        }
        per_second[second] = per_second[second].max(latency);
        // Only the sale id is needed: the rest of the receipt is skipped
        // unparsed, so that the load generator leaves the CPU to the server.
        if let Some(body) = body
            && let Ok(ack) = serde_json::from_str::<Ack>(&body)
        {
            acked.push(ack.sale_id);
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (server_cpu, pg_cpu) = (
        process_cpu_us(pid) - server_cpu0,
        postgres_cpu_us() - pg_cpu0,
    );
    let own_cpu = process_cpu_us(std::process::id()) - own_cpu0;
    child.kill().await.map_err(|e| e.to_string())?;

    // Check every acknowledged sale against the published log.
    let publications = data.path().join("publications");
    let (storage, _, report) = verify_own_publications(&publications)?;
    let size = report.checkpoint.checkpoint.size;
    if let Some((_, vkey)) = &witness {
        let key = transparency::NoteVerifier::from_vkey(vkey).map_err(|e| e.to_string())?;
        report
            .checkpoint
            .note
            .verify(&[key])
            .map_err(|e| format!("the published checkpoint is not cosigned by the witness: {e}"))?;
    }
    let mut in_log: HashMap<String, u32> = HashMap::new();
    for i in 0..size {
        let bytes = read_entry(&storage, i, size).map_err(|e| e.to_string())?;
        if let Ok(e) = raffle_core::entry::Entry::parse(&bytes)
            && let raffle_core::entry::Body::Sale(s) = e.body
        {
            *in_log.entry(s.sale.to_string()).or_default() += 1;
        }
    }
    let missing = acked.iter().filter(|s| !in_log.contains_key(*s)).count();
    let mut seen = HashMap::new();
    for s in &acked {
        *seen.entry(s).or_insert(0u32) += 1;
    }
    let duplicated =
        in_log.values().filter(|&&c| c > 1).count() + seen.values().filter(|&&c| c > 1).count();
    if std::env::var_os("LOAD_PURCHASES_TIMELINE").is_some() {
        let worst: Vec<String> = per_second
            .iter()
            .map(|d| format!("{}", d.as_millis()))
            .collect();
        eprintln!("slowest reply per second (ms): {}", worst.join(" "));
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    let n = acked.len().max(1) as u64;
    let _ = testkit::db::drop_database_on(&args.database, &db).await;
    // The three share the machine: how much each took, per purchase.
    eprintln!(
        "cpu per acknowledged purchase: load generator {} us, raffled {} us, PostgreSQL {} us",
        own_cpu / n,
        server_cpu / n,
        pg_cpu / n
    );
    println!(
        "purchases_per_s={:.0} p50_ms={:.1} p99_ms={:.1} acked={} missing={missing} duplicated={duplicated} server_cpu_us_per_purchase={} postgres_cpu_us_per_purchase={}",
        acked.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        acked.len(),
        server_cpu / n,
        pg_cpu / n
    );
    Ok(())
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `raffle-audit witness` for the log `origin` whose key it creates
/// in `data` first; returns the process, the witness vkey and its URL.
fn start_witness(data: &std::path::Path, origin: &str) -> Result<(Killed, String, String), String> {
    use std::io::BufRead as _;
    let log_key = web::app::keys::load_or_create(&data.join("log.key"), origin)?;
    let exe = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("raffle-audit");
    let mut child = std::process::Command::new(&exe)
        .arg("witness")
        .arg("--key")
        .arg(data.join("witness.key"))
        .args(["--name", "witness.example/load"])
        .arg("--state")
        .arg(data.join("witness-state"))
        .args([
            "--log",
            &log_key.verifier().vkey(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    // "witness <vkey> listening on http://<addr>/"
    let mut words = line.split_whitespace();
    let vkey = words
        .nth(1)
        .ok_or("the witness printed no vkey")?
        .to_string();
    let url = words
        .last()
        .ok_or("the witness printed no URL")?
        .to_string();
    Ok((Killed(child), vkey, url))
}
