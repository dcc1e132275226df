//! Webhook events and their deliveries, signed as Stripe signs them.
//!
//! Every event is kept (`GET /v1/events/{id}` answers it) and queued for
//! the endpoint. A delivery that does not get a 2xx is retried with
//! backoff (Stripe retries for three days; the fake gives up after
//! [`MAX_ATTEMPTS`]). [`Chaos`] makes deliveries misbehave as Stripe's may:
//! duplicates, any order, delays, and (as an attacker or a rolled secret
//! would) a first attempt with a stale signature or a wrong secret.

use crate::Inner;
use crate::objects::{now, random_id};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many times one delivery is tried before the fake gives up (about
/// a minute of backoff; Stripe goes on for three days).
pub const MAX_ATTEMPTS: u32 = 24;

/// How deliveries misbehave.
#[derive(Clone, Debug, Default)]
pub struct Chaos {
    /// Each event is delivered 1 to this many times (0 or 1: once).
    pub max_copies: u32,
    /// Deliveries leave in random order rather than as made.
    pub shuffle: bool,
    /// Each delivery waits a random time up to this before its first attempt.
    pub max_delay: Duration,
    /// Per mille of first attempts signed with a time 10 minutes old.
    pub stale_per_mille: u32,
    /// Per mille of first attempts signed with another secret.
    pub wrong_secret_per_mille: u32,
}

/// The `Stripe-Signature` header for `payload` signed with `secret` at `t`.
pub fn sign(secret: &str, t: i64, payload: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tamper {
    Stale,
    WrongSecret,
}

struct Delivery {
    event: usize,
    due: Instant,
    attempt: u32,
    tamper: Option<Tamper>,
}

#[derive(Default)]
struct Queue {
    endpoint: Option<String>,
    chaos: Chaos,
    paused: bool,
    events: Vec<(String, String)>,
    pending: VecDeque<Delivery>,
    in_flight: usize,
    given_up: usize,
    /// Tampered deliveries (stale or wrongly signed) the endpoint refused
    /// (a 4xx), and those it accepted (a 2xx: it should never).
    tampered_refused: usize,
    tampered_accepted: usize,
}

pub(crate) struct Deliveries {
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
}

fn random_below(n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the OS random number generator");
    u32::from_le_bytes(b) % n
}

impl Deliveries {
    pub(crate) fn new(endpoint: Option<String>) -> Deliveries {
        Deliveries {
            queue: Mutex::new(Queue {
                endpoint,
                ..Queue::default()
            }),
            wake: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn set_endpoint(&self, url: String) {
        self.queue.lock().unwrap().endpoint = Some(url);
        self.wake.notify_one();
    }

    pub(crate) fn set_chaos(&self, chaos: Chaos) {
        self.queue.lock().unwrap().chaos = chaos;
    }

    pub(crate) fn pause(&self, paused: bool) {
        self.queue.lock().unwrap().paused = paused;
        self.wake.notify_one();
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        let q = self.queue.lock().unwrap();
        q.events
            .iter()
            .filter_map(|(_, body)| serde_json::from_str(body).ok())
            .collect()
    }

    pub(crate) fn event(&self, id: &str) -> Option<Value> {
        let q = self.queue.lock().unwrap();
        q.events
            .iter()
            .find(|(e, _)| e == id)
            .and_then(|(_, body)| serde_json::from_str(body).ok())
    }

    /// Makes an event of `kind` about `object` and queues its deliveries.
    pub(crate) fn emit(&self, inner: &Inner, kind: &str, object: Value) {
        let id = format!("evt_{}", random_id(24));
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": crate::API_VERSION,
            "created": now(),
            "data": { "object": object },
            "livemode": inner.options.secret_key.starts_with("sk_live_"),
            "pending_webhooks": 1,
            "request": { "id": format!("req_{}", random_id(14)), "idempotency_key": null },
            "type": kind,
        });
        let mut q = self.queue.lock().unwrap();
        let index = q.events.len();
        q.events.push((id, event.to_string()));
        let copies = 1 + random_below(q.chaos.max_copies.max(1));
        for _ in 0..copies {
            let delay = q.chaos.max_delay.as_millis() as u32;
            let roll = random_below(1000);
            let tamper = if roll < q.chaos.stale_per_mille {
                Some(Tamper::Stale)
            } else if roll < q.chaos.stale_per_mille + q.chaos.wrong_secret_per_mille {
                Some(Tamper::WrongSecret)
            } else {
                None
            };
            q.pending.push_back(Delivery {
                event: index,
                due: Instant::now() + Duration::from_millis(u64::from(random_below(delay + 1))),
                attempt: 0,
                tamper,
            });
        }
        drop(q);
        self.wake.notify_one();
    }

    /// Tampered deliveries refused and accepted by the endpoint.
    pub(crate) fn tampered(&self) -> (usize, usize) {
        let q = self.queue.lock().unwrap();
        (q.tampered_refused, q.tampered_accepted)
    }

    /// Sends one raw delivery, now, once; answers the endpoint's status.
    pub(crate) async fn send_once(&self, body: &str, signature: &str) -> Result<u16, String> {
        let endpoint = self
            .queue
            .lock()
            .unwrap()
            .endpoint
            .clone()
            .ok_or("no webhook endpoint is set")?;
        post(&endpoint, body, signature).await
    }

    pub(crate) async fn settle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            {
                let q = self.queue.lock().unwrap();
                if q.pending.is_empty() && q.in_flight == 0 {
                    return true;
                }
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<axum::body::Bytes>,
>;

async fn post(endpoint: &str, body: &str, signature: &str) -> Result<u16, String> {
    static CLIENT: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http()
    });
    let req = axum::http::Request::post(endpoint)
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", signature)
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(http_body_util::Full::new(axum::body::Bytes::from(
            body.to_string(),
        )))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Read the answer to the end, so that the connection can be reused.
    use http_body_util::BodyExt as _;
    let _ = resp.into_body().collect().await;
    Ok(status)
}

/// How many deliveries are in flight at once.
const CONCURRENCY: usize = 32;

pub(crate) fn spawn_sender(inner: Arc<Inner>) {
    let weak = Arc::downgrade(&inner);
    drop(inner);
    tokio::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let next = {
                let mut q = inner.deliveries.queue.lock().unwrap();
                let now = Instant::now();
                let ready = !q.paused && q.endpoint.is_some() && q.in_flight < CONCURRENCY;
                let due: Vec<usize> = if ready {
                    q.pending
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| d.due <= now)
                        .map(|(i, _)| i)
                        .collect()
                } else {
                    Vec::new()
                };
                if due.is_empty() {
                    None
                } else {
                    let pick = if q.chaos.shuffle {
                        due[random_below(due.len() as u32) as usize]
                    } else {
                        due[0]
                    };
                    let d = q.pending.remove(pick).expect("a due delivery");
                    q.in_flight += 1;
                    let (_, body) = q.events[d.event].clone();
                    Some((d, body, q.endpoint.clone().unwrap_or_default()))
                }
            };
            let Some((d, body, endpoint)) = next else {
                tokio::select! {
                    _ = inner.deliveries.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
                continue;
            };
            let secret = inner.options.webhook_secret.clone();
            let worker = inner.clone();
            tokio::spawn(async move {
                let t = now();
                let signature = match d.tamper {
                    None => sign(&secret, t, &body),
                    Some(Tamper::Stale) => sign(&secret, t - 600, &body),
                    Some(Tamper::WrongSecret) => sign("whsec_not_the_endpoints", t, &body),
                };
                let status = post(&endpoint, &body, &signature).await;
                let ok = matches!(status, Ok(s) if (200..300).contains(&s));
                let mut q = worker.deliveries.queue.lock().unwrap();
                q.in_flight -= 1;
                if d.tamper.is_some() {
                    match status {
                        Ok(s) if (200..300).contains(&s) => q.tampered_accepted += 1,
                        Ok(s) if (400..500).contains(&s) => q.tampered_refused += 1,
                        _ => {}
                    }
                }
                if !ok {
                    if d.attempt + 1 >= MAX_ATTEMPTS {
                        q.given_up += 1;
                        tracing::warn!(event = %q.events[d.event].0, "the fake Stripe gave up delivering an event");
                    } else {
                        let backoff = Duration::from_millis(50u64 << d.attempt.min(6));
                        q.pending.push_back(Delivery {
                            event: d.event,
                            due: Instant::now() + backoff,
                            attempt: d.attempt + 1,
                            tamper: None,
                        });
                    }
                }
                drop(q);
                worker.deliveries.wake.notify_one();
            });
            drop(inner);
        }
    });
}
