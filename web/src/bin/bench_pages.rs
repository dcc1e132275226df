//! `bench-pages [--sales N] [--requests R]`: the public raffle page of an
//! open raffle with N sales (default 1,000,000), served by `raffled`. It
//! starts `raffled serve` on a fresh database, creates a raffle manager, an
//! open 50/50 raffle and N sales of one number each over HTTP, then asks
//! for the raffle page, its live jackpot, the raffle list and the
//! manager's console page of the raffle R times each (default 300, one at
//! a time after 20 unmeasured), timing the first byte (the response's
//! head; each page is sent in one piece) and counting the bytes
//! transferred (head and body), and what a first visit to the raffle page
//! transfers with its stylesheet and script. Ends with one line:
//!
//! `sales=N raffle_page_bytes=B raffle_page_ttfb_p50_ms=X raffle_page_ttfb_p99_ms=X jackpot_bytes=B jackpot_ttfb_p50_ms=X jackpot_ttfb_p99_ms=X list_bytes=B list_ttfb_p50_ms=X list_ttfb_p99_ms=X console_raffle_bytes=B console_raffle_ttfb_p50_ms=X console_raffle_ttfb_p99_ms=X raffle_page_first_visit_bytes=B`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use raffle_core::entry::{Body, Package, examples};
use raffle_core::{Money, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use web::measure::{
    bootstrap_administrator, call, drop_database, expect, free_local_port, sign_in, start_server,
};

/// Page weight and first byte with many sales.
#[derive(clap::Parser)]
#[command(name = "bench-pages")]
struct Args {
    /// Sales of the open raffle (one draw number each).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    sales: u64,
    /// Requests timed per page.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    requests: u64,
    /// The PostgreSQL server, without a database (a scratch one is made).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database: String,
}

#[tokio::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Err(e) = run(args).await {
        eprintln!("bench-pages: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let raffled = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("raffled");
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = format!("raffle_bench_pages_{}", std::process::id());
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
    drop_database(&args.database, &db).await;
    result
}

/// Bytes and first-byte times (ms, sorted) of `requests` GETs of `url`.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    requests: u64,
) -> Result<(usize, Vec<f64>), String> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..requests + 20 {
        let mut req = client.get(url).header("accept-language", "en");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let t = Instant::now();
        let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let ttfb = t.elapsed();
        if !resp.status().is_success() {
            return Err(format!("{url}: {}", resp.status()));
        }
        // The head as sent: status line, headers, blank line.
        let head: usize = 17
            + resp
                .headers()
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 4)
                .sum::<usize>()
            + 2;
        let body = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        bytes = head + body.len();
        if i >= 20 {
            times.push(ttfb.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((bytes, times))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

async fn bench(
    args: &Args,
    raffled: &std::path::Path,
    env: &[(&str, String)],
    client: &reqwest::Client,
    admin: &Value,
) -> Result<(), String> {
    use reqwest::Method;
    let server = start_server(raffled, env, client).await?;
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
    let u = expect(
        "creating the manager",
        201,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/users"),
            Some(&admin_token),
            json!({ "username": "manager", "roles": ["raffle_manager"] }),
        )
        .await,
    )
    .await?;
    let manager = sign_in(
        client,
        &base,
        "manager",
        &s(&u, "password"),
        &s(&u, "totp_secret"),
    )
    .await?;

    // A 50/50 raffle on sale for a day: it stays open while it is measured.
    let Some(Body::RaffleCreated(example)) = examples().into_iter().nth(1).map(|e| e.body) else {
        return Err("the schema's examples have no raffle.created".into());
    };
    let mut c = example.config;
    let now = Timestamp::now().as_micros();
    c.sales_start = Timestamp::from_micros(now - 1_000_000);
    c.sales_end = Timestamp::from_micros(now + 86_400_000_000);
    c.draws.truncate(1);
    c.draws[0].id = "main".into();
    c.draws[0].cutoff = c.sales_end;
    c.draws[0].draw_at = c.sales_end;
    c.max_tickets = None;
    c.packages = vec![Package {
        id: "p1".into(),
        tickets: 1,
        price: Money::new(500, c.packages[0].price.currency),
    }];
    let v = expect(
        "creating the raffle",
        201,
        call(
            client,
            Method::POST,
            format!("{base}/api/v1/raffles"),
            Some(&manager),
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
            Some(&manager),
            Value::Null,
        )
        .await,
    )
    .await?;

    // The sales: 128 buyers in a closed loop.
    let bought = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let url = Arc::new(format!("{base}/api/v1/raffles/{raffle}/purchases"));
    let body = Arc::new(
        json!({
            "package_id": "p1",
            "buyer": { "age_confirmed": true, "region": "CA-ON" },
            "payment": { "provider": "test" }
        })
        .to_string(),
    );
    let sales = args.sales;
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
    eprintln!(
        "bench-pages: {sales} sales in {:.1} s",
        bought.elapsed().as_secs_f64()
    );
    // Let the last batches settle before timing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sold = expect(
        "reading the raffle",
        200,
        call(
            client,
            Method::GET,
            format!("{base}/api/v1/raffles/{raffle}"),
            None,
            Value::Null,
        )
        .await,
    )
    .await?;
    if sold["numbers_sold"].as_str() != Some(&sales.to_string()) {
        return Err(format!(
            "the raffle has {} numbers sold",
            sold["numbers_sold"]
        ));
    }

    let session = format!("raffle_session={manager}");
    let mut line = format!("sales={sales}");
    for (name, path, cookie) in [
        ("raffle_page", format!("/raffles/{raffle}"), None),
        ("jackpot", format!("/raffles/{raffle}/jackpot"), None),
        ("list", "/".to_string(), None),
        (
            "console_raffle",
            format!("/console/raffles/{raffle}"),
            Some(session.as_str()),
        ),
    ] {
        let (bytes, times) =
            measure(client, &format!("{base}{path}"), cookie, args.requests).await?;
        line.push_str(&format!(
            " {name}_bytes={bytes} {name}_ttfb_p50_ms={:.2} {name}_ttfb_p99_ms={:.2}",
            quantile(&times, 0.5),
            quantile(&times, 0.99)
        ));
    }
    // What a first visit to the raffle page transfers: the page, its
    // stylesheet and its one script (the QR code is inline; no images).
    let mut total = 0;
    for path in [
        format!("/raffles/{raffle}"),
        "/static/site.css".into(),
        "/static/live.js".into(),
    ] {
        total += measure(client, &format!("{base}{path}"), None, 1).await?.0;
    }
    line.push_str(&format!(" raffle_page_first_visit_bytes={total}"));
    println!("{line}");
    Ok(())
}
