//! Production-safe by default (issue 11): each hole an attacker's review
//! found, tried the way an attacker would, in-process against the real
//! PostgreSQL and publication directory.

use testkit::app as common;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use common::{App, PURCHASE, app, drop_database};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// One request through the router as if from `peer` (its TCP address).
async fn from(
    app: &App,
    peer: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String, axum::http::HeaderMap) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("host", "raffles.example");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(axum::body::Body::from(body.to_string())).unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = web::router(app.state.clone()).oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into(), headers)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Every sale id the published log holds, read from its tiles as anyone can.
fn published_sale_ids(app: &App) -> Vec<String> {
    let size = transparency::Checkpoint::parse_text(
        app.state.sequencer.latest_checkpoint().unwrap().text(),
    )
    .unwrap()
    .size;
    let storage =
        transparency::store::DirStorage::new(app.state.config.publications_dir(), false).unwrap();
    (0..size)
        .filter_map(|i| {
            let bytes = transparency::store::read_entry(&storage, i, size).unwrap();
            match raffle_core::entry::Entry::parse(&bytes).unwrap().body {
                raffle_core::entry::Body::Sale(s) => Some(s.sale.into()),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sale_ids_harvested_from_the_log_open_no_validation_number() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let buy = format!("/api/v1/raffles/{raffle}/purchases");
    let mut numbers = Vec::new();
    for i in 0..3 {
        let key = format!("harvest-{i}-0000000000000000");
        let (status, body, _) = from(
            &app,
            "198.51.100.1",
            "POST",
            &buy,
            &[("idempotency-key", &key)],
            PURCHASE,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        numbers.push(
            json_of(&body)["validation_number"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let later = PURCHASE.replace(
        r#""provider":"test""#,
        r#""provider":"test","confirm":"later""#,
    );
    let (status, body, _) = from(&app, "198.51.100.1", "POST", &buy, &[], &later).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let pending = json_of(&body);
    let bearer = format!("Bearer {}", pending["order_token"].as_str().unwrap());
    let url = pending["order_url"].as_str().unwrap().to_string();
    let mut order = Value::Null;
    for _ in 0..50 {
        order = json_of(
            &from(
                &app,
                "198.51.100.1",
                "GET",
                &url,
                &[("authorization", &bearer)],
                "",
            )
            .await
            .1,
        );
        if order["status"] == "issued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    numbers.push(
        order["receipt"]["validation_number"]
            .as_str()
            .unwrap()
            .to_string(),
    );

    let ids = published_sale_ids(&app);
    assert_eq!(ids.len(), 4);
    let forged = format!("Bearer {}", web::app::auth::random_token::<16>().unwrap());
    for id in &ids {
        for (path, headers) in [
            (format!("/api/v1/orders/{id}"), vec![]),
            (
                format!("/api/v1/orders/{id}"),
                vec![("authorization", forged.as_str())],
            ),
            (
                format!("/api/v1/orders/{id}"),
                vec![("authorization", "Bearer ")],
            ),
            (format!("/orders/{id}"), vec![]),
            (
                format!("/orders/{id}"),
                vec![("cookie", "raffle_order_x=y")],
            ),
            (format!("/sales/{id}/receipt.tlog-proof"), vec![]),
        ] {
            let (status, body, _) = from(&app, "203.0.113.66", "GET", &path, &headers, "").await;
            assert!(
                status.is_client_error() || status.is_success(),
                "{path}: {status}"
            );
            for vn in &numbers {
                assert!(
                    !body.contains(vn.as_str()),
                    "{path} gave away a validation number"
                );
            }
        }
    }
    // The order answers 401 without a token and 404 with a wrong one,
    // whether or not the order exists.
    let (status, _, _) = from(
        &app,
        "203.0.113.66",
        "GET",
        &format!("/api/v1/orders/{}", ids[0]),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let unknown = raffle_core::ids::new_order_id();
    let (s1, b1, _) = from(
        &app,
        "203.0.113.66",
        "GET",
        &format!("/api/v1/orders/{}", ids[0]),
        &[("authorization", &forged)],
        "",
    )
    .await;
    let (s2, b2, _) = from(
        &app,
        "203.0.113.66",
        "GET",
        &format!("/api/v1/orders/{unknown}"),
        &[("authorization", &forged)],
        "",
    )
    .await;
    assert_eq!(
        (s1, common::but_request_id(&b1)),
        (s2, common::but_request_id(&b2))
    );
    assert_eq!(s1, StatusCode::NOT_FOUND);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_must_carry_128_bits_and_replays_stay_bound_to_it() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let buy = format!("/api/v1/raffles/{raffle}/purchases");
    for short in [
        "1",
        "guessable-key",
        "abcdefghijklmnopqrstu",
        "has space in it 0123456789",
    ] {
        let (status, body, _) = from(
            &app,
            "198.51.100.1",
            "POST",
            &buy,
            &[("idempotency-key", short)],
            PURCHASE,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{short}: {body}");
        assert!(body.contains("at least 128 bits"), "{body}");
    }
    let key = "0b2f6c1e-7d3a-4c55-9e10-2f8a6b4d9c01";
    let (status, first, _) = from(
        &app,
        "198.51.100.1",
        "POST",
        &buy,
        &[("idempotency-key", key)],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Another client, the same key and body: the same answer (the key is
    // the capability); another body: refused, nothing replayed.
    let (status, again, _) = from(
        &app,
        "203.0.113.66",
        "POST",
        &buy,
        &[("idempotency-key", key)],
        PURCHASE,
    )
    .await;
    assert_eq!(
        (status, json_of(&again)),
        (StatusCode::CREATED, json_of(&first))
    );
    let other = PURCHASE.replace("CA-ON\"}", "CA-ON\",\"email\":\"x@example.org\"}");
    let (status, refused, _) = from(
        &app,
        "203.0.113.66",
        "POST",
        &buy,
        &[("idempotency-key", key)],
        &other,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(!refused.contains(json_of(&first)["validation_number"].as_str().unwrap()));
    // Every API answer carrying a secret is no-store.
    let (_, _, headers) = from(
        &app,
        "203.0.113.66",
        "POST",
        &buy,
        &[("idempotency-key", key)],
        PURCHASE,
    )
    .await;
    assert_eq!(headers["cache-control"], "no-store");
    drop_database(&app.db).await;
}

/// An app with the given payment providers (`allow_test` as the flag).
async fn app_with_providers(providers: &[&str], allow_test: bool) -> Result<App, String> {
    common::app_with(|c| {
        c.payment_providers = providers.iter().map(|p| p.to_string()).collect();
        c.allow_test_payments = allow_test;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sells_nothing_for_free_without_the_explicit_flag() {
    // `test` without --allow-test-payments: raffled refuses to start.
    let err = app_with_providers(&["test"], false).await.err().unwrap();
    assert!(err.contains("--allow-test-payments"), "{err}");
    // No provider configured (serve's default): a `test` purchase is
    // refused and leaves no order; the raffle page offers no form.
    let app = app_with_providers(&[], false).await.unwrap();
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let (status, body, _) = from(
        &app,
        "198.51.100.1",
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("none is configured"), "{body}");
    assert_eq!(common::rows(&app, "orders").await, 0);
    let (_, page, _) = from(
        &app,
        "198.51.100.1",
        "GET",
        &format!("/raffles/{raffle}?lang=en"),
        &[],
        "",
    )
    .await;
    assert!(
        page.contains("Online sales are not open on this site."),
        "{page}"
    );
    assert!(!page.contains("Demo: no money moves"));
    drop_database(&app.db).await;

    // With the flag: allowed, a significant event, and every page and
    // receipt says no money moves.
    let app = app_with_providers(&["test"], true).await.unwrap();
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let events = app
        .state
        .store
        .events(
            None,
            None,
            Some("payments"),
            Some("test_payments_enabled"),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let (_, page, _) = from(&app, "198.51.100.1", "GET", "/?lang=en", &[], "").await;
    assert!(page.contains("Demo: no money moves"), "{page}");
    let (status, body, _) = from(
        &app,
        "198.51.100.1",
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        json_of(&body)["demo"],
        "demo: no money moves (test payments)"
    );
    drop_database(&app.db).await;
}

/// Signs `user` in from `peer`; the status and the answer's text.
async fn sign_in(
    app: &App,
    peer: &str,
    user: &str,
    password: &str,
    code: &str,
) -> (StatusCode, String) {
    let body = json!({ "username": user, "password": password, "totp": code }).to_string();
    let (status, text, _) = from(app, peer, "POST", "/api/v1/sessions", &[], &body).await;
    (status, text)
}

/// A code that is not the current one.
fn wrong_code(secret: &str) -> &'static str {
    if web::app::auth::totp_now(secret).unwrap() == "000000" {
        "111111"
    } else {
        "000000"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_looks_unknown_locks_only_the_address_and_recovers() {
    let app = app().await;
    let (u, password) =
        web::app::auth::new_user("ann", &[raffle_core::Role::parse("auditor").unwrap()]).unwrap();
    app.state.store.create_user(&u).await.unwrap();
    let attacker = "203.0.113.66";
    for _ in 0..5 {
        let (status, _) = sign_in(&app, attacker, "ann", "guess", "123456").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's address is locked out of ann: even the right password
    // and code get the answer an unknown username gets.
    let now = web::app::auth::totp_now(&u.totp_secret).unwrap();
    let (locked_status, locked) = sign_in(&app, attacker, "ann", &password, &now).await;
    let (unknown_status, unknown) = sign_in(&app, attacker, "nobody-here", &password, &now).await;
    let (bad_status, bad) = sign_in(&app, attacker, "bad\u{0}name", "x", "1").await;
    assert_eq!(
        (locked_status, common::but_request_id(&locked)),
        (unknown_status, common::but_request_id(&unknown))
    );
    assert_eq!(
        (bad_status, common::but_request_id(&bad)),
        (unknown_status, common::but_request_id(&unknown)),
        "a NUL byte is a 4xx like any other"
    );
    assert_eq!(locked_status, StatusCode::UNAUTHORIZED);
    // Ann, from her own address, is not locked out.
    let (status, body) = sign_in(&app, "198.51.100.7", "ann", &password, &now).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The lock ends after 15 minutes, and its counter with it.
    sqlx::query("UPDATE sign_in_failures SET locked_until = now() - interval '1 second'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    let next = web::app::auth::totp_now(&u.totp_secret).unwrap();
    let (status, body) = sign_in(&app, attacker, "ann", &password, &next).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = sign_in(&app, attacker, "ann", "guess", wrong_code(&u.totp_secret)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let failures: i32 = sqlx::query_scalar("SELECT failures FROM sign_in_failures")
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(failures, 1, "the counter started again");
    // Every failure is an event with the address and a keyed hash of the
    // attempted username, never the username (people type passwords there).
    let events = app
        .state
        .store
        .events(
            None,
            None,
            Some("console"),
            Some("sign_in_failed"),
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 9);
    for e in &events {
        let text = e.to_string();
        assert!(
            !text.contains("\"ann\"") && !text.contains("guess") && !text.contains("nobody-here"),
            "{text}"
        );
        assert!(
            e["detail"]["address"].is_string() && e["detail"]["username_hmac"].is_string(),
            "{text}"
        );
    }
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_from_one_address_is_answered_429_and_others_still_sign_in() {
    let app = app().await;
    let (u, password) =
        web::app::auth::new_user("bea", &[raffle_core::Role::parse("auditor").unwrap()]).unwrap();
    app.state.store.create_user(&u).await.unwrap();
    let limit = app.state.config.limits.sign_in_per_minute;
    let mut limited = 0;
    let mut retry_after = None;
    for i in 0..limit + 5 {
        // Other usernames each time, so that no account-wide slow-down
        // paces the flood.
        let body =
            json!({ "username": format!("zed{i}"), "password": "x", "totp": "123456" }).to_string();
        let (status, _, headers) =
            from(&app, "203.0.113.66", "POST", "/api/v1/sessions", &[], &body).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            retry_after = headers.get("retry-after").cloned();
        }
    }
    assert_eq!(limited, 5);
    let wait: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // A spoofed X-Forwarded-For from an untrusted peer changes nothing.
    let body = json!({ "username": "zed", "password": "x", "totp": "123456" }).to_string();
    let (status, _, _) = from(
        &app,
        "203.0.113.66",
        "POST",
        "/api/v1/sessions",
        &[("x-forwarded-for", "198.51.100.99")],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Bea, from another address, signs in.
    let now = web::app::auth::totp_now(&u.totp_secret).unwrap();
    let (status, body) = sign_in(&app, "198.51.100.7", "bea", &password, &now).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited_not_the_proxy() {
    let app = common::app_with(|c| {
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        c.limits.ticket_checks_per_minute = 3;
    })
    .await
    .unwrap();
    let body = json!({ "validation_number": "0000000000000000000000000" }).to_string();
    let check = |client: &'static str| {
        let app = &app;
        let body = body.clone();
        async move {
            let xff = format!("{client}, 10.1.2.3");
            from(
                app,
                "10.0.0.1",
                "POST",
                "/api/v1/tickets/lookup",
                &[("x-forwarded-for", &xff)],
                &body,
            )
            .await
            .0
        }
    };
    for _ in 0..3 {
        assert_ne!(check("203.0.113.66").await, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(check("203.0.113.66").await, StatusCode::TOO_MANY_REQUESTS);
    // Another buyer behind the same proxy is not affected.
    assert_ne!(check("198.51.100.7").await, StatusCode::TOO_MANY_REQUESTS);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_validation_number_refuses_only_its_sale_and_the_online_path_draws_again() {
    use raffle_core::store::sequencer::Change;
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let vn = raffle_core::validation::ValidationNumber::generate().unwrap();
    let sale = |order: raffle_core::ids::SaleId| Change::IssueSale {
        order,
        raffle: raffle.clone(),
        package: "p1".parse().unwrap(),
        quantity: 1,
        stamped: raffle_core::Timestamp::now(),
        validation: vn.commitment(&raffle),
        channel: raffle_core::entry::Channel::Online,
        rsu: None,
    };
    // Two in one batch, and one in a later batch: only the first is sold.
    let (a, b) = tokio::join!(
        app.state
            .sequencer
            .submit(sale(raffle_core::ids::SaleId::new_order())),
        app.state
            .sequencer
            .submit(sale(raffle_core::ids::SaleId::new_order())),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    let again = app
        .state
        .sequencer
        .submit(sale(raffle_core::ids::SaleId::new_order()))
        .await;
    assert!(
        matches!(again, Err(raffle_core::Error::ValidationNumberTaken)),
        "{again:?}"
    );
    // The online path: a paid order holding the taken number is issued
    // with a new one, recorded in its draft.
    let order = raffle_core::ids::SaleId::new_order();
    let paid = web::app::payments::PaidOrder {
        order_id: order.clone(),
        provider: "test".into(),
        raffle_id: raffle.clone(),
        package_id: "p1".parse().unwrap(),
        quantity: 1,
        stamped: raffle_core::Timestamp::now(),
        vn,
    };
    let (status, receipt) = web::app::payments::issue_paid_order(&app.state, &paid)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_ne!(receipt["validation_number"].as_str().unwrap(), vn.to_text());
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(sales, 2);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_secrets_are_sealed_at_rest_and_users_debug_redacted() {
    let app = app().await;
    // A secret stored in the clear (as before sealing existed) is sealed
    // at the next start and still signs in.
    let (u, password) =
        web::app::auth::new_user("cal", &[raffle_core::Role::parse("auditor").unwrap()]).unwrap();
    app.state.store.create_user(&u).await.unwrap();
    assert_eq!(
        web::app::auth::seal_stored_secrets(&app.state)
            .await
            .unwrap(),
        1
    );
    let stored = app.state.store.user_by_name("cal").await.unwrap().unwrap();
    assert!(stored.totp_secret.starts_with("sealed1:"));
    assert!(!stored.totp_secret.contains(&u.totp_secret));
    assert_eq!(
        web::app::auth::open_totp(&app.state, &stored.totp_secret).unwrap(),
        u.totp_secret
    );
    let debug = format!("{stored:?}");
    assert!(
        !debug.contains(&stored.totp_secret) && !debug.contains(&stored.password_hash),
        "{debug}"
    );
    let now = web::app::auth::totp_now(&u.totp_secret).unwrap();
    let (status, body) = sign_in(&app, "198.51.100.7", "cal", &password, &now).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    drop_database(&app.db).await;
}
