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

use raffle_core::Timestamp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::measure::{
    Scratch, administrator_session, bootstrap_administrator, buy_in_closed_loop, call, client,
    expect, one_draw_raffle, open_raffle, process_cpu_us, staff_session, start_server,
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
    let scratch = Scratch::new(&args.database, "raffle_bench_draw")?;
    let admin = bootstrap_administrator(&scratch.raffled, &scratch.env).await?;
    let result = bench(&args, &scratch, &client()?, &admin).await;
    // Tidy up the database whatever happened.
    let _ = testkit::db::drop_database_on(&args.database, &scratch.db).await;
    result
}

async fn bench(
    args: &Args,
    scratch: &Scratch,
    client: &reqwest::Client,
    admin: &Value,
) -> Result<(), String> {
    use reqwest::Method;
    let (raffled, env) = (scratch.raffled.as_path(), scratch.env.as_slice());
    let mut server = start_server(raffled, env, client).await?;
    let base = server.base.clone();
    let admin_token = administrator_session(client, &base, admin).await?;
    let mut tokens = Vec::new();
    for (name, role) in [
        ("manager", "raffle_manager"),
        ("finance1", "finance"),
        ("finance2", "finance"),
    ] {
        tokens.push(staff_session(client, &base, &admin_token, name, role).await?);
    }
    let (manager, fin1, fin2) = (&tokens[0], &tokens[1], &tokens[2]);

    // A 50/50 raffle whose sales end when the numbers should be sold.
    let sales = args.numbers.div_ceil(args.per_sale);
    let selling = Duration::from_secs(15 + sales / 1500);
    let now = Timestamp::now().as_micros();
    let c = one_draw_raffle(
        Timestamp::from_micros(now + selling.as_micros() as i64),
        "p10",
        10,
        2000,
    )?;
    let raffle = open_raffle(client, &base, manager, &c).await?;

    // Buy: 128 buyers in a closed loop.
    let bought = Instant::now();
    let body = json!({
        "package_id": "p10",
        "quantity": args.per_sale / 10,
        "buyer": { "age_confirmed": true, "region": "CA-ON" },
        "payment": { "provider": "test" }
    });
    buy_in_closed_loop(client, &base, &raffle, &body, sales).await?;
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
            format!(
                "{base}/api/v1/approvals/{}",
                v["approval_id"].as_str().unwrap_or_default()
            ),
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
