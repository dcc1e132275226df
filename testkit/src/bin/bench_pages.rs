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

use raffle_core::Timestamp;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use testkit::measure::{
    Scratch, administrator_session, bootstrap_administrator, buy_in_closed_loop, call, client,
    expect, one_draw_raffle, open_raffle, staff_session, start_server,
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
    let scratch = Scratch::new(&args.database, "raffle_bench_pages")?;
    let admin = bootstrap_administrator(&scratch.raffled, &scratch.env).await?;
    let result = bench(&args, &scratch, &client()?, &admin).await;
    let _ = testkit::db::drop_database_on(&args.database, &scratch.db).await;
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
    scratch: &Scratch,
    client: &reqwest::Client,
    admin: &Value,
) -> Result<(), String> {
    let server = start_server(&scratch.raffled, &scratch.env, client).await?;
    let base = server.base.clone();
    let admin_token = administrator_session(client, &base, admin).await?;
    let manager = staff_session(client, &base, &admin_token, "manager", "raffle_manager").await?;

    // A 50/50 raffle on sale for a day: it stays open while it is measured.
    let now = Timestamp::now().as_micros();
    let c = one_draw_raffle(Timestamp::from_micros(now + 86_400_000_000), "p1", 1, 500)?;
    let raffle = open_raffle(client, &base, &manager, &c).await?;

    // The sales: 128 buyers in a closed loop.
    let bought = Instant::now();
    let sales = args.sales;
    let body = json!({
        "package_id": "p1",
        "buyer": { "age_confirmed": true, "region": "CA-ON" },
        "payment": { "provider": "test" }
    });
    buy_in_closed_loop(client, &base, &raffle, &body, sales).await?;
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
            reqwest::Method::GET,
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
