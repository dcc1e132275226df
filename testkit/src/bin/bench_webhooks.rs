//! `bench-webhooks [--rate R] [--seconds N] [--database URL]`: starts the
//! fake Stripe in-process and `raffled serve` taking cards from it (a fresh
//! database), then sends Stripe-signed webhook deliveries to
//! `/api/v1/payments/stripe/webhook` at a fixed rate (open loop: each
//! delivery leaves at its scheduled time, whatever the replies), a third
//! of them repeats of an earlier event (Stripe delivers at least once).
//! Latency is measured from each delivery's scheduled time. Afterwards the
//! events table must hold each event exactly once. Ends with one line:
//!
//! `webhook_deliveries_per_s=N p50_ms=N p99_ms=N ok=N failed=N events=N stored=N server_cpu_us_per_delivery=N postgres_cpu_us_per_delivery=N`

use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::measure::{free_local_port, postgres_cpu_us, process_cpu_us};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(clap::Parser)]
#[command(name = "bench-webhooks")]
struct Args {
    /// Deliveries per second.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// The PostgreSQL server, without a database (a scratch one is made).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database: String,
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Err(e) = run(args).await {
        eprintln!("bench-webhooks: {e}");
        std::process::exit(1);
    }
}

/// An event of the kind Stripe sends most (a PaymentIntent's change), about
/// a payment no order of this raffled made: processed as "no such order".
fn event(n: u64) -> String {
    serde_json::json!({
        "id": format!("evt_bench{n:020}"),
        "object": "event",
        "api_version": stripe_fake::API_VERSION,
        "created": 1_790_000_000u64 + n,
        "data": { "object": {
            "id": format!("pi_bench{n:020}"), "object": "payment_intent", "amount": 1000, "amount_capturable": 0,
            "amount_received": 0, "currency": "cad", "livemode": false, "metadata": {}, "status": "requires_payment_method",
            "last_payment_error": { "code": "card_declined", "message": "Your card was declined." },
        } },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": format!("req_bench{n}"), "idempotency_key": null },
        "type": "payment_intent.payment_failed",
    })
    .to_string()
}

async fn run(args: Args) -> Result<(), String> {
    let raffled = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("raffled");
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("raffle_webhooks_{}", std::process::id());
    let url = format!("{}/{db}", args.database);
    let addr = format!("127.0.0.1:{}", free_local_port()?);
    let fake = stripe_fake::FakeStripe::start(stripe_fake::Options::test()).await;
    let secret = fake.options.webhook_secret.clone();
    let mut child = tokio::process::Command::new(&raffled)
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("RAFFLE_LISTEN", &addr)
        .env("RAFFLE_DATA_DIR", data.path())
        .env("RAFFLE_PAYMENT_PROVIDERS", "stripe")
        .env("RAFFLE_ALLOW_TEST_PAYMENTS", "true")
        .env("RAFFLE_STRIPE_SECRET_KEY", &fake.options.secret_key)
        .env("RAFFLE_STRIPE_ACCOUNT", &fake.options.account)
        .env("RAFFLE_STRIPE_WEBHOOK_SECRETS", &secret)
        .env("RAFFLE_STRIPE_API_BASE", &fake.url)
        .env("RAFFLE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", raffled.display()))?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    let started = Instant::now();
    while client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("raffled did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let endpoint = Arc::new(format!("{base}/api/v1/payments/stripe/webhook"));
    let pid = child.id().unwrap_or(0);
    let (server_cpu0, pg_cpu0) = (process_cpu_us(pid), postgres_cpu_us());
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total as usize);
    let mut events = 0u64;
    for i in 0..total {
        // Every third delivery repeats an earlier event.
        let n = if i % 3 == 2 && events > 0 {
            (i * 7919) % events
        } else {
            events += 1;
            events - 1
        };
        let body = event(n);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let signature = stripe_fake::sign(&secret, now, &body);
        let scheduled = t0 + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let (client, endpoint) = (client.clone(), endpoint.clone());
        tasks.push(tokio::spawn(async move {
            let ok = client
                .post(endpoint.as_str())
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", signature)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false);
            (scheduled.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let (mut ok, mut failed) = (0u64, 0u64);
    for t in tasks {
        let (latency, good) = t.await.map_err(|e| e.to_string())?;
        latencies.push(latency);
        if good {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (server_cpu, pg_cpu) = (
        process_cpu_us(pid) - server_cpu0,
        postgres_cpu_us() - pg_cpu0,
    );
    child.kill().await.map_err(|e| e.to_string())?;
    let store = raffle_core::store::Store::connect(&url)
        .await
        .map_err(|e| e.to_string())?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_events")
        .fetch_one(&store.pool)
        .await
        .map_err(|e| e.to_string())?;
    store.pool.close().await;
    let _ = testkit::db::drop_database(&db).await;
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    println!(
        "webhook_deliveries_per_s={:.0} p50_ms={:.1} p99_ms={:.1} ok={ok} failed={failed} events={events} stored={stored} server_cpu_us_per_delivery={} postgres_cpu_us_per_delivery={}",
        total as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        server_cpu / total.max(1),
        pg_cpu / total.max(1),
    );
    if stored as u64 != events || failed > 0 {
        return Err(format!(
            "{stored} events stored for {events} sent, {failed} deliveries failed"
        ));
    }
    Ok(())
}
