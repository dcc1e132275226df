//! The admin API: every route checked for every role and for no session;
//! sign-in with password and TOTP, lock-out and idle expiry; and a raffle run
//! end to end by a manager and two finance users, with two-person approvals.

use testkit::app as common;

use axum::http::StatusCode;
use common::{App, PURCHASE, app, app_with_witnesses, approve, call, drop_database, request, rows};
use serde_json::{Value, json};
use web::app::auth::{new_user, totp_now};

/// Creates a user with `roles` and signs them in; returns (token, password, totp secret).
async fn user(app: &App, name: &str, roles: &[&str]) -> (String, String, String) {
    let s = common::signed_in(app, name, roles).await;
    (s.token, s.password, s.totp_secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_checks_the_session_and_the_role() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let roles = raffle_core::Role::ALL;
    // One session per role (a TOTP code signs in once), and fresh users for sign-out.
    let mut users = Vec::new();
    for role in roles {
        let (token, _, _) = user(&app, &format!("user-{role}"), &[role.as_str()]).await;
        users.push((role, token));
    }
    // Every API route that needs a session, from the table the router is built from.
    let staff_routes: Vec<(String, &str, &[raffle_core::Role])> = web::api::routes()
        .iter()
        .filter_map(|r| Some((r.method.to_string(), r.path, r.roles()?)))
        .collect();
    assert!(
        staff_routes.len() > 25,
        "{} staff routes",
        staff_routes.len()
    );
    for (n, (method, route, allowed)) in staff_routes.iter().enumerate() {
        let method = method.as_str();
        let path = route.replace("{id}", &raffle).replace("{draw_id}", "main");
        // No session: 401.
        let (status, _) = call(&app, method, &path, None, json!({})).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {route} without a session"
        );
        let (status, _) = call(&app, method, &path, Some("forged-token"), json!({})).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {route} with a forged token"
        );
        for (role, token) in &users {
            let token = if method == "DELETE" {
                user(&app, &format!("leaving-{n}-{role}"), &[role.as_str()])
                    .await
                    .0
            } else {
                token.clone()
            };
            let (status, v) = call(&app, method, &path, Some(&token), json!({})).await;
            let may = allowed.is_empty() || allowed.contains(role);
            if may {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {route} as {role}: {status} {v}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {route} as {role}: {v}"
                );
            }
        }
    }
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_the_code_locks_out_and_sessions_expire_when_idle() {
    let app = app().await;
    let (u, password) = new_user("ann", &[raffle_core::Role::parse("auditor").unwrap()]).unwrap();
    app.state.store.create_user(&u).await.unwrap();
    let secret = u.totp_secret.clone();
    // A TOTP code signs in once: the same code again is refused.
    let attempt =
        json!({ "username": "ann", "password": password, "totp": totp_now(&secret).unwrap() });
    let (status, v) = call(&app, "POST", "/api/v1/sessions", None, attempt.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (status, _) = call(&app, "POST", "/api/v1/sessions", None, attempt).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a replayed TOTP code was accepted"
    );
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&token), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // A wrong code is refused; five failures (the replay was the first) lock
    // the account, even against the right code.
    let wrong = json!({ "username": "ann", "password": password, "totp": "000000" });
    let wrong = if totp_now(&secret).unwrap() == "000000" {
        json!({ "username": "ann", "password": password, "totp": "111111" })
    } else {
        wrong
    };
    for _ in 0..4 {
        let (status, _) = call(&app, "POST", "/api/v1/sessions", None, wrong.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let right =
        json!({ "username": "ann", "password": password, "totp": totp_now(&secret).unwrap() });
    let (status, locked) = call(&app, "POST", "/api/v1/sessions", None, right).await;
    // Locked out of this address, answered exactly as an unknown user is.
    let unknown = json!({ "username": "nobody", "password": "x", "totp": "123456" });
    let (unknown_status, unknown) = call(&app, "POST", "/api/v1/sessions", None, unknown).await;
    assert_eq!(
        (status, common::but_request_id(&locked)),
        (unknown_status, common::but_request_id(&unknown))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // 30 minutes idle ends a session.
    sqlx::query("UPDATE sessions SET last_seen = now() - interval '31 minutes'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&token), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Sign-out ends one at once.
    let (t2, _, _) = user(&app, "bob", &["auditor"]).await;
    let (status, _) = call(
        &app,
        "DELETE",
        "/api/v1/sessions/current",
        Some(&t2),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/api/v1/events", Some(&t2), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    drop_database(&app.db).await;
}

fn config(end_in_secs: i64) -> Value {
    use testkit::raffles::{in_secs, one_draw};
    json!({ "config": one_draw(in_secs(-60), in_secs(end_in_secs)) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_and_finance_run_a_raffle_with_two_person_approvals() {
    let app = app().await;
    let (admin, _, _) = user(&app, "root", &["administrator"]).await;
    // Users are created by an administrator (the only one: no second
    // approval) and enrol themselves through the API.
    let manager = common::enrol_via_api(&app, &admin, "mia", &["raffle_manager"]).await;
    let (fin1, _, _) = user(&app, "fay", &["finance"]).await;
    let (fin2, _, _) = user(&app, "fred", &["finance"]).await;

    let (status, v) = call(&app, "POST", "/api/v1/raffles", Some(&manager), config(3)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // GLI-31 2.2.3: the configuration is frozen once open, and the attempt is logged.
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/api/v1/raffles/{raffle}"),
        Some(&manager),
        config(5),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, events) = call(
        &app,
        "GET",
        "/api/v1/events?kind=configuration_change_refused",
        Some(&admin),
        Value::Null,
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");

    let mut receipts = Vec::new();
    for _ in 0..4 {
        let (status, r) = call(
            &app,
            "POST",
            &format!("/api/v1/raffles/{raffle}/purchases"),
            None,
            serde_json::from_str(PURCHASE).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        receipts.push(r);
    }
    // A void needs a second person (GLI-31 2.3.3, 5.2.4).
    let sale = receipts[0]["sale_id"].as_str().unwrap();
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/sales/{sale}/void"),
        Some(&fin1),
        json!({ "raffle_id": raffle, "reason": "buyer_request", "refund": true }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let approval = v["approval_id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&fin1),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the requester approved their own void"
    );
    // Who may approve is the raffle's jurisdiction setting (here: finance only).
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&admin),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("approvers are: finance"),
        "{v}"
    );
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&fin2),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "sale.voided");
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&fin2),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided twice");

    // After the end time: reconciliation (approved by another), then the draw.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/main/freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "frozen before reconciliation (GLI-31 2.6.3)"
    );
    // The figures are shown before they are acknowledged.
    let (status, figures) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}/reconciliation?draw=main"),
        Some(&fin1),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{figures}");
    assert_eq!(
        (figures["sales"].as_str(), figures["voids"].as_str()),
        (Some("4"), Some("1"))
    );
    assert_eq!(figures["channels"]["online"]["sales"], "4");
    assert_eq!(figures["net"]["minor"], "3000");
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/reconciliation"),
        Some(&fin1),
        json!({ "draw": "main" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{}", v["approval_id"].as_str().unwrap()),
        Some(&fin2),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["voids"], "1");
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/main/freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["entry"]["n"], "9",
        "the voided sale's 3 numbers are not eligible"
    );
    let (status, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/main/perform"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let winning_sale = v["entry"]["sale"].as_str().unwrap().to_string();
    assert_ne!(winning_sale, sale, "a voided sale won");

    // Claims: validated by the winner's validation number (GLI-31 2.7.1).
    let winner = receipts
        .iter()
        .find(|r| r["sale_id"] == winning_sale.as_str())
        .unwrap();
    let loser = receipts
        .iter()
        .find(|r| r["sale_id"] != winning_sale.as_str() && r["sale_id"] != sale)
        .unwrap();
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": loser["validation_number"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": winner["validation_number"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "claim.paid");
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": winner["validation_number"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "paid twice");
    // Significant events are anchored in the log by events.digest, and the
    // digest recomputes from the events table.
    let s = web::digest_events(&app.state)
        .await
        .unwrap()
        .expect("events to anchor");
    let raffle_core::entry::Body::EventsDigest(d) = &s.entry.body else {
        panic!()
    };
    let events = app
        .state
        .store
        .events_between(d.first.0 as i64, d.last.0 as i64)
        .await
        .unwrap();
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for e in &events {
        h.update(raffle_core::store::people::event_record(e));
        h.update(b"\n");
    }
    assert_eq!(d.sha256.0, <[u8; 32]>::from(h.finalize()));
    assert!(
        d.count.0 >= 8,
        "sign-ins, approvals and the refused change: {}",
        d.count.0
    );
    assert!(
        web::digest_events(&app.state).await.unwrap().is_none(),
        "nothing new to anchor"
    );
    // The public page shows the result (GLI-31 2.6.5).
    let (_, page) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}"),
        None,
        Value::Null,
    )
    .await;
    assert_eq!(page["draws"][0]["claimed"], true);
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_witness_contributes_once_and_the_draw_needs_it() {
    use base64::Engine as _;
    use transparency::key::{ALG_COSIGNATURE_V1, NoteSigner};
    let witness = NoteSigner::generate("regulator.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let app = app_with_witnesses(vec![witness.verifier().vkey()]).await;
    let (manager, _, _) = user(&app, "mia", &["raffle_manager"]).await;
    let (fin1, _, _) = user(&app, "fay", &["finance"]).await;
    let (fin2, _, _) = user(&app, "fred", &["finance"]).await;
    let (_, v) = call(&app, "POST", "/api/v1/raffles", Some(&manager), config(2)).await;
    let raffle = v["id"].as_str().unwrap().to_string();
    call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&manager),
        Value::Null,
    )
    .await;
    for _ in 0..3 {
        let (status, _) = call(
            &app,
            "POST",
            &format!("/api/v1/raffles/{raffle}/purchases"),
            None,
            serde_json::from_str(PURCHASE).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, v) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/reconciliation"),
        Some(&fin1),
        json!({ "draw": "main" }),
    )
    .await;
    call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{}", v["approval_id"].as_str().unwrap()),
        Some(&fin2),
        json!({ "decision": "approve" }),
    )
    .await;
    let (status, frozen) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/draws/main/freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{frozen}");
    let perform = format!("/api/v1/raffles/{raffle}/draws/main/perform");
    let (status, _) = call(&app, "POST", &perform, Some(&manager), Value::Null).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "performed without the witness"
    );

    // The witness signs the frozen entry it saw in the log.
    let index: u64 = frozen["log_index"].as_str().unwrap().parse().unwrap();
    // ...read from the published log, as a witness does.
    let storage =
        transparency::store::DirStorage::new(app.state.config.publications_dir(), false).unwrap();
    let size = transparency::Checkpoint::parse_text(
        app.state.sequencer.latest_checkpoint().unwrap().text(),
    )
    .unwrap()
    .size;
    let entry = transparency::store::read_entry(&storage, index, size).unwrap();
    assert_eq!(
        raffle_core::entry::Entry::parse(&entry).unwrap().kind(),
        "draw.frozen"
    );
    let message = raffle_core::draw::contribution_message(
        &app.state.config.origin(),
        index,
        transparency::leaf_hash(&entry).as_bytes(),
    );
    let signature = witness.sign_raw(&message);
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let contribute = format!("/api/v1/raffles/{raffle}/draws/main/contribution");
    let mut forged = signature;
    forged[0] ^= 1;
    let (status, _) = call(
        &app,
        "POST",
        &contribute,
        Some(&manager),
        json!({ "witness": witness.name(), "signature": b64(&forged) }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &app,
        "POST",
        &contribute,
        Some(&manager),
        json!({ "witness": "someone.else/w", "signature": b64(&signature) }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, v) = call(
        &app,
        "POST",
        &contribute,
        Some(&manager),
        json!({ "witness": witness.name(), "signature": b64(&signature) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = call(
        &app,
        "POST",
        &contribute,
        Some(&manager),
        json!({ "witness": witness.name(), "signature": b64(&signature) }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a second contribution");
    let (status, v) = call(&app, "POST", &perform, Some(&manager), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["contribution"], hex::encode(signature));
    drop_database(&app.db).await;
}

/// A method a path does not declare is answered 405, with or without a
/// session, on every surface's table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_method_is_405_on_every_route() {
    let app = app().await;
    let mut tables = web::api::routes().to_vec();
    tables.extend(web::console::routes().iter().cloned());
    tables.extend(web::site::table().routes());
    let mut checked = 0;
    for route in &tables {
        let declared: Vec<&str> = tables
            .iter()
            .filter(|r| r.path == route.path)
            .map(|r| r.method.as_str())
            .collect();
        let path = route
            .path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{draw_id}", "main")
            .replace("{action}", "disable");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if declared.contains(&method) {
                continue;
            }
            let (status, _) = call(&app, method, &path, None, json!({})).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {}",
                route.path
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} undeclared methods tried");
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_the_openapi_document_is_served() {
    let app = app().await;
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", None, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        web::api::routes().len()
    );
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "00000000-0000-4000-8000-000000000000")
                .replace("{draw_id}", "main")
                .replace("{rsu}", "unit-1");
            let (status, body) =
                call(&app, &method.to_uppercase(), &concrete, None, json!({})).await;
            // The router's own 404 has no body; a handler's says what was not found.
            assert!(
                status != StatusCode::NOT_FOUND || !body.is_null(),
                "{method} {path} is not served"
            );
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is not served"
            );
        }
    }
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_in_flight_at_the_end_time_is_refunded_never_issued() {
    let app = app().await;
    let (manager, _, _) = user(&app, "mia", &["raffle_manager"]).await;
    let (_, v) = call(&app, "POST", "/api/v1/raffles", Some(&manager), config(2)).await;
    let raffle = v["id"].as_str().unwrap().to_string();
    call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/open"),
        Some(&manager),
        Value::Null,
    )
    .await;
    // Stamped 150 ms before the end time, paid (confirmed 300 ms later) after it.
    let (_, page) = call(
        &app,
        "GET",
        &format!("/api/v1/raffles/{raffle}"),
        None,
        Value::Null,
    )
    .await;
    let end = raffle_core::Timestamp::parse(page["sales_end"].as_str().unwrap()).unwrap();
    let wait = end.as_micros() - raffle_core::Timestamp::now().as_micros() - 150_000;
    tokio::time::sleep(std::time::Duration::from_micros(wait.max(0) as u64)).await;
    let body = PURCHASE.replace(
        r#""provider":"test""#,
        r#""provider":"test","confirm":"later""#,
    );
    let (status, pending) = call(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        None,
        serde_json::from_str(&body).unwrap(),
    )
    .await;
    // On a loaded machine the request itself may arrive after the close: then it is refused at once.
    if status == StatusCode::ACCEPTED {
        let url = pending["order_url"].as_str().unwrap().to_string();
        let token = pending["order_token"].as_str();
        let mut order = call(&app, "GET", &url, token, Value::Null).await.1;
        for _ in 0..50 {
            if order["status"] != "pending" && order["status"] != "paid" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            order = call(&app, "GET", &url, token, Value::Null).await.1;
        }
        // GLI-31 2.2.2, 2.6.2: no sale after close; the order is refunded with the reason.
        assert_eq!(order["status"], "refunded", "{order}");
        assert!(order["refusal"].is_string(), "{order}");
        assert!(
            matches!(
                order["refusal_code"].as_str(),
                Some("raffle_not_on_sale" | "outside_sales_window")
            ),
            "{order}"
        );
    } else {
        assert_eq!(status, StatusCode::CONFLICT, "{pending}");
    }
    let sales = rows(&app, "sales").await;
    assert_eq!(sales, 0);
    drop_database(&app.db).await;
}

/// GLI-31 2.6.4, 2.7.1: a winner found ineligible is set aside by a redraw
/// that a second person approves; the new winner claims, with paperwork
/// over the raffle's threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redraw_needs_a_reason_and_a_second_person_and_large_prizes_need_paperwork() {
    let app = app().await;
    let (manager, _, _) = user(&app, "mia", &["raffle_manager"]).await;
    let (fin1, _, _) = user(&app, "fay", &["finance"]).await;
    let (fin2, _, _) = user(&app, "fred", &["finance"]).await;
    let mut c = config(3);
    c["config"]["claims"]["paperwork_over"] = json!({ "minor": "100", "currency": "CAD" });
    let (status, v) = call(&app, "POST", "/api/v1/raffles", Some(&manager), c).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let path = |p: &str| format!("/api/v1/raffles/{raffle}{p}");
    let (status, _) = call(&app, "POST", &path("/open"), Some(&manager), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let mut receipts = Vec::new();
    for _ in 0..5 {
        let (status, r) = call(
            &app,
            "POST",
            &path("/purchases"),
            None,
            serde_json::from_str(PURCHASE).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        receipts.push(r);
    }
    // Not before the draw is performed.
    let (status, _) = call(
        &app,
        "POST",
        &path("/draws/main/redraw"),
        Some(&manager),
        json!({ "reason": "winner_ineligible" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let (_, v) = call(
        &app,
        "POST",
        &path("/reconciliation"),
        Some(&fin1),
        json!({ "draw": "main" }),
    )
    .await;
    let approval = v["approval_id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&fin2),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        "POST",
        &path("/draws/main/freeze"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, first) = call(
        &app,
        "POST",
        &path("/draws/main/perform"),
        Some(&manager),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // Only reasons from the fixed list; "unclaimed" only after the window.
    let (status, _) = call(
        &app,
        "POST",
        &path("/draws/main/redraw"),
        Some(&manager),
        json!({ "reason": "manager_prefers" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, v) = call(
        &app,
        "POST",
        &path("/draws/main/redraw"),
        Some(&manager),
        json!({ "reason": "unclaimed" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["code"], "claim_window_open", "{v}");
    let (status, v) = call(
        &app,
        "POST",
        &path("/draws/main/redraw"),
        Some(&manager),
        json!({ "reason": "winner_ineligible" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let approval = v["approval_id"].as_str().unwrap().to_string();
    let (status, redrawn) = call(
        &app,
        "POST",
        &format!("/api/v1/approvals/{approval}"),
        Some(&fin1),
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{redrawn}");
    let e = &redrawn["entry"];
    assert_eq!(e["type"], "draw.performed");
    assert_eq!(e["redraw"]["reason"], "winner_ineligible");
    assert_eq!(e["seed"], first["entry"]["seed"]);
    assert_ne!(
        e["winner"], first["entry"]["winner"],
        "a number is drawn once per draw"
    );
    let vn_of = |sale: &Value| {
        receipts
            .iter()
            .find(|r| r["sale_id"] == *sale)
            .map(|r| r["validation_number"].clone())
            .unwrap()
    };
    // The set-aside winner has no prize to claim; the new one needs paperwork.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": vn_of(&first["entry"]["sale"]) }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let winner = vn_of(&e["sale"]);
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": winner }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "paperwork_required", "{v}");
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": winner, "paperwork_completed": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["paperwork"], true);
    // No redraw once the prize is paid.
    let (status, _) = call(
        &app,
        "POST",
        &path("/draws/main/redraw"),
        Some(&manager),
        json!({ "reason": "winner_ineligible" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    drop_database(&app.db).await;
}

/// The OpenAPI document describes each request body with the type its
/// handler reads: a body with an unknown field is refused by exactly the
/// routes that document one, naming exactly the documented fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_request_bodies_are_the_ones_the_handlers_read() {
    let app = app().await;
    let (token, _, _) = user(
        &app,
        "all",
        &[
            "administrator",
            "raffle_manager",
            "finance",
            "auditor",
            "rsu_operator",
        ],
    )
    .await;
    let (_, doc) = call(&app, "GET", "/api/v1/openapi.json", None, Value::Null).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let resolve = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };
    let mut bodies = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            // The enrolment steps need an enrolment session, not this
            // enrolled one (tests/people.rs sends them bad bodies too).
            if method == "get"
                || path == "/api/v1/sessions/current"
                || path.starts_with("/api/v1/enrolment/")
            {
                continue;
            }
            let concrete = path
                .replace("{id}", "00000000-0000-4000-8000-000000000000")
                .replace("{draw_id}", "main")
                .replace("{rsu}", "unit-1");
            let auth = format!("Bearer {token}");
            let (status, bytes) = request(
                &app,
                &method.to_uppercase(),
                &concrete,
                &[("authorization", auth.as_str())],
                r#"{"not_a_field":1}"#.to_string(),
            )
            .await;
            let text = String::from_utf8_lossy(&bytes).to_string();
            let refused = text.contains("unknown field `not_a_field`");
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                assert!(
                    !refused,
                    "{method} {path} reads an undocumented body: {text}"
                );
                continue;
            }
            bodies += 1;
            assert!(
                status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
                "{method} {path}: {status} {text}"
            );
            assert!(refused, "{method} {path}: {text}");
            let mut documented: Vec<String> = resolve(schema)["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            documented.sort();
            let expected = text.split("expected ").nth(1).unwrap_or_default();
            let mut named: Vec<String> = expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            named.sort();
            assert_eq!(named, documented, "{method} {path}");
        }
    }
    assert_eq!(bodies, 21, "routes with a JSON body");
    // The configuration schema includes the jurisdiction's claim rules.
    let config = &schemas["RaffleConfig"];
    assert!(
        config["required"]
            .as_array()
            .unwrap()
            .contains(&json!("claims"))
    );
    drop_database(&app.db).await;
}

/// Issue 11, hole 3 (GLI-31 2.7.1, 5.2.4): `claim.paid` publishes the
/// winner's validation number, so when the same sale wins again that number
/// pays nothing; only a supervised claim (identity recorded, a second
/// person approving) pays, and the log names both people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_validation_number_claims_no_second_win_without_supervision() {
    let app = app().await;
    let (manager, _, _) = user(&app, "mia", &["raffle_manager"]).await;
    let (fin1, _, _) = user(&app, "fay", &["finance"]).await;
    let (fin2, _, _) = user(&app, "fred", &["finance"]).await;
    // One sale, and any number may win every draw: it wins both draws.
    let mut c = raffle_core::entry::example_config();
    let now = raffle_core::Timestamp::now().as_micros();
    let at = |secs: i64| raffle_core::Timestamp::from_micros(now + secs * 1_000_000);
    c.sales_start = at(-60);
    c.draws[0].cutoff = at(2);
    c.draws[0].draw_at = at(2);
    c.sales_end = at(4);
    c.draws[1].cutoff = at(4);
    c.draws[1].draw_at = at(4);
    c.max_tickets = None;
    c.wins = raffle_core::entry::WinRule::Unlimited;
    c.early_bird = raffle_core::entry::EarlyBirdDeduction::FromProceeds;
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/raffles",
        Some(&manager),
        json!({ "config": c }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let raffle = v["id"].as_str().unwrap().to_string();
    let path = |p: &str| format!("/api/v1/raffles/{raffle}{p}");
    let (status, _) = call(&app, "POST", &path("/open"), Some(&manager), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (status, receipt) = call(
        &app,
        "POST",
        &path("/purchases"),
        None,
        serde_json::from_str(PURCHASE).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let vn = receipt["validation_number"].clone();
    let draw = |name: &'static str| {
        let (app, manager, fin1, fin2, path) = (&app, &manager, &fin1, &fin2, &path);
        async move {
            let (_, v) = call(
                app,
                "POST",
                &path("/reconciliation"),
                Some(fin1),
                json!({ "draw": name }),
            )
            .await;
            assert_eq!(approve(app, &v, fin2).await.0, StatusCode::OK);
            for step in ["freeze", "perform"] {
                let (status, v) = call(
                    app,
                    "POST",
                    &path(&format!("/draws/{name}/{step}")),
                    Some(manager),
                    Value::Null,
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{step} {name}: {v}");
            }
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    draw("early-bird").await;
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": vn }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["entry"]["validation_number"], vn,
        "the first claim publishes the number"
    );
    assert_eq!(v["entry"]["supervised_by"], Value::Null);
    // A supervised claim is refused while the number is still secret.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    draw("main").await;
    // Anyone holding the published number: refused, nothing logged.
    let size = app.state.sequencer.ledger().size();
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims",
        Some(&manager),
        json!({ "validation_number": vn }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "validation_number_published", "{v}");
    assert_eq!(app.state.sequencer.ledger().size(), size);
    // Bad identity input is a 422 with a reason.
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/claims/supervised",
        Some(&manager),
        json!({ "validation_number": vn, "identity": { "name": " ", "document": "licence D1234" } }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, pending) = call(
        &app,
        "POST",
        "/api/v1/claims/supervised",
        Some(&manager),
        json!({ "validation_number": vn, "identity": { "name": "Ada Winner", "document": "licence D1234-56789" } }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    // The identity stays with the request: not in the significant events.
    let events: Vec<String> = sqlx::query_scalar("SELECT detail::text FROM events")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.contains("supervised_claim")));
    assert!(
        !events
            .iter()
            .any(|e| e.contains("Ada Winner") || e.contains("D1234"))
    );
    // The requester cannot approve it; finance (the raffle's approvers) can.
    let (status, _) = approve(&app, &pending, &manager).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = approve(&app, &pending, &fin1).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["type"], "claim.paid");
    assert_eq!(v["entry"]["draw"], "main");
    assert_eq!(v["entry"]["v"], raffle_core::entry::SCHEMA_VERSION);
    let fay: String = sqlx::query_scalar("SELECT staff_id FROM users WHERE username = 'fay'")
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(v["entry"]["supervised_by"], fay.as_str());
    assert_ne!(v["entry"]["by"], v["entry"]["supervised_by"]);
    drop_database(&app.db).await;
}

/// Every path parameter the document gives a type is refused (400) when
/// it does not follow that type's pattern, before the handler runs; an
/// order's id is the exception by design (any miss is the same 404, so an
/// order's existence is not probed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_path_parameter_is_refused_when_malformed() {
    let app = app().await;
    let all = ["administrator", "raffle_manager", "finance", "auditor"];
    let staff = common::signed_in(&app, "root", &all).await;
    let (_, doc) = call(&app, "GET", "/api/v1/openapi.json", None, Value::Null).await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] != "path" || p["schema"].get("$ref").is_none() {
                    continue;
                }
                let name = p["name"].as_str().unwrap();
                let concrete = path
                    .replace(&format!("{{{name}}}"), "Not-Valid!")
                    .replace("{id}", "00000000-0000-4000-8000-000000000000")
                    .replace("{draw_id}", "main");
                let (status, v) = call(
                    &app,
                    &method.to_uppercase(),
                    &concrete,
                    Some(&staff.token),
                    json!({}),
                )
                .await;
                let wanted = if path.starts_with("/api/v1/orders/") {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_REQUEST
                };
                assert_eq!(status, wanted, "{method} {concrete}: {v}");
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked} typed path parameters");
    drop_database(&app.db).await;
}

/// HEAD of a staff route is checked as its GET: refused without a
/// session, answered for a role the GET allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_checked_as_get() {
    let app = app().await;
    let (status, _) = call(&app, "HEAD", "/api/v1/events", None, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let auditor = common::signed_in(&app, "ann", &["auditor"]).await;
    let (status, _) = call(
        &app,
        "HEAD",
        "/api/v1/events",
        Some(&auditor.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let manager = common::signed_in(&app, "mia", &["raffle_manager"]).await;
    let (status, _) = call(
        &app,
        "HEAD",
        "/api/v1/events",
        Some(&manager.token),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    drop_database(&app.db).await;
}
