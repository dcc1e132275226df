//! The public API in-process (router driven with `oneshot`), against the
//! real PostgreSQL and a real publication directory.

use testkit::app as common;

use axum::http::StatusCode;
use common::{App, PURCHASE, app, drop_database, request, rows};
use serde_json::Value;
use transparency::NoteVerifier;
use transparency::proof_file::ProofFile;

async fn call(
    app: &App,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let (status, bytes) = request(app, method, path, headers, body.to_string()).await;
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_gets_a_receipt_that_verifies_and_checks_the_ticket() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let (status, list) = call(&app, "GET", "/api/v1/raffles", &[], "").await;
    assert_eq!(
        (status, list["raffles"][0]["id"].as_str()),
        (StatusCode::OK, Some(raffle.as_str()))
    );

    let path = format!("/api/v1/raffles/{raffle}/purchases");
    let (status, receipt) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "k1-0000000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    // GLI-31 2.3.1: the receipt's fields.
    for field in [
        "organisation",
        "raffle_name",
        "draw_numbers",
        "issued_at",
        "sales_unit",
        "price",
        "validation_number",
        "licence",
    ] {
        assert!(
            !receipt[field].is_null(),
            "receipt lacks {field}: {receipt}"
        );
    }
    assert_eq!(receipt["draw_numbers"]["count"], "3");
    // The proof verifies offline with the log's key, and the entry commits to the validation number.
    let vkey = NoteVerifier::from_vkey(&app.state.vkey).unwrap();
    let proof = ProofFile::parse(receipt["proof"].as_str().unwrap().as_bytes()).unwrap();
    let (entry, _) = proof.verify_extra_entry(&vkey, &[]).unwrap();
    let entry = raffle_core::entry::Entry::parse(&entry).unwrap();
    let raffle_core::entry::Body::Sale(sale) = entry.body else {
        panic!()
    };
    let vn = raffle_core::validation::ValidationNumber::parse(
        receipt["validation_number"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(sale.validation.0, vn.commitment(&raffle));
    // The validation number is not in the proof (architecture page, "receipt").
    assert!(
        !receipt["proof"]
            .as_str()
            .unwrap()
            .contains(receipt["validation_number"].as_str().unwrap())
    );

    // Idempotent retry: same key and body, same response; another body, refused.
    let (status2, again) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "k1-0000000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!((status2, &again), (StatusCode::CREATED, &receipt));
    let other = PURCHASE.replace("p3", "p1");
    let (status3, err) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "k1-0000000000000000000")],
        &other,
    )
    .await;
    assert_eq!(status3, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    // Ticket check by validation number (in the body).
    let body = format!(
        r#"{{"validation_number":"{}"}}"#,
        receipt["validation_number"].as_str().unwrap()
    );
    let (status, ticket) = call(&app, "POST", "/api/v1/tickets/lookup", &[], &body).await;
    assert_eq!(
        (status, ticket["status"].as_str()),
        (StatusCode::OK, Some("valid")),
        "{ticket}"
    );
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/tickets/lookup",
        &[],
        r#"{"validation_number":"nope"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fresh = raffle_core::validation::ValidationNumber::generate()
        .unwrap()
        .to_text();
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/tickets/lookup",
        &[],
        &format!(r#"{{"validation_number":"{fresh}"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The published log is served under /log/ and matches.
    let (status, note) = request(&app, "GET", "/log/checkpoint", &[], String::new()).await;
    assert_eq!(status, StatusCode::OK);
    transparency::checkpoint::SignedCheckpoint::open(&note, &vkey, &[]).unwrap();
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_are_checked_before_anything_is_charged() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let path = format!("/api/v1/raffles/{raffle}/purchases");
    let cases = [
        (
            PURCHASE.replace("true", "false"),
            StatusCode::FORBIDDEN,
            "at least 18",
        ),
        (
            PURCHASE.replace("CA-ON", "US-NY"),
            StatusCode::FORBIDDEN,
            "only to buyers in CA-ON",
        ),
        (
            PURCHASE.replace("p3", "p7"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no package",
        ),
        (
            PURCHASE.replace("\"test\"", "\"cash\""),
            StatusCode::BAD_REQUEST,
            "unknown payment provider",
        ),
        (
            PURCHASE.replace("\"payment\"", "\"extra\":1,\"payment\""),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            "{".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid purchase request",
        ),
    ];
    for (body, want, text) in cases {
        let (status, err) = call(&app, "POST", &path, &[], &body).await;
        assert_eq!(status, want, "{body}: {err}");
        assert!(err["error"].as_str().unwrap().contains(text), "{err}");
    }
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/raffles/00000000-0000-4000-8000-000000000000/purchases",
        &[],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let orders = rows(&app, "orders").await;
    assert_eq!(orders, 0, "a refused request leaves no order");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_confirmed_later_is_issued_by_the_same_code() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let body = PURCHASE.replace(
        r#""provider":"test""#,
        r#""provider":"test","confirm":"later""#,
    );
    let (status, pending) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", "later-1-00000000000000")],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    let url = pending["order_url"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {}", pending["order_token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];
    let (_, order) = call(&app, "GET", &url, &auth, "").await;
    assert_eq!(order["status"], "pending");
    let mut order = order;
    for _ in 0..50 {
        if order["status"] == "issued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        order = call(&app, "GET", &url, &auth, "").await.1;
    }
    assert_eq!(order["status"], "issued", "{order}");
    let vkey = NoteVerifier::from_vkey(&app.state.vkey).unwrap();
    let proof = ProofFile::parse(order["receipt"]["proof"].as_str().unwrap().as_bytes()).unwrap();
    proof.verify_extra_entry(&vkey, &[]).unwrap();
    // The same request again answers with the receipt.
    let (status, again) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", "later-1-00000000000000")],
        &body,
    )
    .await;
    // The same receipt, with the same order token beside it.
    let mut again = again;
    let token = again.as_object_mut().unwrap().remove("order_token");
    assert_eq!(token.as_ref(), Some(&pending["order_token"]));
    assert_eq!((status, &again), (StatusCode::CREATED, &order["receipt"]));
    drop_database(&app.db).await;
}

/// An order as a purchase handler creates it, for tests that stop between
/// steps: the request and its `Authorization` header (the order's token).
fn new_order(
    raffle: &str,
    paid: bool,
) -> (raffle_core::store::orders::OrderRequest, String, String) {
    use raffle_core::store::orders::{NewOrder, OrderRequest};
    use sha2::Digest as _;
    let id = raffle_core::ids::SaleId::new_order();
    let token = web::app::auth::random_token::<16>().unwrap();
    let vn = raffle_core::validation::ValidationNumber::generate().unwrap();
    let request = OrderRequest {
        order: NewOrder {
            id: id.clone(),
            raffle: raffle.parse().unwrap(),
            package: "p1".parse().unwrap(),
            quantity: 1,
            amount: raffle_core::Money::new(
                500,
                raffle_core::money::Currency::parse("CAD").unwrap(),
            ),
            provider: "test".into(),
            buyer: serde_json::json!({"age_confirmed": true, "region": "CA-ON"}),
            stamped: raffle_core::Timestamp::now(),
            token_sha256: sha2::Sha256::digest(token.as_bytes()).into(),
        },
        key: None,
        request_sha256: [0; 32],
        draft: serde_json::json!({ "order_id": id, "validation_number": vn.to_text(), "order_token": token }),
        paid,
    };
    (request, id.to_string(), format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_left_paid_or_pending_by_a_stopped_process_are_finished_at_start() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    // A process stopped after creating these orders: one paid at once but
    // not yet sequenced, one waiting for its provider's later confirmation.
    let (paid, paid_id, paid_auth) = new_order(&raffle, true);
    let (pending, pending_id, pending_auth) = new_order(&raffle, false);
    for o in [&paid, &pending] {
        assert!(matches!(
            app.state.store.begin_order(o).await.unwrap(),
            raffle_core::store::orders::Begun::Created
        ));
    }
    let resumed = web::app::payments::resume_unfinished_orders(&app.state)
        .await
        .unwrap();
    assert_eq!(resumed, 2);
    let vkey = NoteVerifier::from_vkey(&app.state.vkey).unwrap();
    let (_, order) = call(
        &app,
        "GET",
        &format!("/api/v1/orders/{paid_id}"),
        &[("authorization", &paid_auth)],
        "",
    )
    .await;
    assert_eq!(order["status"], "issued", "{order}");
    let proof = ProofFile::parse(order["receipt"]["proof"].as_str().unwrap().as_bytes()).unwrap();
    let (entry, _) = proof.verify_extra_entry(&vkey, &[]).unwrap();
    let raffle_core::entry::Body::Sale(sale) =
        raffle_core::entry::Entry::parse(&entry).unwrap().body
    else {
        panic!("not a sale");
    };
    assert_eq!(sale.sale, paid_id);
    // The pending one is confirmed by its provider again, then issued.
    let mut order = Value::Null;
    for _ in 0..50 {
        order = call(
            &app,
            "GET",
            &format!("/api/v1/orders/{pending_id}"),
            &[("authorization", &pending_auth)],
            "",
        )
        .await
        .1;
        if order["status"] == "issued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(order["status"], "issued", "{order}");
    // A confirmation delivered twice (webhooks are) issues nothing more and
    // answers with the same receipt.
    let (status, again) = web::app::payments::confirm_payment(&app.state, &pending_id)
        .await
        .unwrap();
    assert_eq!((status, &again), (StatusCode::CREATED, &order["receipt"]));
    let sales = rows(&app, "sales").await;
    assert_eq!(sales, 2);
    assert_eq!(
        web::app::payments::resume_unfinished_orders(&app.state)
            .await
            .unwrap(),
        0
    );
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payment_provider_is_refused_with_the_available_ones() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let path = format!("/api/v1/raffles/{raffle}/purchases");
    let body = PURCHASE.replace(r#""provider":"test""#, r#""provider":"cheque""#);
    let (status, err) = call(&app, "POST", &path, &[], &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"].as_str().unwrap().contains("available: test"),
        "{err}"
    );
    let body = PURCHASE.replace(r#""provider":"test""#, r#""provider":"test","card":"4242""#);
    let (status, err) = call(&app, "POST", &path, &[], &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `card`"),
        "{err}"
    );
    let orders = rows(&app, "orders").await;
    assert_eq!(orders, 0, "a refused request leaves no order");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_numbers_and_idempotency_keys_are_forgotten_after_24_hours() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let path = format!("/api/v1/raffles/{raffle}/purchases");
    let (status, first) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "old-000000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "other-0000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Age the first order by a day and an hour.
    sqlx::query("UPDATE orders SET created_at = now() - interval '25 hours' WHERE id = $1::uuid")
        .bind(first["sale_id"].as_str().unwrap())
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(app.state.store.purge_idempotency().await.unwrap(), 1);
    let vn = first["validation_number"].as_str().unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE draft::text LIKE '%' || $1 || '%' OR response::text LIKE '%' || $1 || '%'")
        .bind(vn)
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(held, 0, "the validation number is no longer stored");
    // The order is still issued; only the buyer holds its validation number now.
    let bearer = format!("Bearer {}", first["order_token"].as_str().unwrap());
    let (_, order) = call(
        &app,
        "GET",
        &format!("/api/v1/orders/{}", first["sale_id"].as_str().unwrap()),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(order["status"], "issued");
    assert!(order.get("receipt").is_none(), "{order}");
    // The key is free again: the same request makes a new purchase, while a
    // recent key still replays.
    let (status, second) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "old-000000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(second["sale_id"], first["sale_id"]);
    let (status, _) = call(
        &app,
        "POST",
        &path,
        &[("idempotency-key", "other-0000000000000000")],
        PURCHASE,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let sales = rows(&app, "sales").await;
    assert_eq!(sales, 3);
    drop_database(&app.db).await;
}

/// Ids are parsed once, where they arrive: a malformed one in a path or a
/// body is refused (4xx, JSON) naming the id, before anything runs; the
/// OpenAPI document states the pattern each is checked against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_id_is_refused_where_it_arrives_and_the_document_states_its_pattern() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let (status, v) = call(&app, "GET", "/api/v1/raffles/NOT-A-UUID", &[], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "bad_request", "{v}");
    assert!(v["error"].as_str().unwrap().contains("raffle id"), "{v}");
    let body = PURCHASE.replace("\"p3\"", "\"P3; DROP\"");
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", "a-malformed-package-key-0001")],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("package id"), "{v}");
    assert_eq!(rows(&app, "orders").await, 0, "nothing was ordered");
    // A role that is not one, in a staff request's body: JSON, with a code.
    let admin = common::signed_in(&app, "root", &["administrator"]).await;
    let (status, v) = common::call(
        &app,
        "POST",
        "/api/v1/users",
        Some(&admin.token),
        serde_json::json!({ "username": "zed", "roles": ["root"] }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "invalid", "{v}");
    assert!(v["error"].as_str().unwrap().contains("root"), "{v}");
    let (status, v) = common::call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}/reconciliation?draw=Not%20A%20Slug"),
        Some(&admin.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("draw id"), "{v}");
    let (_, doc) = call(&app, "GET", "/api/v1/openapi.json", &[], "").await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["PackageId"]["pattern"], "^[a-z0-9][a-z0-9-]{0,31}$",
        "{schemas}"
    );
    let roles: Vec<&str> = schemas["Role"]["oneOf"]
        .as_array()
        .map(|o| o.iter().filter_map(|r| r["const"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        roles,
        raffle_core::Role::ALL.map(|r| r.as_str()),
        "{}",
        schemas["Role"]
    );
    drop_database(&app.db).await;
}
