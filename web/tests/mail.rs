//! Receipts by e-mail: a card buyer who gave an address finds the receipt
//! (every GLI-31 2.3.1 field, the validation number, the `.tlog-proof`
//! attached) in a local SMTP sink's mailbox; a buyer who gave none gets
//! nothing; addresses are purged once the raffle has been closed for the
//! retention period; a malformed address is refused before anything is
//! charged.

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use stripe_fake::{CARD_OK, FakeStripe, Options};
use testkit::app::{call, drop_database, request};
use testkit::stripe::{card_app_with, session_of};

/// Python's e-mail parser on a raw message: subject, the text part, and
/// the attachment's name and content.
fn parse(raw: &str) -> Value {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, json, email, email.policy\n\
             m = email.message_from_string(sys.stdin.read(), policy=email.policy.default)\n\
             body = m.get_body(('plain',)).get_content()\n\
             att = [(p.get_filename(), p.get_content()) for p in m.iter_attachments()]\n\
             print(json.dumps({'subject': m['subject'], 'from': m['from'], 'body': body, 'attachments': att}))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
            c.wait_with_output().unwrap()
        })
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_buyer_finds_the_receipt_in_the_mailbox() {
    let sink = testkit::mail::sink().await;
    let addr = sink.addr.clone();
    let c = card_app_with(FakeStripe::start(Options::test()).await, |config| {
        config.smtp_url = Some(format!("smtp+plain://{addr}"));
        config.smtp_from = Some("Demo Hospital 50/50 <receipts@example.org>".into());
    })
    .await;
    let to = format!(
        "buyer-{}@example.org",
        raffle_core::ids::SaleId::new_order()
    );
    let body = json!({ "package_id": "p3", "buyer": { "age_confirmed": true, "region": "CA-ON", "email": to }, "payment": { "provider": "stripe" } });
    let (status, bytes) = request(
        &c.app,
        "POST",
        &format!("/api/v1/raffles/{}/purchases", c.raffle),
        &[("idempotency-key", "mail-1-0000000000000000")],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let pending: Value = serde_json::from_slice(&bytes).unwrap();
    c.stripe
        .pay(
            &session_of(pending["payment_url"].as_str().unwrap()),
            CARD_OK,
        )
        .unwrap();
    let token = pending["order_token"].as_str().unwrap().to_string();
    let url = pending["order_url"].as_str().unwrap().to_string();
    let mut order = Value::Null;
    for _ in 0..200 {
        order = call(&c.app, "GET", &url, Some(&token), Value::Null).await.1;
        if order["status"] == "issued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipt = &order["receipt"];
    assert!(receipt["validation_number"].is_string(), "{order}");
    let messages = sink.messages_to(&to, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "one receipt, once");
    let m = parse(&messages[0]);
    assert!(
        m["subject"]
            .as_str()
            .unwrap()
            .contains("Demo Hospital 50/50"),
        "{m}"
    );
    let text = m["body"].as_str().unwrap();
    // GLI-31 2.3.1: every field, in both languages.
    for want in [
        receipt["organisation"].as_str().unwrap(),
        receipt["raffle_name"].as_str().unwrap(),
        receipt["licence"].as_str().unwrap(),
        receipt["jurisdiction"].as_str().unwrap(),
        receipt["validation_number"].as_str().unwrap(),
        receipt["draw_numbers"]["first"].as_str().unwrap(),
        "Validation number",
        "Numéro de validation",
        "Issued",
        "Price",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    let attachments = m["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0][0],
        format!(
            "receipt-{}.tlog-proof",
            receipt["sale_id"].as_str().unwrap()
        )
        .as_str()
    );
    assert_eq!(
        attachments[0][1].as_str().unwrap().trim_end(),
        receipt["proof"].as_str().unwrap().trim_end()
    );
    let mailed: bool =
        sqlx::query_scalar("SELECT receipt_mailed_at IS NOT NULL FROM orders WHERE id = $1::uuid")
            .bind(receipt["sale_id"].as_str().unwrap())
            .fetch_one(&c.app.state.store.pool)
            .await
            .unwrap();
    assert!(mailed);
    // The address is kept until the raffle has been closed for the retention period.
    assert_eq!(web::purge_personal_data(&c.app.state).await.unwrap(), 0);
    c.app
        .state
        .sequencer
        .submit(raffle_core::store::sequencer::Change::CloseRaffle {
            raffle: c.raffle.parse().unwrap(),
            by: raffle_core::ids::StaffId::new_random().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(
        web::purge_personal_data(&c.app.state).await.unwrap(),
        0,
        "closed just now"
    );
    let mut state = c.app.state.clone();
    let mut config = (*state.config).clone();
    config.personal_data_days = 0;
    state.config = std::sync::Arc::new(config);
    assert_eq!(web::purge_personal_data(&state).await.unwrap(), 1);
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE buyer::text LIKE '%' || $1 || '%'")
            .bind(&to)
            .fetch_one(&c.app.state.store.pool)
            .await
            .unwrap();
    assert_eq!(kept, 0, "the address is gone");
    drop_database(&c.app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_address_is_refused_before_anything_is_charged() {
    let c = testkit::stripe::card_app().await;
    for bad in [
        "no-at-sign",
        "two@@example.org",
        "a@b",
        "victim@example.org\r\nBcc: everyone@example.org",
        "a@example.org, b@example.org",
        "<a@example.org>",
    ] {
        let body = json!({ "package_id": "p3", "buyer": { "age_confirmed": true, "region": "CA-ON", "email": bad }, "payment": { "provider": "stripe" } });
        let (status, bytes) = request(
            &c.app,
            "POST",
            &format!("/api/v1/raffles/{}/purchases", c.raffle),
            &[],
            body.to_string(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(String::from_utf8_lossy(&bytes).contains("buyer.email"));
    }
    assert_eq!(testkit::app::rows(&c.app, "orders").await, 0);
    assert!(c.stripe.sessions().is_empty(), "nothing was sent to Stripe");
    drop_database(&c.app.db).await;
}
