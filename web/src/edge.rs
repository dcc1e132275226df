//! The HTTP edge: who the client is, how much each client may ask, and the
//! headers every answer carries. [`serve`](crate::cli::serve) holds the
//! connection side (TLS, header and idle timeouts, the connection limit).
//!
//! Guarantees:
//! - The client's address is the TCP peer's, unless the peer is a trusted
//!   proxy (`RAFFLE_TRUSTED_PROXIES`): then it is the rightmost
//!   `X-Forwarded-For` hop that is not one. A header from any other peer
//!   is ignored, so nobody picks their own address by sending it.
//! - Sign-ins, purchases and ticket checks are limited per client address
//!   (a keyed token bucket, `governor`); over the limit the answer is 429
//!   with `Retry-After`, before any work is done. Requests in progress are
//!   limited as a whole; over it the answer is 503 with `Retry-After`.
//! - Every `/api/v1` answer is `Cache-Control: no-store` unless its
//!   handler chose otherwise (answers carry validation numbers, order
//!   tokens and session tokens); over HTTPS every answer carries HSTS.
//!
//! Assumes the limits' memory is bounded by the addresses seen in the last
//! minute: the buckets of idle addresses are dropped every minute.

use crate::AppState;
use crate::config::Config;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// The client's address, as [`client_address`] worked it out; a request
/// extension for every handler behind the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// What is limited per client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    SignIn,
    Purchase,
    TicketCheck,
    RsuSync,
}

/// The edge's shared state: one rate limiter per [`Bucket`] and the
/// requests in progress.
pub struct Edge {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    purchase: DefaultKeyedRateLimiter<IpAddr>,
    ticket_check: DefaultKeyedRateLimiter<IpAddr>,
    rsu_sync: DefaultKeyedRateLimiter<IpAddr>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"))
}

impl Edge {
    pub fn new(config: &Config) -> Edge {
        let l = &config.limits;
        Edge {
            sign_in: RateLimiter::keyed(per_minute(l.sign_in_per_minute)),
            purchase: RateLimiter::keyed(per_minute(l.purchases_per_minute)),
            ticket_check: RateLimiter::keyed(per_minute(l.ticket_checks_per_minute)),
            rsu_sync: RateLimiter::keyed(per_minute(l.rsu_syncs_per_minute)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(l.max_requests.max(1))),
        }
    }

    /// Takes one request of `bucket` from `client`, or says how long to wait.
    pub fn take(&self, bucket: Bucket, client: IpAddr) -> Result<(), std::time::Duration> {
        let limiter = match bucket {
            Bucket::SignIn => &self.sign_in,
            Bucket::Purchase => &self.purchase,
            Bucket::TicketCheck => &self.ticket_check,
            Bucket::RsuSync => &self.rsu_sync,
        };
        use governor::clock::{Clock as _, DefaultClock};
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops the buckets of addresses that are full again (idle).
    pub fn forget_idle(&self) {
        self.sign_in.retain_recent();
        self.purchase.retain_recent();
        self.ticket_check.retain_recent();
        self.rsu_sync.retain_recent();
    }
}

/// Which bucket a request draws from, if any.
pub fn bucket(method: &Method, path: &str) -> Option<Bucket> {
    if method != Method::POST {
        return None;
    }
    match path {
        "/api/v1/sessions" | "/console/sign-in" | "/console/enrol" => Some(Bucket::SignIn),
        "/api/v1/tickets/lookup" | "/tickets/check" => Some(Bucket::TicketCheck),
        _ => {
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["", "api", "v1", "raffles", _, "purchases"] | ["", "raffles", _, "buy"] => {
                    Some(Bucket::Purchase)
                }
                ["", "api", "v1", "rsu", _, "sync"] => Some(Bucket::RsuSync),
                _ => None,
            }
        }
    }
}

/// The client's address: the peer's, or behind a trusted proxy the
/// rightmost `X-Forwarded-For` hop that is not a trusted proxy.
pub fn client_ip(config: &Config, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !config.is_trusted_proxy(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // What is left of an unreadable hop was written by nobody we trust.
            return client;
        };
        client = ip;
        if !config.is_trusted_proxy(ip) {
            return ip;
        }
    }
    client
}

/// The edge middleware: the client's address, the rate limits, the limit
/// on requests in progress, and the headers every answer carries.
pub async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // In-process callers (tests, the site calling the API) have no peer.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let client = client_ip(&state.config, peer, req.headers());
    req.extensions_mut().insert(ClientAddr(client));
    let api = req.uri().path().starts_with("/api/");
    if let Some(b) = bucket(req.method(), req.uri().path())
        && let Err(wait) = state.edge.take(b, client)
    {
        return too_many(StatusCode::TOO_MANY_REQUESTS, wait.as_secs() + 1, api);
    }
    let Ok(_permit) = state.edge.in_flight.clone().try_acquire_owned() else {
        state.metrics.queue_full("requests");
        let _ = state
            .incidents
            .try_send(crate::ops::monitor::Incident::RequestsFull);
        return too_many(StatusCode::SERVICE_UNAVAILABLE, 1, api);
    };
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.secure() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// 429 (a client over its limit) or 503 (the server at its limit), with
/// `Retry-After`.
fn too_many(status: StatusCode, retry_after: u64, api: bool) -> Response {
    let message = if status == StatusCode::TOO_MANY_REQUESTS {
        format!("too many requests from this address: retry in {retry_after} s")
    } else {
        "the server is busy: retry in a second".to_string()
    };
    let mut resp = if api {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    } else {
        (status, message).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(proxies: &[&str]) -> Config {
        let mut c = Config::for_tests(String::new(), "/tmp".into(), &[]);
        c.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        c
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        // From an untrusted peer, the header is ignored.
        assert_eq!(client_ip(&config(&[]), peer, &xff("203.0.113.9")), peer);
        // Behind the proxy: the rightmost hop that is not a proxy; a hop
        // the client wrote itself (on the left) changes nothing.
        let c = config(&["10.0.0.0/24"]);
        assert_eq!(
            client_ip(&c, peer, &xff("1.2.3.4, 203.0.113.9")),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&c, peer, &xff("203.0.113.9, 10.0.0.7")),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&c, peer, &xff("1.2.3.4, garbage, 203.0.113.9")),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&c, peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn the_limited_routes() {
        let post = Method::POST;
        assert_eq!(bucket(&post, "/api/v1/sessions"), Some(Bucket::SignIn));
        assert_eq!(bucket(&post, "/console/sign-in"), Some(Bucket::SignIn));
        assert_eq!(
            bucket(&post, "/api/v1/raffles/x/purchases"),
            Some(Bucket::Purchase)
        );
        assert_eq!(bucket(&post, "/raffles/x/buy"), Some(Bucket::Purchase));
        assert_eq!(bucket(&post, "/tickets/check"), Some(Bucket::TicketCheck));
        assert_eq!(bucket(&Method::GET, "/tickets/check"), None);
        assert_eq!(bucket(&post, "/api/v1/raffles/x/open"), None);
    }
}
