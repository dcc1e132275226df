//! `raffle-audit witness`: the regulator's witness, over HTTP.
//!
//! - `POST /add-checkpoint`: c2sp.org/tlog-witness. The decision and the
//!   durable state are [`transparency::witness::Witness`]'s: the new
//!   checkpoint must be a consistent extension of the one last cosigned, and
//!   the state is persisted before the cosignature is returned.
//! - `POST /raffle-draw-contribution`: the draw contribution of the
//!   architecture page. The body is a c2sp.org/tlog-proof file of a
//!   `draw.frozen` entry (its exact bytes in the `extra` line) under the
//!   checkpoint this witness cosigned last (anything else: 409 with the size
//!   it last cosigned, so the log can retry with that checkpoint). The answer
//!   is the base64 Ed25519 signature, by the witness key, over
//!   `raffle-draw-contribution/v1\n<origin>\n<index>\n<base64 leaf hash>\n`.
//!   A witness contributes once per raffle and draw: the contribution is
//!   recorded (fsynced) before it is returned; the same entry asked again
//!   gets the same signature (Ed25519 is deterministic, so nothing new is
//!   revealed), another `draw.frozen` for that draw is refused with 409.
//!
//! The witness never sees the seed; it sees only what is published.

use crate::draw::contribution_message;
use crate::{Error, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use raffle_core::entry::{Body, Entry};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use transparency::checkpoint::SignedCheckpoint;
use transparency::key::ALG_COSIGNATURE_V1;
use transparency::proof_file::ProofFile;
use transparency::witness::{FileWitnessState, SIZE_CONTENT_TYPE, Witness, WitnessState};
use transparency::{NoteSigner, NoteVerifier};

/// Body size limit of both routes.
const MAX_BODY: usize = 1 << 20;

/// Reads the witness key, or creates it (mode 0600) when `name` is given
/// and the file does not exist.
pub fn load_or_create_key(path: &Path, name: Option<&str>) -> Result<NoteSigner> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let key = NoteSigner::from_private_key(text.trim())
                .map_err(|e| Error::Input(format!("witness key {}: {e}", path.display())))?;
            if key.alg() != ALG_COSIGNATURE_V1 {
                return Err(Error::Input(format!(
                    "witness key {}: not a cosignature/v1 key",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(name) = name else {
                return Err(Error::Input(format!(
                    "witness key {}: no such file (give --name to create one)",
                    path.display()
                )));
            };
            let key = NoteSigner::generate(name, ALG_COSIGNATURE_V1)
                .map_err(|e| Error::Input(format!("witness name {name:?}: {e}")))?;
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(path)
                .map_err(|e| Error::Input(format!("witness key {}: {e}", path.display())))?;
            f.write_all(key.private_key_text().as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::Input(format!("witness key {}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) => Err(Error::Input(format!("witness key {}: {e}", path.display()))),
    }
}

/// The witness: cosigning and contributions, with their durable state.
pub struct WitnessService {
    key: NoteSigner,
    logs: Vec<NoteVerifier>,
    cosigner: Witness<SharedState>,
    state: SharedState,
    contributions: PathBuf,
    guard: Mutex<()>,
}

/// A shared [`FileWitnessState`] (the contribution route reads what the
/// cosigning route writes).
#[derive(Clone)]
pub struct SharedState(Arc<FileWitnessState>);

impl WitnessState for SharedState {
    fn latest(
        &self,
        origin: &str,
    ) -> transparency::Result<Option<transparency::witness::Cosigned>> {
        self.0.latest(origin)
    }

    fn compare_and_swap(
        &self,
        expected: Option<&transparency::witness::Cosigned>,
        new: &transparency::Checkpoint,
    ) -> transparency::Result<bool> {
        self.0.compare_and_swap(expected, new)
    }
}

/// A refusal: HTTP status and one-line message.
pub struct Refused(pub StatusCode, pub String);

impl WitnessService {
    pub fn open(
        key: NoteSigner,
        logs: Vec<NoteVerifier>,
        state_dir: &Path,
    ) -> Result<WitnessService> {
        let state = SharedState(Arc::new(
            FileWitnessState::open(state_dir).map_err(|e| Error::Witness(e.to_string()))?,
        ));
        let contributions = state_dir.join("contributions");
        fs::create_dir_all(&contributions)
            .map_err(|e| Error::Witness(format!("{}: {e}", contributions.display())))?;
        let cosigner = Witness::new(key.clone(), logs.clone(), state.clone())
            .map_err(|e| Error::Witness(e.to_string()))?;
        Ok(WitnessService {
            key,
            logs,
            cosigner,
            state,
            contributions,
            guard: Mutex::new(()),
        })
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.key.verifier()
    }

    /// tlog-witness `add-checkpoint`.
    pub fn add_checkpoint(&self, body: &[u8]) -> std::result::Result<Vec<u8>, (u16, Vec<u8>)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.cosigner
            .add_checkpoint(body, now)
            .map_err(|r| (r.status(), r.body()))
    }

    /// The draw contribution (see the module documentation).
    pub fn contribute(&self, body: &[u8]) -> std::result::Result<Vec<u8>, Refused> {
        let bad = |m: String| Refused(StatusCode::BAD_REQUEST, m);
        let proof = ProofFile::parse(body).map_err(|e| bad(e.to_string()))?;
        let note = proof.checkpoint.to_bytes();
        let origin = transparency::Checkpoint::parse_text(proof.checkpoint.text())
            .map_err(|e| bad(e.to_string()))?
            .origin;
        let log_key = self
            .logs
            .iter()
            .find(|k| k.name() == origin)
            .ok_or_else(|| {
                Refused(
                    StatusCode::NOT_FOUND,
                    format!("unknown log origin {origin:?}"),
                )
            })?;
        let signed = SignedCheckpoint::open(&note, log_key, &[])
            .map_err(|e| Refused(StatusCode::FORBIDDEN, e.to_string()))?;
        let (entry_bytes, _) = proof
            .verify_extra_entry(log_key, &[])
            .map_err(|e| Refused(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let entry = Entry::parse(&entry_bytes).map_err(|e| bad(format!("the entry: {e}")))?;
        let Body::DrawFrozen(frozen) = entry.body else {
            return Err(bad(format!(
                "the entry is a {}, not a draw.frozen entry",
                entry.kind()
            )));
        };
        let _g = self.guard.lock().expect("witness lock");
        // Only under the checkpoint this witness last cosigned: then the
        // entry is in the history it vouched for, consistent with its state.
        let cp = &signed.checkpoint;
        let latest = self
            .state
            .latest(&origin)
            .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        match &latest {
            Some(l) if l.size == cp.size && l.root == cp.root => {}
            Some(l) if l.size == cp.size => {
                return Err(Refused(
                    StatusCode::CONFLICT,
                    format!("size {} was cosigned with another root: a fork", cp.size),
                ));
            }
            other => {
                return Err(Refused(
                    StatusCode::CONFLICT,
                    format!("{}\n", other.as_ref().map_or(0, |l| l.size)),
                ));
            }
        }
        let leaf = transparency::leaf_hash(&entry_bytes);
        let record = format!(
            "{origin}\n{}\n{}\n{}\n",
            frozen.raffle, frozen.draw, proof.index
        );
        let path = self.contributions.join(format!(
            "{}.contribution",
            hex::encode(Sha256::digest(format!(
                "{origin}\n{}\n{}\n",
                frozen.raffle, frozen.draw
            )))
        ));
        let wanted = format!("{record}{}\n", leaf.to_base64());
        match fs::read_to_string(&path) {
            Ok(done) if done == wanted => {}
            Ok(done) => {
                let at = done.lines().nth(3).unwrap_or("?").to_string();
                return Err(Refused(
                    StatusCode::CONFLICT,
                    format!(
                        "this witness already contributed to draw {:?} of raffle {} (the draw.frozen entry at leaf {at}): once per draw",
                        frozen.draw, frozen.raffle
                    ),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                persist(&self.contributions, &path, wanted.as_bytes())
                    .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e))?;
            }
            Err(e) => return Err(Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        }
        let message = contribution_message(&origin, proof.index, leaf.as_bytes());
        let signature = self.key.sign_raw(&message);
        Ok(format!("{}\n", BASE64.encode(signature)).into_bytes())
    }
}

fn persist(dir: &Path, path: &Path, data: &[u8]) -> std::result::Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(|e| e.to_string())?;
    f.write_all(data).map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| e.to_string())?;
    fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| e.to_string())
}

/// The HTTP routes.
pub fn router(service: Arc<WitnessService>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/raffle-draw-contribution", post(contribute))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(service)
}

async fn add_checkpoint(State(service): State<Arc<WitnessService>>, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || service.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(lines)) => (StatusCode::OK, lines).into_response(),
        Ok(Err((409, size)))
            if size.ends_with(b"\n") && size[..size.len() - 1].iter().all(u8::is_ascii_digit) =>
        {
            (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                size,
            )
                .into_response()
        }
        Ok(Err((status, message))) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn contribute(State(service): State<Arc<WitnessService>>, body: Bytes) -> Response {
    let result = tokio::task::spawn_blocking(move || service.contribute(&body)).await;
    match result {
        Ok(Ok(signature)) => (StatusCode::OK, signature).into_response(),
        Ok(Err(Refused(status, message))) => {
            let message = if message.ends_with('\n') {
                message
            } else {
                format!("{message}\n")
            };
            (status, message).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Serves the witness on `listen` until the process ends.
pub fn serve(service: WitnessService, listen: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Witness(e.to_string()))?;
    runtime.block_on(async {
        use axum::serve::ListenerExt as _;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Input(format!("--listen {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Witness(e.to_string()))?;
        println!(
            "witness {} listening on http://{addr}/",
            service.verifier().vkey()
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router(Arc::new(service)))
            .await
            .map_err(|e| Error::Witness(e.to_string()))
    })
}
