//! Card payments through the fake Stripe (crate `stripe-fake`), with
//! `raffled` listening on a real port for the fake's webhook deliveries:
//! authorised, issued and captured exactly once; refused orders release
//! their authorisation; events are stored once each, and a forged,
//! stale or mismatched one changes nothing; a restart loses nothing.

use axum::http::StatusCode;
use raffle_core::store::orders::Funds;
use serde_json::{Value, json};
use std::time::Duration;
use stripe_fake::{CARD_DECLINED, CARD_OK, Chaos, FakeStripe, Options, sign};
use testkit::app::{call, drop_database, rows};
use testkit::stripe::{CardApp, WEBHOOK, card_app, card_app_with, session_of};

const CARD_PURCHASE: &str = r#"{"package_id":"p3","buyer":{"age_confirmed":true,"region":"CA-ON","email":"buyer@example.org"},"payment":{"provider":"stripe"}}"#;

async fn buy(c: &CardApp, key: &str) -> (StatusCode, Value) {
    let (status, bytes) = testkit::app::request(
        &c.app,
        "POST",
        &format!("/api/v1/raffles/{}/purchases", c.raffle),
        &[("idempotency-key", key)],
        CARD_PURCHASE.to_string(),
    )
    .await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The order's status as its buyer sees it, once it is `want` (or after 10 s).
async fn order_until(c: &CardApp, pending: &Value, want: &str) -> Value {
    let url = pending["order_url"].as_str().unwrap().to_string();
    let token = pending["order_token"].as_str().unwrap().to_string();
    let mut order = Value::Null;
    for _ in 0..200 {
        order = call(&c.app, "GET", &url, Some(&token), Value::Null).await.1;
        if order["status"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    order
}

/// A card order bought, paid with the good card and issued: the purchase's
/// answer (order id, token, payment page).
async fn bought_and_issued(c: &CardApp, key: &str) -> Value {
    let (_, pending) = buy(c, key).await;
    c.stripe
        .pay(
            &session_of(pending["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    assert_eq!(order_until(c, &pending, "issued").await["status"], "issued");
    pending
}

async fn record(c: &CardApp, order: &str) -> raffle_core::store::orders::OrderRecord {
    c.app
        .state
        .store
        .order_record(order)
        .await
        .unwrap()
        .unwrap()
}

/// Waits until every stored event is processed.
async fn processed(c: &CardApp) {
    for _ in 0..200 {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM payment_events WHERE processed_at IS NULL")
                .fetch_one(&c.app.state.store.pool)
                .await
                .unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("events left unprocessed");
}

async fn events_of(c: &CardApp, kind: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT detail FROM events WHERE component = 'payment' AND kind = $1 ORDER BY id",
    )
    .bind(kind)
    .fetch_all(&c.app.state.store.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_is_authorised_issued_and_captured_exactly_once() {
    let c = card_app().await;
    // Every event delivered one to three times, in any order.
    c.stripe.set_chaos(Chaos {
        max_copies: 3,
        shuffle: true,
        max_delay: Duration::from_millis(200),
        ..Chaos::default()
    });
    let (status, pending) = buy(&c, "card-1-0000000000000000").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    let payment_url = pending["payment_url"].as_str().unwrap().to_string();
    assert!(payment_url.starts_with(&c.stripe.url), "{payment_url}");
    // The buyer retries (a timeout, a double click): the same order and page.
    let (status, again) = buy(&c, "card-1-0000000000000000").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["order_id"], pending["order_id"]);
    assert_eq!(again["payment_url"], pending["payment_url"]);
    assert_eq!(c.stripe.sessions().len(), 1, "one session for one order");
    // What raffled asked of Stripe: the order's session, by its key.
    let session = c.stripe.object(&session_of(&payment_url)).unwrap();
    assert_eq!(session["client_reference_id"], order_id.as_str());
    assert_eq!(session["metadata"]["order_id"], order_id.as_str());
    assert_eq!(session["currency"], "cad");
    assert_eq!(session["adaptive_pricing"]["enabled"], false);
    assert_eq!(session["payment_method_types"], json!(["card"]));
    assert_eq!(session["amount_total"], 1000);
    let lifetime = session["expires_at"].as_i64().unwrap() - session["created"].as_i64().unwrap();
    assert!((30 * 60..=32 * 60).contains(&lifetime), "{lifetime}");
    // A declined card changes nothing; the buyer tries another.
    assert!(
        c.stripe
            .pay(&session_of(&payment_url), CARD_DECLINED)
            .is_err()
    );
    let back = c.stripe.pay(&session_of(&payment_url), CARD_OK).unwrap();
    assert_eq!(back, format!("http://{}/orders/{order_id}?lang=en", c.addr));
    let order = order_until(&c, &pending, "issued").await;
    assert_eq!(order["status"], "issued", "{order}");
    assert!(order["receipt"]["validation_number"].is_string());
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    let r = record(&c, &order_id).await;
    assert_eq!(r.funds, Some(Funds::Captured));
    let intents = c.stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(intents[0]["amount_received"], 1000);
    // Each step once, with the order's key.
    let requests = c.stripe.requests();
    let posts: Vec<_> = requests.iter().filter(|(m, _, _)| m == "POST").collect();
    let keys: Vec<Option<String>> = posts.iter().map(|(_, _, k)| k.clone()).collect();
    assert!(keys.iter().all(|k| k.is_some()), "{posts:?}");
    let capture = format!("order:{order_id}:capture");
    assert_eq!(
        keys.iter()
            .filter(|k| k.as_deref() == Some(capture.as_str()))
            .count(),
        1,
        "{posts:?}"
    );
    // Each event stored once, however often delivered.
    let stored = rows(&c.app, "payment_events").await;
    assert_eq!(stored as usize, c.stripe.events().len());
    let deliveries: i64 = sqlx::query_scalar("SELECT sum(deliveries)::bigint FROM payment_events")
        .fetch_one(&c.app.state.store.pool)
        .await
        .unwrap();
    assert!(deliveries >= stored);
    // No personal details kept from the events.
    let personal: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_events WHERE payload::text LIKE '%Test Buyer%' OR payload::text LIKE '%buyer@example.org%'",
    )
    .fetch_one(&c.app.state.store.pool)
    .await
    .unwrap();
    assert_eq!(personal, 0);
    assert_eq!(rows(&c.app, "sales").await, 1);
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_rules_refuse_releases_its_authorisation() {
    let c = card_app().await;
    let (_, pending) = buy(&c, "card-2-0000000000000000").await;
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    // Sales close while the buyer is on Stripe's page.
    c.app
        .state
        .sequencer
        .submit(raffle_core::store::sequencer::Change::CloseRaffle {
            raffle: c.raffle.parse().unwrap(),
            by: raffle_core::ids::StaffId::new_random().unwrap(),
        })
        .await
        .unwrap();
    c.stripe
        .pay(
            &session_of(pending["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    let order = order_until(&c, &pending, "refunded").await;
    assert_eq!(order["status"], "refunded", "{order}");
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    let r = record(&c, &order_id).await;
    assert_eq!(r.funds, Some(Funds::Cancelled));
    let intents = c.stripe.payment_intents();
    assert_eq!(intents[0]["status"], "canceled", "no money moved");
    assert_eq!(intents[0]["amount_received"], 0);
    assert_eq!(rows(&c.app, "sales").await, 0);
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_stored_only_when_its_signature_is_stripes() {
    let c = card_app().await;
    let secret = c.stripe.options.webhook_secret.clone();
    let body = json!({
        "id": "evt_forged_or_not_000000000", "object": "event", "type": "charge.refunded",
        "livemode": false, "created": 1, "data": { "object": { "object": "charge", "id": "ch_1" } },
    })
    .to_string();
    let now = raffle_core::Timestamp::now().as_secs();
    let post = |sig: Option<String>| {
        let body = body.clone();
        let c = &c;
        async move {
            let mut headers: Vec<(&str, String)> = vec![];
            if let Some(s) = sig {
                headers.push(("stripe-signature", s));
            }
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, bytes) = testkit::app::request(&c.app, "POST", WEBHOOK, &h, body).await;
            (status, String::from_utf8_lossy(&bytes).to_string())
        }
    };
    for (sig, want) in [
        (None, "no Stripe-Signature header"),
        (
            Some(sign("whsec_wrong", now, &body)),
            "no v1 signature matches",
        ),
        (
            Some(sign(&secret, now - 301, &body)),
            "outside the 300 s tolerance",
        ),
        (
            Some(sign(&secret, now + 301, &body)),
            "outside the 300 s tolerance",
        ),
        (Some(format!("t={now}")), "no v1 signature"),
        (Some("garbage".into()), "malformed"),
    ] {
        let (status, text) = post(sig).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(rows(&c.app, "payment_events").await, 0, "nothing stored");
    // Genuine: stored once, however often delivered.
    for _ in 0..3 {
        let (status, text) = post(Some(sign(&secret, now, &body))).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let deliveries: i32 = sqlx::query_scalar("SELECT deliveries FROM payment_events")
        .fetch_one(&c.app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 3);
    // A rolled secret: the old and the new are both accepted meanwhile.
    let rolled = card_app_with(FakeStripe::start(Options::test()).await, |config| {
        config
            .stripe
            .webhook_secrets
            .insert(0, web::config::Secret("whsec_new_one".into()))
    })
    .await;
    let old = rolled.stripe.options.webhook_secret.clone();
    for s in ["whsec_new_one".to_string(), old] {
        let (status, _) = testkit::app::request(
            &rolled.app,
            "POST",
            WEBHOOK,
            &[("stripe-signature", &sign(&s, now, &body))],
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // Not JSON, or not an event: 400, nothing stored.
    let junk = "not json";
    let (status, _) = testkit::app::request(
        &rolled.app,
        "POST",
        WEBHOOK,
        &[("stripe-signature", &sign("whsec_new_one", now, junk))],
        junk.into(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(rows(&rolled.app, "payment_events").await, 1);
    drop_database(&rolled.app.db).await;
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_does_not_match_its_order_changes_nothing() {
    let c = card_app().await;
    let (_, pending) = buy(&c, "card-4-0000000000000000").await;
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    let session = session_of(pending["payment_url"].as_str().unwrap());
    let secret = c.stripe.options.webhook_secret.clone();
    let now = raffle_core::Timestamp::now().as_secs();
    let genuine = c.stripe.object(&session).unwrap();
    let forged = |n: u32, change: &dyn Fn(&mut Value)| {
        let mut event = json!({
            "id": format!("evt_mismatch_{n:016}"), "object": "event", "type": "checkout.session.completed",
            "livemode": false, "created": now, "data": { "object": genuine.clone() },
        });
        change(&mut event);
        event.to_string()
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!(forged(1, &|e| e["data"]["object"]["amount_total"] = json!(1))),
            "amount or currency",
        ),
        (
            json!(forged(2, &|e| e["data"]["object"]["currency"] = json!("usd"))),
            "amount or currency",
        ),
        (
            json!(forged(3, &|e| e["livemode"] = json!(true))),
            "livemode",
        ),
        (
            json!(forged(4, &|e| e["account"] = json!("acct_someone_else"))),
            "another account",
        ),
        (
            json!(forged(5, &|e| e["data"]["object"]["id"] = json!("cs_test_other"))),
            "not the order's",
        ),
    ];
    for (body, _) in &cases {
        let body = body.as_str().unwrap();
        let (status, _) = testkit::app::request(
            &c.app,
            "POST",
            WEBHOOK,
            &[("stripe-signature", &sign(&secret, now, body))],
            body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "stored, then refused");
    }
    processed(&c).await;
    let refused = events_of(&c, "mismatch").await;
    for (i, (_, want)) in cases.iter().enumerate() {
        let id = format!("evt_mismatch_{:016}", i + 1);
        let outcome = c
            .app
            .state
            .store
            .payment_event_outcome(&id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            outcome.starts_with("refused") && outcome.contains(want),
            "{id}: {outcome}"
        );
        assert!(
            refused.iter().any(|e| e["event"] == id.as_str()),
            "{id} recorded"
        );
    }
    let r = record(&c, &order_id).await;
    assert_eq!(
        (r.status.as_str(), r.funds),
        ("pending", None),
        "nothing changed"
    );
    // The genuine payment still goes through.
    c.stripe.pay(&session, CARD_OK).unwrap();
    let order = order_until(&c, &pending, "issued").await;
    assert_eq!(order["status"], "issued", "{order}");
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_cancels_its_order_and_an_unknown_charge_is_recorded() {
    let c = card_app().await;
    let (_, pending) = buy(&c, "card-5-0000000000000000").await;
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    // Stripe's clock passes the session's end.
    c.stripe
        .expire_due(raffle_core::Timestamp::now().as_secs() + 3600);
    let order = order_until(&c, &pending, "cancelled").await;
    assert_eq!(order["status"], "cancelled", "{order}");
    // Too late: the page refuses the card.
    assert!(
        c.stripe
            .pay(
                &session_of(pending["payment_url"].as_str().unwrap()),
                CARD_OK
            )
            .is_err()
    );
    // A charge no order made (a payment link in the dashboard).
    let pi = c.stripe.unknown_charge(2500, "cad");
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    let unknown = events_of(&c, "unknown_charge").await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(unknown[0]["payment_intent"], pi.as_str());
    assert_eq!(record(&c, &order_id).await.status, "cancelled");
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_finds_payments_whose_webhooks_were_lost() {
    let c = card_app().await;
    let (_, pending) = buy(&c, "card-6-0000000000000000").await;
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    // raffled is down while the buyer pays: the deliveries never arrive.
    c.stripe.pause_deliveries();
    c.stripe
        .pay(
            &session_of(pending["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    assert_eq!(record(&c, &order_id).await.status, "pending");
    // What a start does first: every pending order is synced with Stripe.
    let resumed = web::app::payments::resume_unfinished_orders(&c.app.state)
        .await
        .unwrap();
    assert_eq!(resumed, 1);
    let r = record(&c, &order_id).await;
    assert_eq!(r.status, "issued");
    assert_eq!(r.funds, Some(Funds::Captured));
    assert_eq!(c.stripe.payment_intents()[0]["status"], "succeeded");
    // The lost deliveries arrive at last: nothing more happens.
    c.stripe.resume_deliveries();
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    assert_eq!(rows(&c.app, "sales").await, 1);
    let captures = c
        .stripe
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/capture"))
        .count();
    assert_eq!(captures, 1);
    // An order left paid by a crash is issued and captured at start.
    let (_, second) = buy(&c, "card-7-0000000000000000").await;
    let second_id = second["order_id"].as_str().unwrap().to_string();
    c.stripe.pause_deliveries();
    c.stripe
        .pay(
            &session_of(second["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    // Authorised and marked paid, as if the process died before issuing.
    let intent = c
        .stripe
        .payment_intents()
        .into_iter()
        .find(|p| p["metadata"]["order_id"] == second_id.as_str())
        .unwrap();
    c.app
        .state
        .store
        .set_payment_intent(&second_id, intent["id"].as_str().unwrap())
        .await
        .unwrap();
    c.app
        .state
        .store
        .move_funds(&second_id, &[None], Funds::Authorised, None)
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET status = 'paid' WHERE id = $1::uuid")
        .bind(&second_id)
        .execute(&c.app.state.store.pool)
        .await
        .unwrap();
    let resumed = web::app::payments::resume_unfinished_orders(&c.app.state)
        .await
        .unwrap();
    assert!(resumed >= 1);
    let r = record(&c, &second_id).await;
    assert_eq!(
        (r.status.as_str(), r.funds),
        ("issued", Some(Funds::Captured))
    );
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_card_sale_is_refunded_once_and_a_failed_refund_is_retried() {
    let c = card_app().await;
    let finance = testkit::app::signed_in(&c.app, "finance1", &["finance"]).await;
    let admin = testkit::app::signed_in(&c.app, "admin1", &["administrator"]).await;
    let mut sales = Vec::new();
    for key in ["card-8-0000000000000000", "card-9-0000000000000000"] {
        let pending = bought_and_issued(&c, key).await;
        sales.push(pending["order_id"].as_str().unwrap().to_string());
    }
    let void = |sale: String| {
        let c = &c;
        let (f, a) = (finance.token.clone(), admin.token.clone());
        async move {
            let (status, v) = call(
                &c.app,
                "POST",
                &format!("/api/v1/sales/{sale}/void"),
                Some(&f),
                json!({ "raffle_id": c.raffle, "reason": "buyer_request", "refund": true }),
            )
            .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{v}");
            let (status, v) = testkit::app::approve(&c.app, &v, &a).await;
            assert_eq!(status, StatusCode::OK, "{v}");
        }
    };
    // Refunded through Stripe with the order's key.
    void(sales[0].clone()).await;
    let r = record(&c, &sales[0]).await;
    assert_eq!(r.funds, Some(Funds::Refunded));
    let charge = c
        .stripe
        .object(r.payment_intent.as_deref().unwrap())
        .unwrap()["latest_charge"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.stripe.object(&charge).unwrap()["refunded"], true);
    let key = format!("order:{}:refund", sales[0]);
    assert!(
        c.stripe.requests().iter().any(|(m, p, k)| m == "POST"
            && p == "/v1/refunds"
            && k.as_deref() == Some(key.as_str()))
    );
    // Stripe failing: the void stands, the refund stays outstanding and visible...
    c.stripe.fail_next("/v1/refunds", 3);
    void(sales[1].clone()).await;
    let r = record(&c, &sales[1]).await;
    assert_eq!(r.funds, Some(Funds::Captured));
    assert!(r.funds_error.is_some());
    assert_eq!(events_of(&c, "refund_failed").await.len(), 1);
    let outstanding = c.app.state.store.refunds_outstanding().await.unwrap();
    assert_eq!(outstanding.len(), 1);
    // ...and is made when retried, once.
    assert_eq!(
        web::app::payments::retry_refunds(&c.app.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        web::app::payments::retry_refunds(&c.app.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(record(&c, &sales[1]).await.funds, Some(Funds::Refunded));
    let refunds: Vec<_> = c
        .stripe
        .requests()
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p == "/v1/refunds")
        .collect();
    // One for the first sale, three failed and one made for the second.
    assert_eq!(refunds.len(), 5, "{refunds:?}");
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    // Our own refunds are not reversals.
    assert!(events_of(&c, "refunded_outside").await.is_empty());
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversed_payment_waits_for_two_people_and_blocks_its_draws_reconciliation() {
    let c = card_app().await;
    let finance = testkit::app::signed_in(&c.app, "finance1", &["finance"]).await;
    let admin = testkit::app::signed_in(&c.app, "admin1", &["administrator"]).await;
    let mut orders = Vec::new();
    for key in ["card-a-0000000000000000", "card-b-0000000000000000"] {
        let pending = bought_and_issued(&c, key).await;
        orders.push(record(&c, pending["order_id"].as_str().unwrap()).await);
    }
    // One refunded in Stripe's dashboard, one disputed by the buyer's bank.
    c.stripe
        .dashboard_refund(orders[0].payment_intent.as_deref().unwrap())
        .unwrap();
    let dispute = c
        .stripe
        .open_dispute(orders[1].payment_intent.as_deref().unwrap())
        .unwrap();
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    let (status, list) = call(
        &c.app,
        "GET",
        "/api/v1/payments/reversals",
        Some(&finance.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let reversals = list["reversals"].as_array().unwrap().clone();
    assert_eq!(reversals.len(), 2, "{list}");
    let of = |order: &str| {
        reversals
            .iter()
            .find(|r| r["order"] == order)
            .unwrap_or_else(|| panic!("no reversal for {order}: {reversals:?}"))
            .clone()
    };
    let refunded = of(&orders[0].id);
    let disputed = of(&orders[1].id);
    assert_eq!(
        (refunded["cause"].as_str(), refunded["status"].as_str()),
        (Some("refunded_outside"), Some("open"))
    );
    assert_eq!(disputed["cause"], "dispute");
    assert_eq!(
        c.app
            .state
            .store
            .dispute_of(&orders[1].id)
            .await
            .unwrap()
            .as_deref(),
        Some("open")
    );
    // The draws of those sales cannot be reconciled meanwhile.
    let reconcile = || {
        let c = &c;
        let token = finance.token.clone();
        async move {
            call(
                &c.app,
                "POST",
                &format!("/api/v1/raffles/{}/reconciliation", c.raffle),
                Some(&token),
                json!({ "draw": "early-bird" }),
            )
            .await
        }
    };
    let (status, v) = reconcile().await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment_reversals_open")),
        "{v}"
    );
    assert_eq!(v["params"]["count"], "2", "{v}");
    // Finance asks to void the refunded sale; the asker cannot approve it.
    let id = refunded["id"].as_str().unwrap();
    let path = format!("/api/v1/payments/reversals/{id}");
    let (status, request) = call(
        &c.app,
        "POST",
        &path,
        Some(&finance.token),
        json!({ "decision": "void" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let (status, _) = call(
        &c.app,
        "POST",
        &path,
        Some(&finance.token),
        json!({ "decision": "keep" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "one request at a time");
    let (status, _) = testkit::app::approve(&c.app, &request, &finance.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the requester approved it");
    let (status, v) = testkit::app::approve(&c.app, &request, &admin.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "sale.voided");
    assert_eq!(v["entry"]["reason"], "payment_reversed");
    assert_eq!(
        v["entry"]["refund"], false,
        "the money is back with the buyer already"
    );
    // Still one to go.
    let (_, v) = reconcile().await;
    assert_eq!(v["params"]["count"], "1", "{v}");
    // The dispute is won: finance keeps the sale, with a second person.
    c.stripe.close_dispute(&dispute, true).unwrap();
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    assert_eq!(
        c.app
            .state
            .store
            .dispute_of(&orders[1].id)
            .await
            .unwrap()
            .as_deref(),
        Some("won")
    );
    let path = format!(
        "/api/v1/payments/reversals/{}",
        disputed["id"].as_str().unwrap()
    );
    let (status, request) = call(
        &c.app,
        "POST",
        &path,
        Some(&finance.token),
        json!({ "decision": "keep" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let (status, v) = testkit::app::approve(&c.app, &request, &admin.token).await;
    assert_eq!(
        (status, v["kept"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (status, v) = call(
        &c.app,
        "POST",
        &path,
        Some(&finance.token),
        json!({ "decision": "void" }),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("reversal_decided")),
        "{v}"
    );
    // Nothing about the payments waits any more: only the draw's cutoff,
    // a week away (Stripe's books can only be complete after it).
    let (status, v) = reconcile().await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("cutoff_not_passed")),
        "{v}"
    );
    // Each step a significant event.
    assert_eq!(events_of(&c, "reversal_opened").await.len(), 2);
    assert_eq!(events_of(&c, "reversal_kept").await.len(), 1);
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_stripe_could_not_take_blocks_reconciliation_until_it_is_made() {
    let c = card_app().await;
    let finance = testkit::app::signed_in(&c.app, "finance1", &["finance"]).await;
    let (_, pending) = buy(&c, "card-c-0000000000000000").await;
    let order_id = pending["order_id"].as_str().unwrap().to_string();
    // Stripe has a bad minute when raffled captures (every retry, and
    // every try prompted by a later event, fails).
    c.stripe.fail_next("/capture", 1000);
    c.stripe
        .pay(
            &session_of(pending["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    assert_eq!(
        order_until(&c, &pending, "issued").await["status"],
        "issued"
    );
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    assert_eq!(record(&c, &order_id).await.funds, Some(Funds::Authorised));
    // The ticket's money is not taken: its draws cannot be reconciled.
    let reconcile = || {
        let c = &c;
        let token = finance.token.clone();
        async move {
            call(
                &c.app,
                "POST",
                &format!("/api/v1/raffles/{}/reconciliation", c.raffle),
                Some(&token),
                json!({ "draw": "early-bird" }),
            )
            .await
        }
    };
    let (status, v) = reconcile().await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("card_payments_unsettled")),
        "{v}"
    );
    assert!(!c.app.state.store.payment_stands(&order_id).await.unwrap());
    // Stripe is back: the minute's settling captures it, once.
    c.stripe.heal();
    assert_eq!(
        web::app::payments::settle_held_funds(&c.app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(record(&c, &order_id).await.funds, Some(Funds::Captured));
    assert_eq!(
        web::app::payments::settle_held_funds(&c.app.state)
            .await
            .unwrap(),
        0
    );
    assert!(c.app.state.store.payment_stands(&order_id).await.unwrap());
    let (status, v) = reconcile().await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("cutoff_not_passed")),
        "only the cutoff waits now: {v}"
    );
    let succeeded = c.stripe.payment_intents()[0]["status"].clone();
    assert_eq!(succeeded, "succeeded");
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_lets_its_forms_lead_to_the_payment_page_and_nowhere_else() {
    let c = card_app().await;
    let resp = reqwest_free_get(&c.addr, &format!("/raffles/{}", c.raffle)).await;
    let csp = resp
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.trim_end()
            .ends_with(&format!("form-action 'self' {}", c.stripe.url)),
        "{csp}"
    );
    assert_eq!(csp.matches("form-action").count(), 1, "{csp}");
    drop_database(&c.app.db).await;
}

/// A raw GET over HTTP/1.1: the head and body as text.
async fn reqwest_free_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).to_string()
}

/// A raffle on sale until `secs` seconds from now, one draw (`main`) cut
/// off at its end, opened (for the fake's account); its id.
async fn short_raffle(c: &CardApp, manager: &str, secs: i64) -> (String, i64) {
    use testkit::raffles::{in_secs, one_draw};
    let end = in_secs(secs);
    let (status, v) = call(
        &c.app,
        "POST",
        "/api/v1/raffles",
        Some(manager),
        json!({ "config": one_draw(in_secs(-60), end) }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let (status, v) = call(
        &c.app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(manager),
        Value::Null,
    )
    .await;
    assert!(status.is_success(), "{v}");
    (raffle, end.as_micros())
}

/// A card order bought from `raffle` and paid with the good card; its
/// purchase answer, once issued.
async fn paid_in(c: &CardApp, raffle: &str, key: &str, failing_capture: bool) -> Value {
    let (status, bytes) = testkit::app::request(
        &c.app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", key)],
        CARD_PURCHASE.to_string(),
    )
    .await;
    let pending: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    let session = session_of(pending["payment_url"].as_str().unwrap());
    if failing_capture {
        c.stripe.fail_next_capture(&session);
    }
    c.stripe.pay(&session, CARD_OK).unwrap();
    assert_eq!(order_until(c, &pending, "issued").await["status"], "issued");
    pending
}

/// Requests (as `by`) and approves (as `approver`) something needing two people.
async fn two_people(c: &CardApp, path: &str, by: &str, approver: &str, body: Value) -> Value {
    let (status, request) = call(&c.app, "POST", path, Some(by), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{path}: {request}");
    let (status, v) = testkit::app::approve(&c.app, &request, approver).await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    v
}

/// Fetches Stripe's books as `finance` and waits for the fetch to end;
/// the raffle's card reconciliation then.
async fn fetched(c: &CardApp, raffle: &str, finance: &str) -> Value {
    let (status, v) = call(
        &c.app,
        "POST",
        "/api/v1/payments/stripe/fetch",
        Some(finance),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let id = v["fetch"].clone();
    for _ in 0..400 {
        let (status, rec) = call(
            &c.app,
            "GET",
            &format!("/api/v1/raffles/{raffle}/payments/reconciliation"),
            Some(finance),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{rec}");
        if rec["latest_fetch"]["id"] == id && !rec["latest_fetch"]["finished_at"].is_null() {
            assert!(rec["latest_fetch"]["error"].is_null(), "{rec}");
            assert_eq!(rec["fetched"]["id"], id, "{rec}");
            return rec;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the fetch did not end");
}

fn minor(v: &Value) -> i64 {
    v["minor"].as_str().unwrap().parse().unwrap()
}

/// (kind, order) of each listed difference, sorted.
fn differences(rec: &Value) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = rec["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["order"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    d.sort();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_with_stripe_lists_exactly_the_differences_by_order() {
    // GLI-31 2.6.3: finance compares every card sale, void and refund with
    // Stripe's books before acknowledging a draw's reconciliation.
    let c = card_app().await;
    let manager = testkit::app::signed_in(&c.app, "manager1", &["raffle_manager"]).await;
    let finance = testkit::app::signed_in(&c.app, "finance1", &["finance"]).await;
    // The example raffle's approvers are finance: a second one approves.
    let finance2 = testkit::app::signed_in(&c.app, "finance2", &["finance"]).await;
    let auditor = testkit::app::signed_in(&c.app, "auditor1", &["auditor"]).await;
    let (raffle, end) = short_raffle(&c, &manager.token, 20).await;
    // Five card sales: one that stands, one voided with a refund, one
    // refunded in Stripe's dashboard, one whose capture fails (its
    // authorisation expired), one disputed and lost.
    let mut orders = Vec::new();
    for i in 0..5 {
        let key = format!("recon-{i}-00000000000000000000");
        orders.push(paid_in(&c, &raffle, &key, i == 3).await);
    }
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    let id = |i: usize| orders[i]["order_id"].as_str().unwrap().to_string();
    let mut intents = Vec::new();
    for i in 0..5 {
        intents.push(record(&c, &id(i)).await.payment_intent.unwrap());
    }
    assert_eq!(record(&c, &id(3)).await.funds, Some(Funds::CaptureFailed));
    two_people(
        &c,
        &format!("/api/v1/sales/{}/void", id(1)),
        &finance.token,
        &finance2.token,
        json!({ "raffle_id": raffle, "reason": "buyer_request", "refund": true }),
    )
    .await;
    c.stripe.dashboard_refund(&intents[2]).unwrap();
    let dispute = c.stripe.open_dispute(&intents[4]).unwrap();
    c.stripe.close_dispute(&dispute, false).unwrap();
    // A charge made outside raffled (a payment link in the dashboard).
    let unknown = c.stripe.unknown_charge(777, "cad");
    assert!(c.stripe.settle(Duration::from_secs(10)).await);
    processed(&c).await;
    // Everything so far is paid out to the bank.
    let payout = c.stripe.payout().unwrap();

    // Before the draw's cutoff: the differences, exactly those injected.
    let rec = fetched(&c, &raffle, &finance.token).await;
    assert_eq!(
        differences(&rec),
        [
            ("disputed".to_string(), id(4)),
            ("no_order".to_string(), "-".to_string()),
            ("not_captured".to_string(), id(3)),
            ("refunded_outside".to_string(), id(2)),
        ],
        "{rec}"
    );
    let no_order = rec["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "no_order")
        .unwrap();
    assert_eq!(no_order["payment_intent"], unknown.as_str());
    assert_eq!(minor(&no_order["stripe"]), 777);
    // The totals, ours and Stripe's (fees: 2.9% + 30 a charge, 15.00 a dispute).
    let total = &rec["total"];
    assert_eq!(total["sales"], "5");
    assert_eq!(minor(&total["sold"]), 5000);
    assert_eq!(total["refunds"], "1");
    assert_eq!(minor(&total["refunded"]), 1000);
    let stripe = &total["stripe"];
    assert_eq!(minor(&stripe["charged"]), 4 * 1000 + 777);
    assert_eq!(minor(&stripe["refunded"]), 2000);
    assert_eq!(minor(&stripe["disputed"]), 1000);
    let fees = 4 * 59 + 53 + 1500;
    assert_eq!(minor(&stripe["fees"]), fees);
    let net = 4777 - fees - 2000 - 1000;
    assert_eq!(minor(&stripe["net"]), net);
    // Per day: the days add up to the total.
    let days = rec["days"].as_array().unwrap();
    assert!(!days.is_empty());
    let sum: i64 = days.iter().map(|d| minor(&d["stripe"]["net"])).sum();
    assert_eq!(sum, net);
    // The payout carried all of it.
    assert_eq!(rec["payouts"].as_array().unwrap().len(), 1, "{rec}");
    assert_eq!(rec["payouts"][0]["id"], payout.as_str());
    assert_eq!(minor(&rec["payouts"][0]["raffle_share"]), net);
    assert_eq!(minor(&rec["not_paid_out"]), 0);
    // Auditors read it; raffle managers do not.
    let path = format!("/api/v1/raffles/{raffle}/payments/reconciliation");
    let (status, _) = call(&c.app, "GET", &path, Some(&auditor.token), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&c.app, "GET", &path, Some(&manager.token), Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&c.app, "GET", &path, None, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The console's reconciliation page shows the same to finance.
    let cookie = format!("raffle_session={}", finance.token);
    let (status, html) = testkit::app::request(
        &c.app,
        "GET",
        &format!("/console/raffles/{raffle}/draws/main/reconciliation?lang=en"),
        &[("cookie", &cookie)],
        String::new(),
    )
    .await;
    let html = String::from_utf8(html).unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    for shown in [
        "id=\"card-days\"",
        "id=\"card-payouts\"",
        "Money for no order of ours",
        "Sold but not captured",
        "Refunded outside raffled",
        &id(3),
        &unknown,
        &payout,
        "name=\"reason\"",
        "/reconciliation/fetch",
    ] {
        assert!(html.contains(shown), "{shown} is not on the page");
    }

    // After the cutoff. Finance decides the reversals: the dashboard refund
    // and the failed capture are voided, the lost dispute kept.
    let now = raffle_core::Timestamp::now().as_micros();
    tokio::time::sleep(Duration::from_micros((end - now).max(0) as u64 + 300_000)).await;
    let (_, list) = call(
        &c.app,
        "GET",
        "/api/v1/payments/reversals",
        Some(&finance.token),
        Value::Null,
    )
    .await;
    for r in list["reversals"].as_array().unwrap() {
        let decision = if r["order"] == id(4).as_str() {
            "keep"
        } else {
            "void"
        };
        two_people(
            &c,
            &format!("/api/v1/payments/reversals/{}", r["id"].as_str().unwrap()),
            &finance.token,
            &finance2.token,
            json!({ "decision": decision }),
        )
        .await;
    }
    let reconcile = |reason: Option<&str>| {
        let mut body = json!({ "draw": "main" });
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        let (c, token, raffle) = (&c, finance.token.clone(), raffle.clone());
        async move {
            call(
                &c.app,
                "POST",
                &format!("/api/v1/raffles/{raffle}/reconciliation"),
                Some(&token),
                body,
            )
            .await
        }
    };
    // Stripe's books were last fetched before the cutoff: not enough.
    let (status, v) = reconcile(None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("card_books_stale")),
        "{v}"
    );
    let rec = fetched(&c, &raffle, &finance.token).await;
    // The voided reversals match now; the kept sale's difference is
    // explained by finance's decision; the unknown charge is not.
    assert_eq!(
        differences(&rec),
        [
            ("disputed".to_string(), id(4)),
            ("no_order".to_string(), "-".to_string()),
        ],
        "{rec}"
    );
    let explained: Vec<bool> = rec["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["explained"].as_bool().unwrap())
        .collect();
    assert_eq!(explained.iter().filter(|e| **e).count(), 1, "{rec}");
    let (status, v) = reconcile(None).await;
    assert_eq!(
        (status, v["code"].as_str(), v["params"]["count"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("card_differences_unexplained"),
            Some("1")
        ),
        "{v}"
    );
    let (status, v) = reconcile(Some("   ")).await;
    assert_eq!(status, StatusCode::CONFLICT, "a blank reason is none: {v}");
    let (status, v) = reconcile(Some(&"x".repeat(2001))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let reason = "7.77 CAD is the gala's payment link, taken outside the raffle";
    let (status, request) = reconcile(Some(reason)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let approval = request["approval_id"].as_str().unwrap();
    let payload: Value = sqlx::query_scalar("SELECT payload FROM approvals WHERE id = $1::uuid")
        .bind(approval)
        .fetch_one(&c.app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(payload["reason"], reason);
    assert_eq!(
        payload["card_differences"],
        json!([format!("no_order:{unknown}")]),
        "what the reason explains, listed for the approver"
    );
    // Before it is approved, a sale is voided with a refund that Stripe
    // fails to make: a new difference nobody explained. The approval is
    // refused (and ends: it must be asked for again).
    c.stripe.fail_next("/refunds", 1000);
    two_people(
        &c,
        &format!("/api/v1/sales/{}/void", id(0)),
        &finance.token,
        &finance2.token,
        json!({ "raffle_id": raffle, "reason": "buyer_request", "refund": true }),
    )
    .await;
    let rec = fetched(&c, &raffle, &finance.token).await;
    assert!(
        differences(&rec).contains(&("refund_missing".to_string(), id(0))),
        "{rec}"
    );
    let (status, v) = testkit::app::approve(&c.app, &request, &finance2.token).await;
    assert_eq!(
        (status, v["code"].as_str(), v["params"]["count"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("card_differences_unexplained"),
            Some("1")
        ),
        "{v}"
    );
    let (status, _) = testkit::app::approve(&c.app, &request, &finance2.token).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the refused approval has ended"
    );
    // Stripe recovers, the refund is made, and the acknowledgement goes through.
    c.stripe.heal();
    assert_eq!(
        web::app::payments::retry_refunds(&c.app.state)
            .await
            .unwrap(),
        0,
        "none outstanding"
    );
    fetched(&c, &raffle, &finance.token).await;
    let (status, request) = reconcile(Some(reason)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    let (status, v) = testkit::app::approve(&c.app, &request, &finance2.token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "reconciliation.acknowledged");
    // The reason stays in the database: the log holds the figures only.
    assert!(v["entry"].get("reason").is_none(), "{v}");
    drop_database(&c.app.db).await;
}
