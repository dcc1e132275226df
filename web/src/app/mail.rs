//! Receipts by e-mail (lettre, SMTP over rustls).
//!
//! A buyer who gave an e-mail address gets the receipt once the tickets
//! are issued: every GLI-31 2.3.1 field, the validation number, and the
//! `.tlog-proof` attached (it verifies offline with the log's key). In
//! both of the site's languages, since an order does not record one.
//!
//! The address lives in the order's buyer details in PostgreSQL only,
//! never in the log, a page or a log line, and is purged once the raffle
//! has been closed for the retention period (`RAFFLE_PERSONAL_DATA_DAYS`).
//! Sending is after the answer (a slow mail server never delays a
//! purchase); a failure is recorded on the order and retried while the
//! receipt's draft (with the validation number) is kept.
//!
//! `RAFFLE_SMTP_URL` is `smtps://host:465` (TLS from the start),
//! `smtp://host:587` (STARTTLS, required), or `smtp+plain://127.0.0.1:1025`
//! (no TLS: a local relay or the tests' sink only; refused for any host
//! but a loopback address).

use crate::AppState;
use crate::config::Config;
use crate::i18n::Lang;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use raffle_core::Timestamp;
use serde_json::Value;

/// The configured mail server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The mailer the settings describe (none without `RAFFLE_SMTP_URL`).
    pub fn from_config(config: &Config) -> Result<Option<Mailer>, String> {
        let Some(url) = config.smtp_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        // The URL is not repeated: it might hold a password after all.
        let bad = |why: &str| format!("RAFFLE_SMTP_URL: {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("not scheme://host:port"))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => (
                rest.trim_end_matches('/'),
                if scheme == "smtps" { 465 } else { 587 },
            ),
        };
        if host.is_empty() || host.contains('@') || host.contains('/') {
            return Err(bad(
                "give the host and port only; the user and password are settings of their own",
            ));
        }
        let mut builder = match scheme {
            "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| bad(&e.to_string()))?,
            "smtp" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| bad(&e.to_string()))?,
            "smtp+plain" => {
                let loopback = host == "localhost"
                    || host
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|a| a.is_loopback());
                if !loopback {
                    return Err(bad(
                        "smtp+plain (no TLS) is only for a relay on this machine",
                    ));
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            }
            _ => return Err(bad("the scheme is smtps, smtp (STARTTLS) or smtp+plain")),
        }
        .port(port)
        .timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(user) = config.smtp_username.as_deref().filter(|u| !u.is_empty()) {
            let password = config
                .smtp_password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.to_string(), password));
        }
        let from: Mailbox = config
            .smtp_from
            .as_deref()
            .ok_or("RAFFLE_SMTP_FROM (the receipts' sender) is required with RAFFLE_SMTP_URL")?
            .parse()
            .map_err(|e| format!("RAFFLE_SMTP_FROM: {e}"))?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }
}

/// Whether `address` is one a receipt can be sent to (lettre's parser).
pub fn valid_address(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

/// The receipt's text in one language.
fn text(lang: Lang, r: &Value) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    let zone = s("time_zone");
    let time = |v: &Value| {
        v.as_str()
            .and_then(|t| Timestamp::parse(t).ok())
            .map(|t| lang.time(t, &zone))
            .unwrap_or_default()
    };
    let n = &r["draw_numbers"];
    let numbers = lang.plural(
        "receipt.numbers.range",
        n["count"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        &[
            ("first", n["first"].as_str().unwrap_or("")),
            ("last", n["last"].as_str().unwrap_or("")),
        ],
    );
    let price = serde_json::from_value::<raffle_core::Money>(r["price"].clone())
        .map(|m| lang.money(m))
        .unwrap_or_default();
    let unit = if s("sales_unit") == "online" {
        lang.t("receipt.unit.online").to_string()
    } else {
        s("sales_unit")
    };
    let mut out = format!(
        "{}\n\n{}\n\n",
        lang.t("receipt.title"),
        lang.t("receipt.keep")
    );
    let mut line = |label: &str, value: String| out.push_str(&format!("{label}: {value}\n"));
    line(lang.t("receipt.organisation"), s("organisation"));
    line(lang.t("receipt.event"), s("raffle_name"));
    if let Some(l) = r["licence"].as_str() {
        line(lang.t("receipt.licence"), l.to_string());
    }
    line(lang.t("receipt.jurisdiction"), s("jurisdiction"));
    line(lang.t("receipt.numbers"), numbers);
    line(lang.t("receipt.issued"), time(&r["issued_at"]));
    line(lang.t("receipt.unit"), unit);
    line(lang.t("receipt.price"), price);
    line(lang.t("receipt.validation"), s("validation_number"));
    out.push_str(&format!("\n{}:\n", lang.t("receipt.draws")));
    for d in r["draws"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "- {}\n",
            lang.f(
                "receipt.draw",
                &[
                    ("name", d["name"].as_str().unwrap_or("")),
                    ("time", &time(&d["draw_at"]))
                ]
            )
        ));
    }
    out.push_str(&format!(
        "\n{}\n{}\n",
        lang.f("receipt.log", &[("index", &s("log_index"))]),
        lang.t("mail.proof"),
    ));
    out
}

/// The receipt message to `to`.
pub fn message(from: &Mailbox, to: &str, receipt: &Value) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("the buyer's address: {e}"))?;
    let body = format!(
        "{}\n----------------------------------------\n\n{}",
        text(Lang::En, receipt),
        text(Lang::FrCa, receipt)
    );
    let proof = receipt["proof"].as_str().unwrap_or_default().to_string();
    let sale = receipt["sale_id"].as_str().unwrap_or_default();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!(
            "{} / {}: {}",
            Lang::En.t("mail.subject"),
            Lang::FrCa.t("mail.subject"),
            receipt["raffle_name"].as_str().unwrap_or_default()
        ))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(
                    Attachment::new(format!("receipt-{sale}.tlog-proof"))
                        .body(proof, ContentType::TEXT_PLAIN),
                ),
        )
        .map_err(|e| format!("composing the receipt: {e}"))
}

/// Sends an issued order's receipt if its buyer gave an address, after the
/// answer; records the outcome on the order.
pub fn send_receipt_later(state: &AppState, order: &str, receipt: &Value) {
    let Some(mailer) = state.mailer.clone() else {
        return;
    };
    let (state, order, receipt) = (state.clone(), order.to_string(), receipt.clone());
    tokio::spawn(async move {
        let Ok(Some(record)) = state.store.order_record(&order).await else {
            return;
        };
        let Some(to) = record.buyer_email.filter(|e| !e.is_empty()) else {
            return;
        };
        if state.store.receipt_mailed(&order).await.unwrap_or(true) {
            return;
        }
        // What is kept and logged of a failure names no address (a mail
        // server's refusal usually quotes the recipient).
        let outcome = match message(&mailer.from, &to, &receipt) {
            Ok(m) => mailer.transport.send(m).await.map(|_| ()).map_err(|e| {
                let code = e
                    .status()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "no answer".into());
                if e.is_permanent() {
                    format!("the mail server refused the receipt ({code})")
                } else {
                    format!("the mail server could not take the receipt now ({code})")
                }
            }),
            Err(_) => Err("the receipt could not be composed for this address".to_string()),
        };
        let error = outcome.err();
        if let Some(e) = &error {
            tracing::warn!(order = %order, error = %e, "mailing a receipt failed");
        }
        if let Err(e) = state
            .store
            .record_receipt_mail(&order, error.as_deref())
            .await
        {
            tracing::error!(order = %order, error = %e, "recording a receipt's mailing");
        }
    });
}
