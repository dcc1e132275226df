//! A request id for every request: random (the OS CSPRNG, through UUID
//! v4), returned in the `x-request-id` header, carried by every log line of
//! the request (its span) and shown on error pages and in JSON errors, so
//! a buyer can quote it. An id a client sends is ignored: a chosen id
//! could be made to collide with another's in the logs.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The route template a request matched ([`crate::routes::template`]),
/// found once here and read by the metrics layer inside this one.
#[derive(Clone, Copy, Debug)]
pub struct Route(pub &'static str);

/// Middleware: gives the request its id and span, logs its outcome.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The route template, never the path as sent: a visitor's paths can
    // neither carry data into the logs nor make their lines long.
    let route = crate::routes::template(req.method(), req.uri().path());
    req.extensions_mut().insert(Route(route));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route,
    );
    let started = std::time::Instant::now();
    let mut response = CURRENT
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    // A 503 is the edge or readiness saying "not now", which a flood can
    // cause at will: counted in the metrics, logged only at debug.
    span.in_scope(|| {
        if status >= 500 && status != 503 {
            tracing::error!(status, ms, "answered");
        } else {
            tracing::debug!(status, ms, "answered");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}
