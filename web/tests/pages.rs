//! The public pages, through the real router on the real PostgreSQL: the
//! raffle list, the raffle page (live jackpot estimate marked as one,
//! countdown, packages, draws, rules) and the transparency page, in English
//! and French (Canada), each with the security headers.
//! The same pages in Chromium: `browser.rs`; the console's pages: `console.rs`.

use testkit::app as common;

use axum::http::StatusCode;
use common::{PURCHASE, app, drop_database};

async fn get(
    app: &common::App,
    path: &str,
    lang: &str,
) -> (StatusCode, String, axum::http::HeaderMap) {
    send(app, "GET", path, lang, &[], String::new()).await
}

async fn send(
    app: &common::App,
    method: &str,
    path: &str,
    lang: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (StatusCode, String, axum::http::HeaderMap) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("accept-language", lang)
        .header("host", "raffles.example");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(axum::body::Body::from(body)).unwrap();
    let resp = web::router(app.state.clone()).oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), headers)
}

fn assert_secure(headers: &axum::http::HeaderMap, what: &str) {
    assert_eq!(headers["content-security-policy"], web::site::CSP, "{what}");
    assert!(web::site::CSP.contains("script-src 'self'") && !web::site::CSP.contains("unsafe"));
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_pages_in_english_and_french() {
    let app = app().await;
    let raffle = web::cli::demo::ensure_demo_raffle(&app.state)
        .await
        .unwrap();

    let (status, html, headers) = get(&app, "/", "en-CA,en;q=0.9").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&headers, "/");
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(
        html.contains("Demo Hospital 50/50") && html.contains("On sale"),
        "{html}"
    );
    assert!(
        html.contains(&format!("/raffles/{raffle}?lang=en")),
        "{html}"
    );

    let page = format!("/raffles/{raffle}");
    let (status, html, headers) = get(&app, &page, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&headers, &page);
    for want in [
        "Current jackpot",
        "Estimate: the prize is 50% of net sales",
        "data-jackpot-url",
        "data-closes-at",
        "Ticket packages",
        "3 tickets for $10.00",
        "Early bird",
        "Not drawn yet",
        "You must be 18 or older",
        "0 numbers sold",
    ] {
        assert!(html.contains(want), "{want:?} in {html}");
    }
    // Times in the raffle's time zone, 24-hour.
    assert!(html.contains(" EST") || html.contains(" EDT"), "{html}");
    assert!(!html.contains(" AM") && !html.contains(" PM"), "{html}");

    // French (Canada), from the browser's languages or the switcher.
    let (_, fr, _) = get(&app, &page, "fr-CA,fr;q=0.9,en;q=0.5").await;
    assert!(fr.contains("<html lang=\"fr-CA\">"), "{fr}");
    for want in [
        "Gros lot actuel",
        "Estimation",
        "50\u{a0}%",
        "3 billets pour 10,00\u{a0}$",
        "Règlement",
    ] {
        assert!(fr.contains(want), "{want:?} in {fr}");
    }
    for english in [
        "Current jackpot",
        "Ticket packages",
        "Rules",
        "Not drawn yet",
        "Sales close",
    ] {
        assert!(
            !fr.contains(english),
            "English {english:?} on the French page"
        );
    }
    let (_, switched, _) = get(&app, &format!("{page}?lang=fr-CA"), "en").await;
    assert!(switched.contains("Gros lot actuel"));

    // The live jackpot follows the sales.
    let (_, before, _) = get(&app, &format!("{page}/jackpot?lang=en"), "en").await;
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(
        (before["text"].as_str(), before["open"].as_bool()),
        (Some("$0.00"), Some(true))
    );
    let (status, _) = common::request(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[],
        PURCHASE.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, after, _) = get(&app, &format!("{page}/jackpot?lang=fr-CA"), "en").await;
    let after: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(after["text"], "5,00\u{a0}$", "half of one 10.00 sale");

    // Unknown raffle: a page, not an error dump.
    let (status, html, _) = get(&app, "/raffles/00000000-0000-0000-0000-000000000000", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("No such raffle."));

    // Transparency: the checkpoint, the key and how to audit.
    let (status, html, headers) = get(&app, "/transparency", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&headers, "/transparency");
    assert!(html.contains(&app.state.vkey), "{html}");
    assert!(
        html.contains("raffle-audit log http://raffles.example/log/"),
        "{html}"
    );
    assert!(html.contains("Entries in the log: "), "{html}");
    let (_, fr, _) = get(&app, "/transparency", "fr").await;
    assert!(fr.contains("Vérifiez vous-même"), "{fr}");

    // The ticket check: a form with a CSRF token; the validation number
    // only ever in the POST body.
    let (_, bytes) = common::request(
        &app,
        "POST",
        &format!("/api/v1/raffles/{raffle}/purchases"),
        &[("idempotency-key", "check-1-00000000000000000000")],
        PURCHASE.to_string(),
    )
    .await;
    let receipt: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let vn = receipt["validation_number"].as_str().unwrap();
    let (status, html, headers) = get(&app, "/tickets/check", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&headers, "/tickets/check");
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.split_once('=').unwrap().1.to_string();
    assert!(
        html.contains(&format!("name=\"csrf\" value=\"{token}\"")),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"validation_number\">Validation number</label>"),
        "{html}"
    );
    let form =
        |vn: &str, token: &str| format!("csrf={token}&validation_number={}", vn.replace(' ', "+"));
    let post = |body: String, cookie: Option<String>| {
        let app = &app;
        async move {
            let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
            let cookie = cookie.unwrap_or_default();
            if !cookie.is_empty() {
                h.push(("cookie", cookie.as_str()));
            }
            send(app, "POST", "/tickets/check", "en", &h, body).await
        }
    };
    // Without the cookie, or with another token: refused (CSRF).
    let (status, html, _) = post(form(vn, &token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("This form has expired"), "{html}");
    let (status, _, _) = post(form(vn, "A".repeat(43).as_str()), Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html, _) = post(form("not-a-number", &token), Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("This is not a validation number"), "{html}");
    let other = raffle_core::validation::ValidationNumber::generate()
        .unwrap()
        .to_text();
    let (status, html, _) = post(form(&other, &token), Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
    assert!(
        html.contains("No ticket has this validation number."),
        "{html}"
    );
    let (status, html, headers) = post(form(vn, &token), Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(html.contains("Valid: in the draw"), "{html}");
    assert!(html.contains("c2sp.org/tlog-proof@v1"), "{html}");
    assert!(
        html.contains("raffle-audit ticket receipt.tlog-proof --vkey"),
        "{html}"
    );
    assert!(
        !html.contains(vn),
        "the page does not echo the validation number"
    );
    let sale = receipt["sale_id"].as_str().unwrap();
    let (status, file, headers) =
        get(&app, &format!("/sales/{sale}/receipt.tlog-proof"), "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(file, receipt["proof"].as_str().unwrap());

    // Buying through the form: the API's purchase path, a receipt page with
    // every GLI-31 2.3.1 field and a QR code; the same form sent twice buys once.
    let (_, html, headers) = get(&app, &page, "en").await;
    let cookie = match headers.get("set-cookie") {
        Some(c) => c.to_str().unwrap().split(';').next().unwrap().to_string(),
        None => cookie.clone(),
    };
    let token = cookie.split_once('=').unwrap().1.to_string();
    assert!(
        html.contains("Buy tickets") && html.contains("name=\"order_key\""),
        "{html}"
    );
    let order_key = html
        .split("name=\"order_key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let buy = |body: String, cookie: String| {
        let app = &app;
        let path = format!("{page}/buy");
        async move {
            let h = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", cookie.as_str()),
            ];
            send(app, "POST", &path, "en", &h, body).await
        }
    };
    let form = format!(
        "csrf={token}&order_key={order_key}&package_id=p10&quantity=2&age_confirmed=yes&region=CA-ON&payment=now"
    );
    let (status, html, headers) = buy(form.clone(), cookie.clone()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    for want in [
        "Your receipt",
        "Demo Hospital Foundation",
        "Demo Hospital 50/50",
        "DEMO-0001",
        "CA-ON",
        "(20 numbers)",
        "online",
        "$40.00",
        "<svg",
        "receipt.tlog-proof",
    ] {
        assert!(html.contains(want), "{want:?} in {html}");
    }
    let vn_of = |html: &str| {
        html.split("<strong class=\"vn\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let vn = vn_of(&html);
    assert!(
        raffle_core::validation::ValidationNumber::parse(&vn).is_ok(),
        "{vn}"
    );
    let (_, again, _) = buy(form.clone(), cookie.clone()).await;
    assert_eq!(vn_of(&again), vn, "the same form twice buys once");
    let (status, _, _) = buy(
        form.replace(&format!("csrf={token}"), "csrf=x"),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html, _) = buy(
        form.replace("age_confirmed=yes&", "")
            .replace(&order_key, "other-key-00000000000000000"),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("The purchase did not go through: buyers must confirm they are at least 18"),
        "{html}"
    );
    // A payment confirmed later: the order page waits, refreshing itself.
    let later = form
        .replace("payment=now", "payment=later")
        .replace(&order_key, "later-key-00000000000000000");
    let (status, _, headers) = buy(later, cookie.clone()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/orders/"), "{location}");
    // The order's token travels in a cookie set with the redirect, never in the URL.
    let order_cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(order_cookie.starts_with("raffle_order_"), "{order_cookie}");
    assert!(!location.contains(order_cookie.split_once('=').unwrap().1));
    let (status, _, _) = get(&app, &location, "en").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the order id alone shows nothing"
    );
    let location = location.replace("?lang=en", "?lang=fr-CA");
    let with_order = [("cookie", order_cookie.as_str())];
    let get = |app, location, lang| send(app, "GET", location, lang, &with_order, String::new());
    let (status, html, headers) = get(&app, &location, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Votre paiement est en cours"), "{html}");
    assert_eq!(headers["refresh"], "2");
    let mut html = html;
    for _ in 0..30 {
        if html.contains("Votre reçu") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        html = get(&app, &location, "en").await.1;
    }
    assert!(
        html.contains("Votre reçu") && html.contains("40,00\u{a0}$"),
        "{html}"
    );

    // The two assets, with their types.
    let (status, css, headers) = get(&app, "/static/site.css", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
            && css.contains("body")
    );
    let (_, _, headers) = get(&app, "/static/live.js", "en").await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    drop_database(&app.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_with_totp_and_ends_sessions() {
    let app = app().await;
    let (mia, password) = web::app::auth::new_user(
        "mia",
        &[raffle_core::Role::parse("raffle_manager").unwrap()],
    )
    .unwrap();
    app.state.store.create_user(&mia).await.unwrap();
    let (fay, fay_password) =
        web::app::auth::new_user("fay", &[raffle_core::Role::parse("finance").unwrap()]).unwrap();
    app.state.store.create_user(&fay).await.unwrap();

    // Not signed in: to the sign-in page.
    let (status, _, headers) = get(&app, "/console", "en").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/console/sign-in?lang=en");
    let (status, html, headers) = get(&app, "/console/sign-in", "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_secure(&headers, "/console/sign-in");
    assert_eq!(headers["cache-control"], "no-store");
    let csrf = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = csrf.split_once('=').unwrap().1.to_string();
    assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
    let sign_in = |user: &str, password: &str, code: &str, token: &str, cookie: &str| {
        let body = format!(
            "csrf={token}&username={user}&password={}&code={code}",
            password
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        let cookie = cookie.to_string();
        let app = &app;
        async move {
            let h = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", cookie.as_str()),
            ];
            send(app, "POST", "/console/sign-in", "en", &h, body).await
        }
    };
    // The form needs its CSRF token; a wrong code is refused.
    let code = web::app::auth::totp_now(&mia.totp_secret).unwrap();
    let (status, html, _) = sign_in("mia", &password, &code, "forged", &csrf).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, html, _) = sign_in("mia", &password, wrong, &token, &csrf).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(html.contains("Wrong username, password or code."), "{html}");
    // Password and code: a session cookie for the console only.
    let (status, html, headers) = sign_in("mia", &password, &code, &token, &csrf).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let session = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        session.contains("Path=/console; HttpOnly; SameSite=Strict"),
        "{session}"
    );
    let both = format!("{csrf}; {}", session.split(';').next().unwrap());
    let (status, html, headers) = send(
        &app,
        "GET",
        "/console",
        "en",
        &[("cookie", both.as_str())],
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        html.contains("Signed in as mia (Raffle manager)."),
        "{html}"
    );
    // 30 minutes idle end the session.
    sqlx::query("UPDATE sessions SET last_seen = now() - interval '31 minutes'")
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (status, html, _) = send(
        &app,
        "GET",
        "/console",
        "en",
        &[("cookie", both.as_str())],
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Your session ended"), "{html}");

    // Sign-out ends the session at once.
    let code = web::app::auth::totp_now(&fay.totp_secret).unwrap();
    let (status, _, headers) = sign_in("fay", &fay_password, &code, &token, &csrf).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let both = format!(
        "{csrf}; {}",
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
    );
    let h = [
        ("cookie", both.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let (status, _, headers) = send(
        &app,
        "POST",
        "/console/sign-out",
        "en",
        &h,
        format!("csrf={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, html, _) = send(
        &app,
        "GET",
        "/console",
        "en",
        &[("cookie", both.as_str())],
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");

    // Five failures lock this address out of the account (the API's
    // rule), answered as any wrong sign-in is.
    for _ in 0..5 {
        sign_in("fay", "wrong", "000000", &token, &csrf).await;
    }
    let (status, html, _) = sign_in("fay", &fay_password, "000000", &token, &csrf).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    assert!(html.contains("Wrong username, password or code."), "{html}");
    drop_database(&app.db).await;
}
