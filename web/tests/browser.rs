//! The public pages in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm; `scripts/test` installs both): every page in
//! English and French on a desktop and a 390 px phone, with no serious or
//! critical axe-core violation, no horizontal scrolling on the phone, no
//! console error (a CSP violation is one), the jackpot updating live
//! while another client buys, and a buyer buying a package through the
//! form, seeing the receipt and checking the ticket. `SCREENSHOTS=<dir>` keeps a screenshot of
//! every page (`scripts/screenshots`).

use testkit::app as common;

use common::{app, drop_database};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_pages_in_chromium_are_accessible_fit_a_phone_and_update_live() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and web/tests/browser/node_modules: run scripts/test, which installs them"
    );
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = web::router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("public.mjs"))
        .arg(format!("http://{addr}"))
        .arg(raffle.as_str());
    if let Some(shots) = std::env::var_os("SCREENSHOTS") {
        command.arg(shots);
    }
    let out = command.output().await.expect("node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser script failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

    let pages = r["pages"].as_array().unwrap();
    assert_eq!(
        pages.len(),
        20,
        "4 pages and a receipt × 2 languages × 2 devices: {pages:?}"
    );
    for p in pages {
        assert_eq!(p["status"], 200, "{p}");
        assert!(
            p["url"]
                .as_str()
                .unwrap()
                .ends_with(p["lang"].as_str().unwrap()),
            "{p}"
        );
    }
    assert_eq!(
        r["violations"],
        serde_json::json!([]),
        "axe-core: serious or critical violations"
    );
    assert_eq!(
        r["overflow"],
        serde_json::json!([]),
        "horizontal scrolling on a 390 px phone"
    );
    assert_eq!(
        r["consoleErrors"],
        serde_json::json!([]),
        "console errors (CSP violations among them)"
    );
    let countdown = r["countdown"].as_str().unwrap();
    assert!(
        countdown.contains(':') && countdown != "—",
        "the countdown ticks: {countdown:?}"
    );
    let j = &r["jackpot"];
    assert_eq!(j["purchase"], 201, "{j}");
    let cents = |v: &serde_json::Value| -> u64 {
        v.as_str()
            .unwrap()
            .trim_start_matches('$')
            .replace([',', '.'], "")
            .parse()
            .unwrap()
    };
    assert_eq!(
        cents(&j["after"]) - cents(&j["before"]),
        1000,
        "half of a 20.00 package, shown without a reload: {j}"
    );
    assert_eq!(
        r["check"]["status"], "Valide : participe au tirage",
        "{}",
        r["check"]
    );
    assert_eq!(r["check"]["proof"], true);
    drop_database(&app.db).await;
}

/// Runs a browser script; returns its JSON result.
async fn node(script: &str, args: &[&str]) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_signs_in_with_totp_and_the_session_expires_in_chromium() {
    let app = app().await;
    let (mia, password) = web::app::auth::new_user(
        "mia",
        &[raffle_core::Role::parse("raffle_manager").unwrap()],
    )
    .unwrap();
    app.state.store.create_user(&mia).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = web::router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let state = tempfile::NamedTempFile::new().unwrap();
    let state_file = state.path().to_str().unwrap();

    let code = web::app::auth::totp_now(&mia.totp_secret).unwrap();
    let r = node(
        "console.mjs",
        &["sign-in", &base, "mia", &password, &code, state_file],
    )
    .await;
    assert!(
        r["redirected"]
            .as_str()
            .unwrap()
            .ends_with("/console/sign-in?lang=en"),
        "{r}"
    );
    assert!(
        r["home"]
            .as_str()
            .unwrap()
            .contains("Signed in as mia (Raffle manager)."),
        "{r}"
    );
    assert_eq!(r["signInViolations"], serde_json::json!([]), "{r}");
    assert_eq!(r["homeViolations"], serde_json::json!([]), "{r}");

    // 30 minutes without activity pass.
    sqlx::query("UPDATE sessions SET last_seen = now() - interval '31 minutes'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let r = node("console.mjs", &["expired", &base, state_file]).await;
    assert_eq!(r["expiredStatus"], 401, "{r}");
    assert!(
        r["expired"]
            .as_str()
            .unwrap()
            .contains("Your session ended"),
        "{r}"
    );
    assert_eq!(
        r["noTokenStatus"], 403,
        "a form post without its CSRF token: {r}"
    );
    assert!(
        r["noToken"]
            .as_str()
            .unwrap()
            .contains("This form has expired"),
        "{r}"
    );
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_and_finance_run_a_raffle_through_the_console_in_chromium() {
    let app = app().await;
    let mut users = serde_json::Map::new();
    for (who, name, role) in [
        ("manager", "mia", "raffle_manager"),
        ("finance", "fay", "finance"),
        ("approver", "finn", "finance"),
        ("admin", "ada", "administrator"),
        ("newcomer", "nina", "auditor"),
    ] {
        let (mut u, password) =
            web::app::auth::new_user(name, &[raffle_core::Role::parse(role).unwrap()]).unwrap();
        // As the console creates users: the authenticator comes at first sign-in.
        u.enrolled = who != "newcomer";
        u.must_set_password = who == "newcomer";
        app.state.store.create_user(&u).await.unwrap();
        let user = if who == "newcomer" {
            serde_json::json!({ "user": name, "password": password })
        } else {
            serde_json::json!({ "user": name, "password": password, "code": web::app::auth::totp_now(&u.totp_secret).unwrap() })
        };
        users.insert(who.into(), user);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = web::router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let users = serde_json::Value::Object(users).to_string();
    let shots = std::env::var("SCREENSHOTS").unwrap_or_default();
    let mut args = vec![base.as_str(), users.as_str()];
    if !shots.is_empty() {
        args.push(&shots);
    }
    let r = node("manage.mjs", &args).await;

    assert!(
        r["managerHome"]
            .as_str()
            .unwrap()
            .contains("Signed in as mia (Raffle manager)."),
        "{r}"
    );
    assert_eq!(r["created"], "The raffle was created as a draft.", "{r}");
    assert_eq!(r["opened"], "Sales are open.", "{r}");
    assert_eq!(r["closed"], "Sales are closed.", "{r}");
    assert_eq!(
        r["figures"],
        serde_json::json!({ "sales": "1", "net": "$10.00" }),
        "{r}"
    );
    assert!(
        r["requested"].as_str().unwrap().starts_with("Requested"),
        "{r}"
    );
    assert_eq!(r["approved"], "Approved and recorded in the log.", "{r}");
    assert!(
        r["frozen"]
            .as_str()
            .unwrap()
            .starts_with("The draw is frozen"),
        "{r}"
    );
    assert_eq!(r["eligible"], "3", "{r}");
    assert!(
        r["performed"]
            .as_str()
            .unwrap()
            .starts_with("The draw is performed"),
        "{r}"
    );
    let winner: u64 = r["winner"].as_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&winner), "{r}");
    let raffle = r["raffle"].as_str().unwrap();
    assert!(
        r["replay"]
            .as_str()
            .unwrap()
            .contains(&format!("raffle-audit draw {base}/log/ --raffle {raffle}")),
        "{r}"
    );
    assert!(
        r["claim"]
            .as_str()
            .unwrap()
            .contains("Valid winning ticket: pay $5.00."),
        "{r}"
    );
    assert_eq!(r["violations"], serde_json::json!([]), "axe-core: {r}");
    assert_eq!(r["overflow"], serde_json::json!([]), "a 390 px phone: {r}");
    assert_eq!(r["pages"].as_array().unwrap().len(), 15, "{r}");
    assert_eq!(r["enrolQr"], true, "{r}");
    assert_eq!(
        r["enrolled"], "Your authenticator is set up. Use its codes from now on.",
        "{r}"
    );
    // What the browser did is what the ledger holds.
    {
        let ledger = app.state.sequencer.ledger();
        let raffle = ledger.raffle(raffle).unwrap();
        assert_eq!(raffle.status, raffle_core::ledger::Status::Closed);
        let main = &raffle.draws["main"];
        assert!(main.reconciled && main.claimed);
        assert_eq!(main.winner.as_ref().unwrap().number, winner);
    }
    drop_database(&app.db).await;
}

/// A buyer pays by card through the fake Stripe's hosted page, comes back
/// to the order page, sees the receipt, and finds the same receipt in the
/// SMTP sink's mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_by_card_on_stripes_page_and_gets_the_receipt_on_the_page_and_by_mail() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and web/tests/browser/node_modules: run scripts/test, which installs them"
    );
    let sink = testkit::mail::sink().await;
    let smtp = sink.addr.clone();
    let c = testkit::stripe::card_app_with(
        stripe_fake::FakeStripe::start(stripe_fake::Options::test()).await,
        |config| {
            config.smtp_url = Some(format!("smtp+plain://{smtp}"));
            config.smtp_from = Some("Demo Hospital 50/50 <receipts@example.org>".into());
        },
    )
    .await;
    let email = format!(
        "browser-{}@example.org",
        raffle_core::ids::SaleId::new_order()
    );
    let base = format!("http://{}", c.addr);
    let r = node("card.mjs", &[&base, &c.raffle, &email]).await;
    assert!(
        r["stripePage"].as_str().unwrap().starts_with(&c.stripe.url),
        "the form goes to Stripe's page: {r}"
    );
    assert_eq!(r["amount"], "CAD 10.00", "{r}");
    assert_eq!(r["declined"], "Your card was declined.", "{r}");
    let returned = r["returned"].as_str().unwrap();
    assert!(
        returned.starts_with(&format!("{base}/orders/")) && !returned.contains("token"),
        "back on the order page, the token never in the URL: {returned}"
    );
    let vn = r["validation"]
        .as_str()
        .unwrap_or_else(|| panic!("no receipt: {r}"));
    assert_eq!(r["title"], "Your receipt", "{r}");
    assert_eq!(r["consoleErrors"], serde_json::json!([]), "{r}");
    // The same receipt by mail.
    let mail = sink
        .messages_to(&email, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mail.len(), 1, "one receipt by mail");
    let body = {
        use std::io::Write as _;
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, email, email.policy\n\
                 m = email.message_from_string(sys.stdin.read(), policy=email.policy.default)\n\
                 print(m.get_body(('plain',)).get_content())",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(mail[0].as_bytes())
            .unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    assert!(
        body.contains(vn),
        "the mailed receipt holds the validation number {vn}: {body}"
    );
    // One order, issued and captured.
    let intents = c.stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "succeeded");
    drop_database(&c.app.db).await;
}
