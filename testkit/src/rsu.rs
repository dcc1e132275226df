//! A scripted sales unit: a small client that sells from its allocations
//! offline, keeps a journal of signed, chained records, seals for cutoffs
//! and syncs in pages, signing exactly as `raffle_core::rsu` says. It
//! checks the server's signature on every answer. Tests cut its uploads at
//! chosen points (the request is dropped mid-flight, as a lost connection
//! drops it) and forge records to see them refused.

use crate::app::App;
use axum::http::StatusCode;
use base64::Engine as _;
use raffle_core::entry::{
    Digest32, HexBytes, NumberRange, PaymentMethod, RsuRecord, RsuSealed, U64,
};
use raffle_core::ids::{DrawId, PackageId, RaffleId, RsuId, StaffId};
use raffle_core::rsu::{self, DeviceKey, Head};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Money, Timestamp};
use serde_json::{Value, json};
use std::time::Duration;

/// One request through the router: status, the answer's signature header
/// and body.
pub async fn raw_request(
    app: &App,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = web::router(app.state.clone())
        .oneshot(req.body(axum::body::Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let sig = resp
        .headers()
        .get("rsu-answer-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap()
        .to_vec();
    (status, sig, bytes)
}

/// A sales-unit operator (role `rsu_operator`) who set `pin` as their
/// device PIN through the API.
pub async fn operator_with_pin(app: &App, name: &str, pin: &str) -> crate::app::SignedIn {
    let op = crate::app::signed_in(app, name, &["rsu_operator"]).await;
    let (status, v) = crate::app::call(
        app,
        "POST",
        "/api/v1/account/device-pin",
        Some(&op.token),
        json!({ "current_password": op.password, "pin": pin }),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    op
}

/// A sale the unit made: its record and the validation number it printed.
#[derive(Clone, Debug)]
pub struct Sold {
    pub record: RsuRecord,
    pub validation_number: String,
}

/// A unit's allocation in one raffle, as it tracks it.
#[derive(Clone, Debug, Default)]
struct Stock {
    ranges: Vec<(u64, u64)>,
    next: u64,
}

pub struct ScriptedDevice {
    pub id: RsuId,
    pub key: DeviceKey,
    /// The operator its records name (signed in on it).
    pub operator: StaffId,
    /// The operator list of the last answer: staff id and PIN hash.
    pub operators: Vec<(String, String)>,
    /// Reprints and void requests every request carries until cleared.
    pub reprints: Vec<Value>,
    pub voids: Vec<Value>,
    origin: String,
    /// The log's key, pinned at enrolment: every answer must verify with it.
    log_key: transparency::NoteVerifier,
    /// Every record, in chain order.
    pub journal: Vec<Sold>,
    pub head: Head,
    /// Seals not yet acknowledged.
    pub seals: Vec<RsuSealed>,
    /// The server's head for this unit, from its last answer.
    pub acknowledged: u64,
    stock: std::collections::HashMap<RaffleId, Stock>,
    last_time: Option<Timestamp>,
}

impl ScriptedDevice {
    /// A unit whose records name `operator`.
    pub fn new(id: &str, app: &App, operator: &StaffId) -> ScriptedDevice {
        ScriptedDevice {
            id: id.parse().unwrap(),
            key: DeviceKey::generate().unwrap(),
            operator: operator.clone(),
            operators: Vec::new(),
            reprints: Vec::new(),
            voids: Vec::new(),
            origin: app.state.sequencer.ledger().origin().to_string(),
            log_key: transparency::NoteVerifier::from_vkey(&app.state.vkey).unwrap(),
            journal: Vec::new(),
            head: Head::EMPTY,
            seals: Vec::new(),
            acknowledged: 0,
            stock: Default::default(),
            last_time: None,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Learns an allocation (from the `rsu.allocated` entry's numbers).
    pub fn allocated(&mut self, raffle: &str, first: u64, count: u64) {
        let s = self.stock.entry(raffle.parse().unwrap()).or_default();
        if s.ranges.is_empty() {
            s.next = first;
        }
        s.ranges.push((first, count));
    }

    /// Numbers left to sell in a raffle.
    pub fn left(&self, raffle: &str) -> u64 {
        self.stock.get(raffle).map_or(0, |s| {
            s.ranges
                .iter()
                .map(|&(f, c)| (f + c).saturating_sub(s.next.max(f)))
                .sum()
        })
    }

    /// A record of the next `tickets` numbers for `price_minor`, not yet
    /// signed or journaled.
    pub fn draft(
        &self,
        raffle: &str,
        package: &str,
        tickets: u64,
        price: Money,
        at: Timestamp,
    ) -> (RsuRecord, String) {
        let s = &self.stock[raffle];
        let (f, c) = *s
            .ranges
            .iter()
            .find(|&&(f, c)| s.next.max(f) + tickets <= f + c)
            .expect("numbers left in the allocation");
        let _ = c;
        let first = s.next.max(f);
        let vn = ValidationNumber::generate().unwrap();
        let raffle: RaffleId = raffle.parse().unwrap();
        let record = RsuRecord {
            validation: Digest32(vn.commitment(&raffle)),
            raffle,
            rsu: self.id.clone(),
            seq: U64(self.head.seq + 1),
            prev: Digest32(self.head.hash),
            package: package.parse::<PackageId>().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(first),
                count: U64(tickets),
            },
            price,
            payment: PaymentMethod::Cash,
            device_time: at,
            operator: self.operator.clone(),
            signature: HexBytes(vec![]),
        };
        (record, vn.to_text())
    }

    /// Signs a record (as drafted, or altered by a test) and journals it as
    /// the next one, whatever it says.
    pub fn append(&mut self, mut record: RsuRecord, validation_number: String) -> RsuRecord {
        let hash = self.key.sign_record(&self.origin, &mut record);
        if let Some(s) = self.stock.get_mut(record.raffle.as_str()) {
            s.next = s.next.max(record.numbers.first.0 + record.numbers.count.0);
        }
        self.last_time = Some(record.device_time);
        self.head = Head {
            seq: record.seq.0,
            hash,
        };
        self.journal.push(Sold {
            record: record.clone(),
            validation_number,
        });
        record
    }

    /// Sells `tickets` numbers of `package` at `at` (device time).
    pub fn sell(
        &mut self,
        raffle: &str,
        package: &str,
        tickets: u64,
        price: Money,
        at: Timestamp,
    ) -> RsuRecord {
        let (record, vn) = self.draft(raffle, package, tickets, price, at);
        self.append(record, vn)
    }

    /// Seals for a draw whose cutoff is `cutoff`, at device time `at`: its
    /// last record before the cutoff.
    pub fn seal(&mut self, raffle: &str, draw: &str, cutoff: Timestamp, at: Timestamp) {
        let last = self
            .journal
            .iter()
            .rev()
            .find(|s| s.record.device_time < cutoff);
        let (seq, hash) = match last {
            Some(s) => (s.record.seq.0, rsu::record_hash(&self.origin, &s.record)),
            None => (0, rsu::GENESIS),
        };
        let mut seal = RsuSealed {
            raffle: raffle.parse().unwrap(),
            draw: draw.parse::<DrawId>().unwrap(),
            rsu: self.id.clone(),
            seq: U64(seq),
            hash: Digest32(hash),
            device_time: at,
            signature: HexBytes(vec![]),
        };
        self.key.sign_seal(&self.origin, &mut seal);
        self.seals.push(seal);
    }

    /// Reprints the ticket of `sale` (copy `copy`), its operator with
    /// `supervisor`, at `at`: sent with every request until cleared.
    pub fn reprint(&mut self, sale: &RsuRecord, copy: u32, supervisor: &StaffId, at: Timestamp) {
        let mut r = raffle_core::entry::RsuReprinted {
            raffle: sale.raffle.clone(),
            rsu: self.id.clone(),
            seq: sale.seq,
            copy,
            operator: self.operator.clone(),
            supervisor: supervisor.clone(),
            device_time: at,
            signature: HexBytes(vec![]),
            received: at,
        };
        self.key.sign_reprint(&self.origin, &mut r);
        self.reprints.push(json!({
            "raffle": r.raffle, "seq": r.seq, "copy": r.copy, "operator": r.operator,
            "supervisor": r.supervisor, "device_time": r.device_time, "signature": r.signature,
        }));
    }

    /// Asks for the void of `sale`, its operator with `supervisor`, at
    /// `at`: sent with every request until cleared.
    pub fn void(
        &mut self,
        sale: &RsuRecord,
        reason: raffle_core::entry::VoidReason,
        supervisor: &StaffId,
        at: Timestamp,
    ) {
        let message = rsu::void_message(
            &self.origin,
            &sale.raffle,
            &self.id,
            sale.seq.0,
            reason,
            &self.operator,
            supervisor,
            at,
        );
        let signature = HexBytes(self.key.sign(&message).to_vec());
        self.voids.push(json!({
            "raffle": sale.raffle, "seq": sale.seq, "reason": reason, "operator": self.operator,
            "supervisor": supervisor, "device_time": at, "signature": signature,
        }));
    }

    /// A signed request: the headers and the body.
    pub fn request(
        &self,
        head: Head,
        records: &[RsuRecord],
        seals: &[RsuSealed],
    ) -> (Vec<(&'static str, String)>, Vec<u8>) {
        let body = json!({
            "head": { "seq": head.seq.to_string(), "hash": hex::encode(head.hash) },
            "software": "scripted-rsu 1",
            "records": records,
            "reprints": self.reprints,
            "voids": self.voids,
            "seals": seals.iter().map(|s| json!({
                "raffle": s.raffle, "draw": s.draw, "seq": s.seq, "hash": s.hash,
                "device_time": s.device_time, "signature": s.signature,
            })).collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes();
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let nonce = hex::encode(nonce);
        let sig = self
            .key
            .sign(&rsu::request_message(&self.origin, &self.id, &nonce, &body));
        let headers = vec![
            ("rsu-nonce", nonce),
            (
                "rsu-signature",
                base64::engine::general_purpose::STANDARD.encode(sig),
            ),
        ];
        (headers, body)
    }

    /// Sends one page; the answer is checked against the log's key. `None`
    /// when `cut` dropped the request first.
    pub async fn send(
        &mut self,
        app: &App,
        records: &[RsuRecord],
        seals: &[RsuSealed],
        cut: Option<Duration>,
    ) -> Option<(StatusCode, Value)> {
        let (headers, body) = self.request(self.head, records, seals);
        let nonce = headers[0].1.clone();
        let path = format!("/api/v1/rsu/{}/sync", self.id);
        let call = raw_request(app, &path, &headers, body);
        let (status, sig, bytes) = match cut {
            None => call.await,
            Some(d) => tokio::time::timeout(d, call).await.ok()?,
        };
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == StatusCode::OK {
            let sig = base64::engine::general_purpose::STANDARD
                .decode(sig.expect("a signed answer"))
                .unwrap();
            let message = rsu::answer_message(&self.origin, &self.id, &nonce, &bytes);
            assert!(
                self.log_key.verify_raw(&message, &sig),
                "the answer's signature is not the log's"
            );
            assert_eq!(answer["nonce"], nonce.as_str());
            self.operators = answer["operators"]["list"]
                .as_array()
                .expect("an operator list")
                .iter()
                .map(|o| {
                    (
                        o["staff_id"].as_str().unwrap().to_string(),
                        o["pin_hash"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
        }
        Some((status, answer))
    }

    /// Uploads everything after the server's head, in pages of `page`
    /// records, then the seals; `cut` gives each attempt its deadline
    /// (`None`: no cut). Retries cut attempts until the server holds the
    /// whole journal and every seal.
    pub async fn sync_all(
        &mut self,
        app: &App,
        page: usize,
        mut cut: impl FnMut() -> Option<Duration>,
    ) -> Value {
        let mut last = Value::Null;
        for _ in 0..10_000 {
            let from = usize::try_from(self.acknowledged).unwrap();
            let records: Vec<RsuRecord> = self.journal[from..]
                .iter()
                .take(page)
                .map(|s| s.record.clone())
                .collect();
            let seals = if from + records.len() == self.journal.len() {
                self.seals.clone()
            } else {
                Vec::new()
            };
            let Some((status, answer)) = self.send(app, &records, &seals, cut()).await else {
                // Cut: learn where the server is, as a real unit would at
                // its next contact.
                continue;
            };
            assert_eq!(status, StatusCode::OK, "{answer}");
            self.acknowledged = answer["head"]["seq"].as_str().unwrap().parse().unwrap();
            let sealed_all = !seals.is_empty()
                && answer["seals"].as_array().unwrap().iter().all(|s| {
                    s["result"]["log_index"].is_string()
                        || s["result"]["refused"]
                            .as_str()
                            .is_some_and(|r| r.contains("already"))
                });
            if sealed_all {
                self.seals.clear();
            }
            last = answer;
            if self.acknowledged == self.head.seq && self.seals.is_empty() {
                return last;
            }
            if !records.is_empty() && self.acknowledged < records[0].seq.0 {
                // Nothing of the page was taken: the answer says why.
                return last;
            }
        }
        panic!("the unit never finished syncing: {last}");
    }
}
