//! Card payments under chaos (issue 14's acceptance), with the real
//! `raffled` as a process and the fake Stripe (crate `stripe-fake`):
//!
//! - 2,000 card orders from concurrent buyers; a quarter of first attempts
//!   cut by a client timeout and retried with the same Idempotency-Key;
//! - every webhook delivered one to three times, shuffled, some up to two
//!   seconds late (past the close), some signed stale or with a wrong
//!   secret; forged events naming another account, another amount or
//!   live mode, correctly signed;
//! - `raffled` killed with SIGKILL once in the middle and started again;
//! - the raffle closed while payments are in flight, and orders paid after
//!   the close;
//! - one charge of no order, one refund made in Stripe's dashboard, one
//!   capture that fails (the authorisation expired), one dispute lost.
//!
//! Afterwards: tickets issued == payments captured (less the one capture
//! that failed), none captured twice or under another key; no order paid
//! after the close issued, its authorisation released; every tampered
//! delivery refused, every forged event refused and recorded; the three
//! reversals waiting for finance; the reconciliation with Stripe listing
//! exactly the four injected differences; the published log passing
//! `raffle-audit log`.

use raffle_core::store::Store;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stripe_fake::{CARD_OK, Chaos, FakeStripe, Options, sign};
use testkit::app::{drop_database, fresh_database, http};

const ORDERS: usize = 2_000;
const BUYERS: usize = 16;
/// The last orders are bought before the close and paid after it.
const LATE: usize = 40;
/// The order whose capture fails.
const FAILING: usize = 7;
/// A forged event: what raffled must refuse it for, and how it is made
/// from a genuine one.
type Forgery = (&'static str, fn(&mut Value));

/// First attempts the buyers cut short.
static CUT: AtomicUsize = AtomicUsize::new(0);
const PURCHASE: &str = r#"{"package_id":"p3","buyer":{"age_confirmed":true,"region":"CA-ON"},"payment":{"provider":"stripe"}}"#;

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

struct Server {
    addr: String,
    data: std::path::PathBuf,
    url: String,
    stripe: FakeStripe,
}

impl Server {
    async fn spawn(&self) -> tokio::process::Child {
        let o = &self.stripe.options;
        let child = tokio::process::Command::new(testkit::programs::program("raffled"))
            .args(["serve", "--allow-test-payments"])
            .env("DATABASE_URL", &self.url)
            .env("RAFFLE_LISTEN", &self.addr)
            .env("RAFFLE_DATA_DIR", &self.data)
            .env("RAFFLE_PUBLIC_URL", format!("http://{}", self.addr))
            .env("RAFFLE_PAYMENT_PROVIDERS", "stripe")
            .env("RAFFLE_STRIPE_SECRET_KEY", &o.secret_key)
            .env("RAFFLE_STRIPE_ACCOUNT", &o.account)
            .env("RAFFLE_STRIPE_WEBHOOK_SECRETS", &o.webhook_secret)
            .env("RAFFLE_STRIPE_API_BASE", &self.stripe.url)
            .env("RAFFLE_RATE_PURCHASES", "1000000")
            .env("RAFFLE_RATE_SIGN_IN", "1000")
            .env("RAFFLE_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !matches!(
            http(&self.addr, "GET", "/readyz", &[], "").await,
            Ok((200, _))
        ) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "raffled did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child
    }
}

/// A call with a staff token, retried while `raffled` is down.
async fn staff(addr: &str, method: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    for _ in 0..600 {
        if let Ok((status, text)) = http(
            addr,
            method,
            path,
            &[("Authorization", auth.as_str())],
            &body,
        )
        .await
        {
            return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{method} {path}: raffled never answered");
}

/// Makes a user in the store (before `raffled` runs, with the server's
/// secret from the data directory) and signs them in over HTTP; the token.
async fn user(store: &Store, secret: &[u8; 32], addr: &str, name: &str, role: &str) -> String {
    let roles = [raffle_core::Role::parse(role).unwrap()];
    let (mut u, password) = web::app::auth::new_user(name, &roles).unwrap();
    let totp = u.totp_secret.clone();
    u.totp_secret = web::app::auth::seal_totp_with(secret, &totp).unwrap();
    store.create_user(&u).await.unwrap();
    let body = json!({
        "username": name, "password": password,
        "totp": web::app::auth::totp_now(&totp).unwrap(),
    });
    let (status, text) = http(addr, "POST", "/api/v1/sessions", &[], &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 201, "signing in {name}: {text}");
    serde_json::from_str::<Value>(&text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A purchase as an impatient buyer makes it: one first attempt in four is
/// cut after a few milliseconds (a client timeout), and every failure is
/// retried with the same key until the order is made (202).
async fn purchase(addr: &str, raffle: &str, key: &str) -> Value {
    let path = format!("/api/v1/raffles/{raffle}/purchases");
    let deadline = Instant::now() + Duration::from_secs(300);
    for attempt in 0.. {
        assert!(Instant::now() < deadline, "purchase {key} never answered");
        let limit = if attempt == 0 && random_below(4) == 0 {
            CUT.fetch_add(1, Ordering::Relaxed);
            Duration::from_millis(1 + random_below(20))
        } else {
            Duration::from_secs(60)
        };
        let answer = tokio::time::timeout(
            limit,
            http(addr, "POST", &path, &[("Idempotency-Key", key)], PURCHASE),
        )
        .await;
        match answer {
            Ok(Ok((202, body))) => return serde_json::from_str(&body).unwrap(),
            // In progress under the same key, or raffled down or restarting.
            Ok(Ok((409 | 503, _))) | Ok(Err(_)) | Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Ok(Ok((status, body))) => panic!("purchase {key}: {status} {body}"),
        }
    }
    unreachable!()
}

fn session_of(payment_url: &str) -> String {
    payment_url.rsplit('/').next().unwrap().to_string()
}

/// Waits until the fake has delivered everything and raffled has
/// processed every stored event and settled every hold it can.
async fn quiet(stripe: &FakeStripe, store: &Store) {
    assert!(
        stripe.settle(Duration::from_secs(180)).await,
        "the fake's deliveries never settled"
    );
    for _ in 0..1200 {
        let (events, holds): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM payment_events WHERE processed_at IS NULL), \
                    (SELECT count(*) FROM orders WHERE funds = 'authorised')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        if events == 0 && holds == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("raffled never processed every event and settled every hold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_card_orders_under_chaos_and_a_kill_are_paid_exactly_once() {
    let started = Instant::now();
    let phase = |what: &str| {
        eprintln!(
            "card chaos: {:>6.1} s: {what}",
            started.elapsed().as_secs_f64()
        )
    };
    let stripe = FakeStripe::start(Options::test()).await;
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = fresh_database();
    let addr = format!("127.0.0.1:{}", testkit::measure::free_local_port().unwrap());
    stripe.set_endpoint(format!("http://{addr}/api/v1/payments/stripe/webhook"));
    let server = Server {
        addr: addr.clone(),
        data: dir.path().to_path_buf(),
        url: url.clone(),
        stripe: stripe.clone(),
    };
    // Staff, made directly in the store with the data directory's secret.
    let secret = web::app::keys::load_or_create_secret(&dir.path().join("server.secret")).unwrap();
    let store = Store::connect(&url).await.unwrap();
    let child = Arc::new(tokio::sync::Mutex::new(server.spawn().await));
    let manager = user(&store, &secret, &addr, "manager1", "raffle_manager").await;
    let finance = user(&store, &secret, &addr, "finance1", "finance").await;
    let (status, v) = staff(
        &addr,
        "POST",
        "/api/v1/raffles",
        &manager,
        &json!({ "config": testkit::raffles::one_draw(
            testkit::raffles::in_secs(-60),
            testkit::raffles::in_secs(3600),
        ) }),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let (status, v) = staff(
        &addr,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        &manager,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");

    stripe.set_chaos(Chaos {
        max_copies: 3,
        shuffle: true,
        max_delay: Duration::from_secs(2),
        stale_per_mille: 30,
        wrong_secret_per_mille: 30,
    });

    // The buyers: each takes the next order, buys it and (but for the
    // last ones) pays at once.
    let next = Arc::new(AtomicUsize::new(0));
    let paid = Arc::new(AtomicUsize::new(0));
    let bought: Arc<Mutex<HashMap<usize, Value>>> = Arc::default();
    let mut buyers = Vec::new();
    for _ in 0..BUYERS {
        let (next, paid, bought, stripe, addr, raffle) = (
            next.clone(),
            paid.clone(),
            bought.clone(),
            stripe.clone(),
            addr.clone(),
            raffle.clone(),
        );
        buyers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ORDERS {
                    return;
                }
                let key = format!("chaos-order-{i:06}-0000000000000");
                let pending = purchase(&addr, &raffle, &key).await;
                let session = session_of(pending["payment_url"].as_str().unwrap());
                if i < ORDERS - LATE {
                    if i == FAILING {
                        stripe.fail_next_capture(&session);
                    }
                    stripe.pay(&session, CARD_OK).unwrap();
                    paid.fetch_add(1, Ordering::Relaxed);
                }
                bought.lock().unwrap().insert(i, pending);
            }
        }));
    }
    // Halfway through the payments, raffled is killed and started again.
    {
        let (paid, child, server) = (paid.clone(), child.clone(), &server);
        while paid.load(Ordering::Relaxed) < (ORDERS - LATE) / 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut c = child.lock().await;
        c.kill().await.unwrap(); // SIGKILL
        tokio::time::sleep(Duration::from_millis(500)).await;
        *c = server.spawn().await;
    }
    for b in buyers {
        b.await.unwrap();
    }
    phase("bought and paid");
    let bought = bought.lock().unwrap().clone();
    assert_eq!(bought.len(), ORDERS);
    assert!(CUT.load(Ordering::Relaxed) > 0, "no attempt was cut short");

    phase("killed, restarted, all bought");
    // Forged events, signed with the endpoint's secret (as an insider who
    // stole it would): each names an order's genuine session but another
    // account, amount or mode. Each is stored, refused and recorded.
    let webhook_secret = stripe.options.webhook_secret.clone();
    let now = raffle_core::Timestamp::now().as_secs();
    let forgeries: [Forgery; 3] = [
        ("another account", |e| {
            e["account"] = json!("acct_someone_else")
        }),
        ("amount or currency", |e| {
            e["data"]["object"]["amount_total"] = json!(1)
        }),
        ("livemode", |e| e["livemode"] = json!(true)),
    ];
    let mut forged = Vec::new();
    for (n, (want, change)) in forgeries.iter().enumerate() {
        let session = session_of(bought[&(100 + n)]["payment_url"].as_str().unwrap());
        let id = format!("evt_chaos_forged_{n:010}");
        let mut event = json!({
            "id": id, "object": "event", "type": "checkout.session.completed",
            "livemode": false, "created": now,
            "data": { "object": stripe.object(&session).unwrap() },
        });
        change(&mut event);
        let body = event.to_string();
        let status = stripe
            .deliver_raw(&body, &sign(&webhook_secret, now, &body))
            .await
            .unwrap();
        assert_eq!(status, 200, "a forged event is stored, then refused");
        forged.push((id, *want));
    }

    phase("forged events sent");
    // A charge made outside raffled while the raffle is on sale (a payment
    // link in Stripe's dashboard).
    let unknown = stripe.unknown_charge(1234, "cad");

    // The raffle closes while deliveries are still in flight; the last
    // buyers pay after it (or find their payment page closed).
    let (status, v) = staff(
        &addr,
        "POST",
        &format!("/api/v1/raffles/{raffle}/close"),
        &manager,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let mut paid_late = 0;
    for i in ORDERS - LATE..ORDERS {
        if stripe
            .pay(
                &session_of(bought[&i]["payment_url"].as_str().unwrap()),
                CARD_OK,
            )
            .is_ok()
        {
            paid_late += 1;
        }
    }
    assert!(paid_late > 0, "nobody paid after the close");
    phase("late payments made");
    quiet(&stripe, &store).await;

    // Money moved outside the orders' flow.
    let order_of = |i: usize| bought[&i]["order_id"].as_str().unwrap().to_string();
    let intent_of = |order: &str| {
        let order = order.to_string();
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT payment_intent FROM orders WHERE id = $1::uuid",
            )
            .bind(order)
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .unwrap()
        }
    };
    let sold: BTreeSet<String> =
        sqlx::query_scalar("SELECT id::text FROM sales WHERE raffle_id = $1::uuid")
            .bind(&raffle)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    // Two issued sales: one refunded in the dashboard, one disputed and lost.
    let mut issued = (200..ORDERS).filter(|i| sold.contains(&order_of(*i)));
    let (refunded, disputed) = (issued.next().unwrap(), issued.next().unwrap());
    stripe
        .dashboard_refund(&intent_of(&order_of(refunded)).await)
        .unwrap();
    let dispute = stripe
        .open_dispute(&intent_of(&order_of(disputed)).await)
        .unwrap();
    stripe.close_dispute(&dispute, false).unwrap();
    quiet(&stripe, &store).await;

    phase("injected and quiet");
    // One session per order, one order per key.
    let orders: BTreeSet<String> = (0..ORDERS).map(order_of).collect();
    assert_eq!(orders.len(), ORDERS, "an order per buyer");
    assert_eq!(stripe.sessions().len(), ORDERS, "a session per order");
    let in_db: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE raffle_id = $1::uuid")
        .bind(&raffle)
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(
        in_db as usize, ORDERS,
        "retried purchases made no order twice"
    );

    // Tickets issued == payments captured; none captured twice or under
    // another key; nothing issued that was paid after the close.
    let intents = stripe.payment_intents();
    let captured: Vec<&Value> = intents
        .iter()
        .filter(|pi| pi["amount_received"].as_i64().unwrap_or(0) > 0)
        .filter(|pi| pi["metadata"]["order_id"].is_string())
        .collect();
    let failing = order_of(FAILING);
    assert!(
        sold.contains(&failing),
        "the failing capture's ticket was issued"
    );
    assert_eq!(
        sold.len(),
        captured.len() + 1,
        "tickets issued == payments captured (and the one capture that failed)"
    );
    for pi in &captured {
        let order = pi["metadata"]["order_id"].as_str().unwrap();
        assert!(sold.contains(order), "{order} captured but not issued");
        assert_eq!(pi["amount_received"], 1000, "{order}");
    }
    for pi in &intents {
        let Some(order) = pi["metadata"]["order_id"].as_str() else {
            continue;
        };
        if !sold.contains(order) {
            assert_eq!(
                (pi["status"].as_str(), pi["amount_received"].as_i64()),
                (Some("canceled"), Some(0)),
                "order {order} was not issued: its authorisation is released"
            );
        }
    }
    let mut capture_keys: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (method, path, key) in stripe.requests() {
        if method == "POST" && path.ends_with("/capture") {
            capture_keys
                .entry(path.clone())
                .or_default()
                .insert(key.unwrap_or_default());
        }
    }
    let order_of_intent: HashMap<String, String> = intents
        .iter()
        .filter_map(|pi| {
            Some((
                pi["id"].as_str()?.to_string(),
                pi["metadata"]["order_id"].as_str()?.to_string(),
            ))
        })
        .collect();
    for (path, keys) in &capture_keys {
        let pi = path.split('/').nth(3).unwrap();
        let order = &order_of_intent[pi];
        assert_eq!(
            keys.iter().collect::<Vec<_>>(),
            [&format!("order:{order}:capture")],
            "{path} captured under another key"
        );
    }
    for i in ORDERS - LATE..ORDERS {
        assert!(
            !sold.contains(&order_of(i)),
            "order {i}, paid after the close, was issued"
        );
    }
    let not_issued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE raffle_id = $1::uuid \
         AND status NOT IN ('cancelled', 'refunded') AND id NOT IN (SELECT id FROM sales)",
    )
    .bind(&raffle)
    .fetch_one(&store.pool)
    .await
    .unwrap();
    assert_eq!(
        not_issued, 0,
        "every order is issued, cancelled or refunded"
    );

    // Every tampered delivery refused, none accepted; every forgery
    // refused and recorded as a significant event.
    let (refused, accepted) = stripe.tampered();
    assert_eq!(
        accepted, 0,
        "a stale or wrongly signed delivery was accepted"
    );
    assert!(refused > 0, "the chaos signed nothing wrongly");
    for (id, want) in &forged {
        let outcome: Option<String> =
            sqlx::query_scalar("SELECT outcome FROM payment_events WHERE id = $1")
                .bind(id)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        let outcome = outcome.unwrap_or_default();
        assert!(
            outcome.starts_with("refused") && outcome.contains(want),
            "{id}: {outcome}"
        );
        let recorded: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE component = 'payment' AND kind = 'mismatch' \
             AND detail->>'event' = $1",
        )
        .bind(id)
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(recorded, 1, "{id} recorded once");
    }

    // The reversals wait for finance.
    let (status, list) = staff(
        &addr,
        "GET",
        "/api/v1/payments/reversals",
        &finance,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let mut open: Vec<(String, String)> = list["reversals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "open")
        .map(|r| {
            (
                r["cause"].as_str().unwrap().to_string(),
                r["order"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    open.sort();
    let mut want = vec![
        ("capture_failed".to_string(), failing.clone()),
        ("dispute".to_string(), order_of(disputed)),
        ("refunded_outside".to_string(), order_of(refunded)),
    ];
    want.sort();
    assert_eq!(open, want);

    phase("checks done");
    // Reconciliation with Stripe lists exactly the injected differences.
    let (status, v) = staff(
        &addr,
        "POST",
        "/api/v1/payments/stripe/fetch",
        &finance,
        &Value::Null,
    )
    .await;
    assert_eq!(status, 202, "{v}");
    let path = format!("/api/v1/raffles/{raffle}/payments/reconciliation");
    let mut rec = Value::Null;
    for _ in 0..1200 {
        rec = staff(&addr, "GET", &path, &finance, &Value::Null).await.1;
        if rec["latest_fetch"]["id"] == v["fetch"] && !rec["latest_fetch"]["finished_at"].is_null()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rec["latest_fetch"]["id"], v["fetch"],
        "the fetch did not end"
    );
    assert!(
        !rec["latest_fetch"]["finished_at"].is_null(),
        "the fetch did not end"
    );
    assert!(
        rec["latest_fetch"]["error"].is_null(),
        "{}",
        rec["latest_fetch"]
    );
    assert_eq!(rec["fetched"]["id"], v["fetch"]);
    let mut differences: Vec<(String, String)> = rec["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["order"]
                    .as_str()
                    .or(d["payment_intent"].as_str())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    differences.sort();
    let mut want = vec![
        ("disputed".to_string(), order_of(disputed)),
        ("no_order".to_string(), unknown.clone()),
        ("not_captured".to_string(), failing.clone()),
        ("refunded_outside".to_string(), order_of(refunded)),
    ];
    want.sort();
    assert_eq!(differences, want, "{rec}");
    let total = &rec["total"];
    assert_eq!(
        total["sales"].as_str(),
        Some(sold.len().to_string().as_str())
    );
    let charged: i64 = total["stripe"]["charged"]["minor"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(charged, captured.len() as i64 * 1000 + 1234);

    phase("reconciled");
    // The published log passes the regulator's audit.
    child.lock().await.kill().await.unwrap();
    let publications = dir.path().join("publications");
    let vkey = std::fs::read_to_string(publications.join("vkey")).unwrap();
    let out = std::process::Command::new(testkit::programs::program("raffle-audit"))
        .args(["log", publications.to_str().unwrap(), "--vkey", vkey.trim()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "raffle-audit log: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "card chaos: {ORDERS} orders, {} issued, {} captured, {refused} tampered deliveries refused, {} forged events refused",
        sold.len(),
        captured.len(),
        forged.len()
    );
    store.pool.close().await;
    drop_database(&db).await;
}
