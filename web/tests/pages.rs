//! The public pages, through the real router on the real PostgreSQL: the
//! raffle list, the raffle page (live jackpot estimate marked as one,
//! countdown, packages, draws, rules) and the transparency page, in English
//! and French (Canada), each with the security headers.
//! (Browser tests in Chromium are to come with the rest of issue 5.)

mod common;

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
    let resp = web::api::router(app.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), headers)
}

fn assert_secure(headers: &axum::http::HeaderMap, what: &str) {
    assert_eq!(
        headers["content-security-policy"],
        web::pages::CSP,
        "{what}"
    );
    assert!(web::pages::CSP.contains("script-src 'self'") && !web::pages::CSP.contains("unsafe"));
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
    let raffle = web::demo::ensure_demo_raffle(&app.state).await.unwrap();

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
        &[("idempotency-key", "check-1")],
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
