//! No log line of a full raffle (sales, a void with two people, both
//! reconciliations and draws, an ordinary and a supervised claim, staff
//! sign-ins) holds a validation number, an order or session token, a
//! password, a TOTP secret, a winner's identity or an e-mail address: the
//! logs are captured at the most verbose level, every crate's included.

mod common;

use common::web_common::{self, drop_database};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_of_a_full_raffle_holds_a_secret_or_personal_data() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = web_common::app().await;
    let admin = web_common::signed_in(&app, "logcheck", &["administrator"]).await;
    let (status, _) = web_common::call(
        &app,
        "GET",
        "/api/v1/events",
        Some(&admin.token),
        serde_json::Value::Null,
    )
    .await;
    assert!(status.is_success());
    let ran = common::run_raffle(&app).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.len() > 50,
        "the scenario logged {} lines",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l.contains("request_id")),
        "request lines carry their id"
    );
    let mut secrets: Vec<(String, String)> = vec![
        ("a session token".into(), admin.token.clone()),
        ("a password".into(), admin.password.clone()),
        ("a TOTP secret".into(), admin.totp_secret.clone()),
        ("a winner's name".into(), "A. Winner".into()),
        ("a winner's document".into(), "licence X1".into()),
    ];
    for r in &ran.receipts {
        for (what, key) in [
            ("a validation number", "validation_number"),
            ("an order token", "order_token"),
        ] {
            let v = r[key]
                .as_str()
                .unwrap_or_else(|| panic!("a receipt has {key}: {r}"));
            secrets.push((what.into(), v.to_string()));
            // Also as the digits alone (validation numbers print with dashes).
            secrets.push((what.into(), v.replace('-', "")));
        }
    }
    for line in &lines {
        for (what, secret) in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "{what} in a log line: {line}"
            );
        }
        // An e-mail address: something@something.tld.
        let email = line
            .split(|c: char| c.is_whitespace() || "\"'<>(),;".contains(c))
            .any(|w| {
                w.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && host.contains('.') && !host.starts_with('.')
                })
            });
        assert!(!email, "an e-mail address in a log line: {line}");
    }
    drop_database(&app.db).await;
}
