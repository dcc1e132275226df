//! The hosted checkout page: what a buyer's browser sees at a session's
//! `url`. The buyer types a card number; 4242 4242 4242 4242 is
//! authorised (and the browser is sent to the session's `success_url`),
//! anything else is declined (and the page says so, as Stripe's does).

use crate::Inner;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(inner: &Inner, id: &str, error: Option<&str>) -> Response {
    let session = inner.state.lock().unwrap().sessions.get(id).cloned();
    let Some(s) = session else {
        return (
            StatusCode::NOT_FOUND,
            Html(
                "<h1>Something went wrong</h1><p>This Checkout Session does not exist.</p>"
                    .to_string(),
            ),
        )
            .into_response();
    };
    let amount = s["amount_total"].as_i64().unwrap_or(0);
    let currency = s["currency"].as_str().unwrap_or("").to_uppercase();
    let name = escape(s["_fake"]["name"].as_str().unwrap_or(""));
    let status = s["status"].as_str().unwrap_or("");
    let body = if status != "open" {
        format!("<h1>This Checkout Session is {}</h1>", escape(status))
    } else {
        format!(
            "<h1>Pay {name}</h1>\
             <p id=\"amount\">{currency} {}.{:02}</p>\
             {}\
             <form method=\"post\">\
               <label for=\"card\">Card number</label> <input id=\"card\" name=\"card\" autocomplete=\"off\" inputmode=\"numeric\">\
               <button id=\"pay\" type=\"submit\">Pay</button>\
             </form>\
             <p>Test mode: 4242 4242 4242 4242 is authorised, 4000 0000 0000 0002 is declined.</p>",
            amount / 100,
            amount % 100,
            error
                .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>", escape(e)))
                .unwrap_or_default(),
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fake Stripe Checkout</title><link rel=\"icon\" href=\"data:,\"></head><body>{body}</body></html>"
    ))
    .into_response()
}

pub(crate) async fn show(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> Response {
    page(&inner, &id, None)
}

pub(crate) async fn pay(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let card = form.get("card").map(String::as_str).unwrap_or("");
    match crate::objects::pay(&inner, &id, card) {
        Ok(success) => (StatusCode::SEE_OTHER, [(header::LOCATION, success)]).into_response(),
        Err(e) => page(&inner, &id, Some(&e.message)),
    }
}
