//! Talking to raffled (GLI-31 3.2.5, 6.1.2): the sync request signed with
//! the unit's key over a fresh nonce, the answer checked against the log's
//! key the unit pinned at enrolment, and the answer's parts read.
//!
//! The transport is a port ([`Transport`]): [`Http`] over HTTPS (rustls)
//! or plain HTTP on a local network, and tests put a proxy that cuts
//! connections between the two.

use base64::Engine as _;
use raffle_core::Timestamp;
use raffle_core::entry::Package;
use raffle_core::ids::{DrawId, RaffleId};
use raffle_core::rsu;
use serde::Deserialize;
use std::time::Duration;

/// The most an answer may be (a few hundred raffles and operators).
const MAX_ANSWER: u64 = 4 << 20;

/// What the server sent back.
pub struct Reply {
    pub status: u16,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

pub trait Transport: Send + Sync {
    /// POSTs `body` to `path`; `Err` when no answer came (the network).
    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Reply, String>;
}

/// HTTP(S) to the server, rustls only.
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        Http {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }
}

impl Transport for Http {
    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Reply, String> {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let mut resp = req.send(body).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let signature = resp
            .headers()
            .get("rsu-answer-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            signature,
            body,
        })
    }
}

/// A fresh nonce: 16 bytes from the OS CSPRNG as 32 hex digits.
pub fn nonce() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| e.to_string())?;
    Ok(hex::encode(b))
}

/// The headers of a request signed by the unit.
pub fn signed_headers(
    key: &rsu::DeviceKey,
    origin: &str,
    rsu_id: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let sig = key.sign(&rsu::request_message(origin, rsu_id, nonce, body));
    vec![
        ("rsu-nonce", nonce.to_string()),
        (
            "rsu-signature",
            base64::engine::general_purpose::STANDARD.encode(sig),
        ),
    ]
}

/// Whether `signature` (base64) is the log key's over the answer `body`
/// to the request with `nonce`.
pub fn answer_verifies(
    log_key: &transparency::NoteVerifier,
    origin: &str,
    rsu_id: &str,
    nonce: &str,
    body: &[u8],
    signature: &[u8],
) -> bool {
    log_key.verify_raw(&rsu::answer_message(origin, rsu_id, nonce, body), signature)
}

pub fn decode_signature(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A verified answer, read.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    pub rsu: String,
    pub nonce: String,
    pub time: Timestamp,
    pub status: String,
    pub head: WireHead,
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    #[serde(default)]
    pub seals: Vec<SealResult>,
    #[serde(default)]
    pub raffles: Vec<RaffleAnswer>,
    pub operators: Operators,
    #[serde(default)]
    pub reprints: Vec<serde_json::Value>,
    #[serde(default)]
    pub voids: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireHead {
    pub seq: String,
    pub hash: String,
}

impl WireHead {
    pub fn parse(&self) -> Option<rsu::Head> {
        Some(rsu::Head {
            seq: self.seq.parse().ok()?,
            hash: hex::decode(&self.hash).ok()?.try_into().ok()?,
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Rejected {
    pub seq: serde_json::Value,
    pub reason: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SealResult {
    pub raffle: String,
    pub draw: String,
    pub result: serde_json::Value,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RaffleAnswer {
    pub raffle: RaffleId,
    pub ranges: Vec<WireRange>,
    #[serde(default)]
    pub sealed: Vec<String>,
    #[serde(default)]
    pub released: bool,
    /// The raffle's public details (what tickets print, what can be sold).
    pub details: Option<RaffleDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireRange {
    pub first: String,
    pub count: String,
}

/// A raffle as the unit sells it.
#[derive(Clone, Debug, Deserialize)]
pub struct RaffleDetails {
    pub name: String,
    pub organisation: String,
    pub licence: Option<String>,
    pub time_zone: String,
    pub open: bool,
    pub sales_start: Timestamp,
    pub sales_end: Timestamp,
    pub packages: Vec<Package>,
    pub draws: Vec<DrawDetails>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DrawDetails {
    pub id: DrawId,
    pub name: String,
    pub cutoff: Timestamp,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Operators {
    pub issued: Timestamp,
    pub expires: Timestamp,
    pub list: Vec<Operator>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Operator {
    pub staff_id: String,
    pub pin_hash: String,
}

impl RaffleAnswer {
    /// Its ranges as numbers; `None` when one does not read.
    pub fn numbers(&self) -> Option<Vec<(u64, u64)>> {
        self.ranges
            .iter()
            .map(|r| Some((r.first.parse().ok()?, r.count.parse().ok()?)))
            .collect()
    }
}
