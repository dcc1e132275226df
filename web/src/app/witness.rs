//! The regulator's witnesses, as `raffled` talks to them over HTTP(S)
//! (`raffle-audit witness` is one):
//!
//! - every checkpoint is offered to each witness with a URL before it is
//!   published (c2sp.org/tlog-witness `add-checkpoint`; the sequencer's
//!   [`raffle_core::store::witnessing`] decides what waits for them);
//! - a draw asks each witness with a URL for its contribution: a
//!   `.tlog-proof` of the `draw.frozen` entry under the checkpoint the
//!   witness last cosigned (a 409 answer names that size, and the request
//!   is repeated under the checkpoint of that size). The signature is
//!   verified and stored before the draw uses it.
//!
//! HTTP is ureq (rustls) on the blocking pool.

use crate::AppState;
use crate::config::Config;
use crate::error::AppError;
use axum::http::StatusCode;
use base64::Engine as _;
use raffle_core::store::witnessing::{Answer, Cosigner};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use transparency::NoteVerifier;
use transparency::proof::inclusion_proof;
use transparency::proof_file::ProofFile;
use transparency::store::{DirStorage, TileHashSource};

/// A witness reachable over HTTP(S).
pub struct HttpWitness {
    verifier: NoteVerifier,
    /// The URL prefix, ending with `/`.
    url: String,
    agent: ureq::Agent,
}

impl HttpWitness {
    /// The witness's key name.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// Whether the witness answers HTTP at its URL at all (any status),
    /// within `wait`: the communication-loss monitor's probe.
    pub async fn reachable(self: &Arc<Self>, wait: Duration) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let answer = me
                .agent
                .get(&me.url)
                .config()
                .timeout_global(Some(wait))
                .build()
                .call();
            matches!(answer, Ok(_) | Err(ureq::Error::StatusCode(_)))
        })
        .await
        .unwrap_or(false)
    }

    fn post(&self, path: &'static str, body: Vec<u8>) -> Answer {
        let url = format!("{}{path}", self.url);
        let mut resp = self
            .agent
            .post(&url)
            .content_type("text/plain")
            .send(&body[..])
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| format!("{url}: reading the answer: {e}"))?;
        Ok((status, body))
    }

    async fn post_async(self: &Arc<Self>, path: &'static str, body: Vec<u8>) -> Answer {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.post(path, body))
            .await
            .map_err(|e| e.to_string())?
    }
}

/// The cosigning side, for the sequencer.
struct HttpCosigner(Arc<HttpWitness>);

impl Cosigner for HttpCosigner {
    fn verifier(&self) -> &NoteVerifier {
        &self.0.verifier
    }

    fn add_checkpoint(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
        Box::pin(self.0.post_async("add-checkpoint", body))
    }
}

/// The configured witnesses with a URL, checked against the configured keys.
pub fn from_config(config: &Config) -> Result<Vec<Arc<HttpWitness>>, String> {
    let keys: Vec<NoteVerifier> = config
        .witness_keys
        .iter()
        .map(|k| NoteVerifier::from_vkey(k).map_err(|e| format!("RAFFLE_WITNESS_KEYS: {e}")))
        .collect::<Result<_, _>>()?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    config
        .witness_urls
        .iter()
        .map(|spec| {
            let (name, url) = spec.split_once('=').ok_or_else(|| {
                format!("RAFFLE_WITNESS_URLS: {spec:?} is not <witness key name>=<URL>")
            })?;
            let verifier = keys.iter().find(|k| k.name() == name).ok_or_else(|| {
                format!(
                    "RAFFLE_WITNESS_URLS: {name:?} is not the name of a key in RAFFLE_WITNESS_KEYS"
                )
            })?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "RAFFLE_WITNESS_URLS: {url:?} is not an http(s) URL"
                ));
            }
            Ok(Arc::new(HttpWitness {
                verifier: verifier.clone(),
                url: if url.ends_with('/') {
                    url.to_string()
                } else {
                    format!("{url}/")
                },
                agent: agent.clone(),
            }))
        })
        .collect()
}

/// The sequencer's view of the witnesses.
pub fn cosigners(witnesses: &[Arc<HttpWitness>]) -> Vec<Arc<dyn Cosigner>> {
    witnesses
        .iter()
        .map(|w| Arc::new(HttpCosigner(w.clone())) as Arc<dyn Cosigner>)
        .collect()
}

/// Asks the witnesses with a URL for their contribution to a frozen draw;
/// the first valid one is stored and returned. `None` when no witness has a URL.
pub async fn fetch_contribution(
    state: &AppState,
    raffle: &str,
    draw: &str,
) -> Result<Option<Vec<u8>>, AppError> {
    if state.witnesses.is_empty() {
        return Ok(None);
    }
    let (index, bytes, message) = frozen_entry(state, raffle, draw).await?;
    let mut failures = Vec::new();
    for w in state.witnesses.iter() {
        match ask(state, w, index, &bytes).await {
            Ok(signature) if w.verifier.verify_raw(&message, &signature) => {
                state
                    .store
                    .save_contribution(raffle, draw, w.verifier.name(), &signature)
                    .await?;
                return Ok(Some(signature));
            }
            Ok(_) => failures.push(format!(
                "{}: its signature does not verify over the frozen entry",
                w.verifier.name()
            )),
            Err(e) => failures.push(format!("{}: {e}", w.verifier.name())),
        }
    }
    Err(AppError::new(
        StatusCode::BAD_GATEWAY,
        format!(
            "no witness contributed to the draw: {}",
            failures.join("; ")
        ),
    ))
}

/// A frozen draw's `draw.frozen` entry (leaf index and bytes) and the
/// message its witness contribution signs.
pub async fn frozen_entry(
    state: &AppState,
    raffle: &str,
    draw: &str,
) -> Result<(u64, Vec<u8>, Vec<u8>), AppError> {
    let (index, bytes) = state
        .store
        .frozen_entry(raffle, draw)
        .await?
        .ok_or_else(|| AppError::new(StatusCode::CONFLICT, "the draw is not frozen"))?;
    let message = raffle_core::draw::contribution_message(
        &state.config.origin(),
        index,
        transparency::leaf_hash(&bytes).as_bytes(),
    );
    Ok((index, bytes, message))
}

/// One witness's contribution, under the checkpoint it last cosigned.
async fn ask(
    state: &AppState,
    w: &Arc<HttpWitness>,
    index: u64,
    entry: &[u8],
) -> Result<Vec<u8>, String> {
    let mut note = state
        .sequencer
        .latest_checkpoint()
        .ok_or("nothing is published yet")?;
    for _ in 0..5 {
        let size = transparency::Checkpoint::parse_text(note.text())
            .map_err(|e| e.to_string())?
            .size;
        let dir = state.config.publications_dir();
        let proof = tokio::task::spawn_blocking(move || {
            let storage = DirStorage::new(&dir, false).map_err(|e| e.to_string())?;
            inclusion_proof(&TileHashSource::new(&storage, size), index, size)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        let body = ProofFile {
            extra: Some(entry.to_vec()),
            index,
            proof,
            checkpoint: note.clone(),
        }
        .to_bytes();
        let (status, answer) = w.post_async("raffle-draw-contribution", body).await?;
        let text = String::from_utf8_lossy(&answer).trim().to_string();
        match status {
            200 => {
                return base64::engine::general_purpose::STANDARD
                    .decode(&text)
                    .map_err(|e| format!("the answer is not a base64 signature: {e}"));
            }
            409 if text.parse::<u64>().is_ok_and(|their| their > index) => {
                let their: u64 = text.parse().expect("checked");
                let stored: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT note FROM checkpoints WHERE size = $1")
                        .bind(their as i64)
                        .fetch_optional(&state.store.pool)
                        .await
                        .map_err(|e| e.to_string())?;
                let stored = stored.ok_or_else(|| {
                    format!("the witness last cosigned size {their}, which this log never signed")
                })?;
                note = transparency::Note::parse(&stored).map_err(|e| e.to_string())?;
            }
            _ => return Err(format!("{status}: {text}")),
        }
    }
    Err("the witness's state kept moving; try again".into())
}
