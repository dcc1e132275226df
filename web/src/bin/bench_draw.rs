//! `bench-draw [--numbers N] [--per-sale K]`: a draw over a raffle with N
//! draw numbers in play (default 10,000,000), run end to end through
//! `raffled` over HTTP. It starts `raffled serve` on a fresh database,
//! creates the staff it needs (an administrator, a raffle manager, two
//! finance users: reconciliation needs a second person), a 50/50 raffle,
//! buys N numbers in sales of K (default 100) numbers, waits for the end
//! time, has reconciliation requested and approved, then freezes and
//! performs the draw, timing each request and the server CPU it took. Then
//! it restarts `raffled` and times the start (which replays the log). Ends
//! with one line:
//!
//! `numbers=N sales=S buy_s=N freeze_ms=N freeze_server_cpu_ms=N perform_ms=N perform_server_cpu_ms=N restart_ms=N`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use raffle_core::entry::{Body, Package, examples};
use raffle_core::{Money, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use web::measure::{
    bootstrap_administrator, call, drop_database, expect, free_local_port, process_cpu_us, sign_in,
    start_server,
};

/// A draw over many numbers, end to end through `raffled`.
#[derive(clap::Parser)]
#[command(name = "bench-draw")]
struct Args {
    /// Draw numbers in play.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    numbers: u64,
    /// Numbers per sale: a multiple of 10 from 10 to 1000 (packages of 10).
    #[arg(long, default_value_t = 100, value_parser = per_sale)]
    per_sale: u64,
    /// The PostgreSQL server, without a database (a scratch one is made).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database: String,
}

fn per_sale(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(k) if (10..=1000).contains(&k) && k.is_multiple_of(10) => Ok(k),
        _ => Err("a multiple of 10 from 10 to 1000".into()),
    }
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Err(e) = run(args).await {
        eprintln!("bench-draw: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let raffled = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("raffled");
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("raffle_bench_draw_{}", std::process::id());
    let port = free_local_port()?;
    let env = vec![
        ("DATABASE_URL", format!("{}/{db}", args.database)),
        ("RAFFLE_LISTEN", format!("127.0.0.1:{port}")),
        ("RAFFLE_DATA_DIR", data.path().display().to_string()),
    ];
    let admin = bootstrap_administrator(&raffled, &env).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())?;
    let result = bench(&args, &raffled, &env, &client, &admin).await;
    // Tidy up the database whatever happened.
    drop_database(&args.database, &db).await;
    result
}

async fn bench(
    args: &Args,
    raffled: &std::path::Path,
    env: &[(&str, String)],
    client: &reqwest::Client,
    admin: &Value,
) -> Result<(), String> {
    use reqwest::Method;
    let mut server = start_server(raffled, env, client).await?;
    let base = server.base.clone();
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let admin_token = sign_in(
        client,
        &base,
        &s(admin, "username"),
        &s(admin, "password"),
        &s(admin, "totp_secret"),
    )
    .await?;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("manager", "raffle_manager"),
        ("finance1", "finance"),
        ("finance2", "finance"),
    ] {
        let u = expect(
            "creating a user",
            201,
            call(
                client,
                Method::POST,
                format!("{base}/api/v1/users"),
                Some(&admin_token),
                json!({ "username": name, "roles": [role] }),
            )
            .await,
        )
        .await?;
        tokens.push(
            sign_in(
                client,
                &base,
                name,
                &s(&u, "password"),
                &s(&u, "totp_secret"),
            )
            .await?,
        );
    }
    let (manager, fin1, fin2) = (&tokens[0], &tokens[1], &tokens[2]);

    // A 50/50 raffle whose sales end when the numbers should be sold.
    let sales = args.numbers.div_ceil(args.per_sale);
    let Some(Body::RaffleCreated(example)) = examples().into_iter().nth(1).map(|e| e.body) else {
        return Err("the schema's examples have no raffle.created".into());
    };
    let mut c = example.config;
    let now = Timestamp::now().as_micros();
    let selling = Duration::from_secs(15 + sales / 1500);
    c.sales_start = Timestamp::from_micros(now - 1_000_000);
    c.sales_end = Timestamp::from_micros(now + selling.as_micros() as i64);
    c.draws.truncate(1);
    c.draws[0].id = "main".into();
    c.draws[0].cutoff = c.sales_end;
    c.draws[0].draw_at = c.sales_end;
    c.max_tickets = None;
    c.packages = vec![Package {
        id: "p10".into(),
        tickets: 10,
        price: Money::new(2000, c.packages[0].price.currency),
    }];
    let v = expect(
        "creating the raffle",
        201,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles"),
            Some(manager),
            json!({ "config": c }),
        )
        .await,
    )
    .await?;
    let raffle = s(&v, "id");
    expect(
        "opening the raffle",
        200,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles/{raffle}/open"),
            Some(manager),
            Value::Null,
        )
        .await,
    )
    .await?;

    // Buy: 128 buyers in a closed loop.
    let bought = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let url = Arc::new(format!("{base}/api/v1/raffles/{raffle}/purchases"));
    let body = Arc::new(
        json!({
            "package_id": "p10",
            "quantity": args.per_sale / 10,
            "buyer": { "age_confirmed": true, "region": "CA-ON" },
            "payment": { "provider": "test" }
        })
        .to_string(),
    );
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..128 {
        let (next, url, body, client) = (next.clone(), url.clone(), body.clone(), client.clone());
        buyers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < sales {
                let r = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(body.as_str().to_string())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status().as_u16() != 201 {
                    return Err(format!(
                        "purchase: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ));
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = buyers.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let buy_s = bought.elapsed().as_secs_f64();
    eprintln!(
        "bench-draw: {sales} sales of {} numbers in {buy_s:.1} s",
        args.per_sale
    );
    let end = bought + selling;
    if end > Instant::now() {
        tokio::time::sleep_until(end.into()).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Reconciliation: requested by one, approved by another (GLI-31 2.6.3).
    let v = expect(
        "requesting reconciliation",
        202,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles/{raffle}/reconciliation"),
            Some(fin1),
            json!({ "draw": "main" }),
        )
        .await,
    )
    .await?;
    expect(
        "approving reconciliation",
        200,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/approvals/{}", s(&v, "approval_id")),
            Some(fin2),
            json!({ "decision": "approve" }),
        )
        .await,
    )
    .await?;

    let pid = server.child.id().unwrap_or(0);
    let mut timed = Vec::new();
    let mut frozen = Value::Null;
    for step in ["freeze", "perform"] {
        let cpu0 = process_cpu_us(pid);
        let t = Instant::now();
        let v = expect(
            step,
            200,
            call(
                client,
                Method::POST,
                format!("{base}/api/v1/raffles/{raffle}/draws/main/{step}"),
                Some(manager),
                Value::Null,
            )
            .await,
        )
        .await?;
        timed.push((t.elapsed(), (process_cpu_us(pid) - cpu0) / 1000));
        if step == "freeze" {
            frozen = v;
        } else {
            eprintln!(
                "bench-draw: winner {} of n = {}",
                v["entry"]["winner"].as_str().unwrap_or("?"),
                frozen["entry"]["n"].as_str().unwrap_or("?")
            );
        }
    }
    if frozen["entry"]["n"].as_str() != Some(&(sales * args.per_sale).to_string()) {
        return Err(format!("the frozen draw has n = {}", frozen["entry"]["n"]));
    }

    // Restart: the start replays the published log.
    server.child.kill().await.map_err(|e| e.to_string())?;
    let t = Instant::now();
    let mut server = start_server(raffled, env, client).await?;
    let restart = t.elapsed();
    server.child.kill().await.map_err(|e| e.to_string())?;

    println!(
        "numbers={} sales={sales} buy_s={buy_s:.1} freeze_ms={} freeze_server_cpu_ms={} perform_ms={} perform_server_cpu_ms={} restart_ms={}",
        sales * args.per_sale,
        timed[0].0.as_millis(),
        timed[0].1,
        timed[1].0.as_millis(),
        timed[1].1,
        restart.as_millis()
    );
    Ok(())
}
