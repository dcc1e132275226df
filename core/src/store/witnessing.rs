//! Submitting the log's checkpoints to its witnesses (c2sp.org/tlog-witness
//! `add-checkpoint`) and publishing their cosignatures in the checkpoint.
//!
//! Every checkpoint is offered to every configured witness before it is
//! published. A checkpoint that closes a raffle or freezes or performs a
//! draw *waits* for every witness's cosignature (up to
//! [`CRITICAL_WAIT`], retrying): without them the batch fails, nothing is
//! published or acknowledged, and the sequencer recovers. Any other
//! checkpoint waits at most [`ORDINARY_WAIT`]; a witness that did not
//! answer in time is skipped for ordinary checkpoints for [`BACKOFF`], so a
//! witness outage slows sales by one short wait, not every batch.
//!
//! The transport (HTTP) is the caller's: a [`Cosigner`] posts a request
//! body and returns the status and the answer.

use crate::{Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use transparency::NoteVerifier;
use transparency::note::Note;
use transparency::proof::consistency_proof;
use transparency::store::{TileHashSource, TileStorage};
use transparency::witness::{AddCheckpointRequest, apply_cosignatures, parse_conflict_size};

/// How long a close or draw checkpoint waits for every cosignature.
pub const CRITICAL_WAIT: Duration = Duration::from_secs(30);
/// How long any other checkpoint waits for a witness.
pub const ORDINARY_WAIT: Duration = Duration::from_millis(500);
/// How long a witness that did not answer is skipped for ordinary checkpoints.
pub const BACKOFF: Duration = Duration::from_secs(10);

/// The answer of a witness: HTTP status and body.
pub type Answer = std::result::Result<(u16, Vec<u8>), String>;

/// A witness the log submits its checkpoints to.
pub trait Cosigner: Send + Sync {
    /// The witness's cosignature/v1 verifier key.
    fn verifier(&self) -> &NoteVerifier;
    /// Posts an `add-checkpoint` body.
    fn add_checkpoint(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>>;
}

/// What the sequencer remembers about its witnesses.
pub struct Witnessing {
    /// The size each witness last cosigned (learned from its answers).
    sizes: HashMap<String, u64>,
    /// Until when a witness is skipped for ordinary checkpoints.
    skipped_until: HashMap<String, Instant>,
    critical_wait: Duration,
    ordinary_wait: Duration,
    backoff: Duration,
    /// Offers a witness cosigned, and offers that failed, since start.
    pub cosigned: u64,
    pub failed: u64,
}

impl Default for Witnessing {
    fn default() -> Self {
        Witnessing::with_waits(CRITICAL_WAIT, ORDINARY_WAIT, BACKOFF)
    }
}

impl Witnessing {
    /// The size each witness last cosigned.
    pub fn sizes(&self) -> &HashMap<String, u64> {
        &self.sizes
    }

    /// Other waits than the defaults (tests).
    pub fn with_waits(critical: Duration, ordinary: Duration, backoff: Duration) -> Witnessing {
        Witnessing {
            sizes: HashMap::new(),
            skipped_until: HashMap::new(),
            critical_wait: critical,
            ordinary_wait: ordinary,
            backoff,
            cosigned: 0,
            failed: 0,
        }
    }

    /// Offers `note` (the log's signed checkpoint of `size`) to every
    /// witness and adds their cosignatures. Fails only for a `critical`
    /// checkpoint some witness did not cosign.
    pub async fn cosign<S: TileStorage + Sync>(
        &mut self,
        witnesses: &[Arc<dyn Cosigner>],
        storage: &S,
        note: Note,
        size: u64,
        critical: bool,
    ) -> Result<Note> {
        let mut cosigned = note.clone();
        for w in witnesses {
            let name = w.verifier().name().to_string();
            if !critical
                && self
                    .skipped_until
                    .get(&name)
                    .is_some_and(|until| Instant::now() < *until)
            {
                continue;
            }
            let wait = if critical {
                self.critical_wait
            } else {
                self.ordinary_wait
            };
            match self
                .cosign_one(w.as_ref(), storage, &note, size, wait, critical)
                .await
            {
                Ok(answer) => {
                    apply_cosignatures(&mut cosigned, &answer, std::slice::from_ref(w.verifier()))
                        .map_err(|e| Error::Storage(format!("witness {name}: {e}")))?;
                    self.sizes.insert(name.clone(), size);
                    self.skipped_until.remove(&name);
                    self.cosigned += 1;
                }
                Err(why) if critical => {
                    self.failed += 1;
                    return Err(Error::Unavailable(format!(
                        "witness {name} did not cosign the checkpoint of size {size}, which closes a raffle or freezes or performs a draw: {why}"
                    )));
                }
                Err(why) => {
                    self.failed += 1;
                    tracing::warn!(
                        witness = %name,
                        size,
                        why = %why,
                        backoff_s = self.backoff.as_secs(),
                        "the witness did not cosign; ordinary checkpoints are published without its cosignature for a while"
                    );
                    self.skipped_until
                        .insert(name, Instant::now() + self.backoff);
                }
            }
        }
        Ok(cosigned)
    }

    /// One witness, retried within `wait`: a 409 teaches the size it last
    /// cosigned; other failures are retried only for critical checkpoints.
    async fn cosign_one<S: TileStorage + Sync>(
        &mut self,
        w: &dyn Cosigner,
        storage: &S,
        note: &Note,
        size: u64,
        wait: Duration,
        critical: bool,
    ) -> std::result::Result<Vec<u8>, String> {
        let name = w.verifier().name().to_string();
        let deadline = Instant::now() + wait;
        let mut conflicts = 0;
        loop {
            let old = self.sizes.get(&name).copied().unwrap_or(0);
            if old > size {
                return Err(format!(
                    "it has cosigned size {old}, beyond this log's {size}: it saw another history"
                ));
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                consistency_proof(&TileHashSource::new(storage, size), old, size)
                    .map_err(|e| format!("consistency proof from {old}: {e}"))?
            };
            let body = AddCheckpointRequest {
                old_size: old,
                proof,
                checkpoint: note.clone(),
            }
            .to_bytes();
            let left = deadline.saturating_duration_since(Instant::now());
            let failure = match tokio::time::timeout(left, w.add_checkpoint(body)).await {
                Ok(Ok((200, answer))) => return Ok(answer),
                Ok(Ok((409, answer))) if conflicts < 3 => match parse_conflict_size(&answer) {
                    Ok(their) => {
                        conflicts += 1;
                        self.sizes.insert(name.clone(), their);
                        continue;
                    }
                    Err(_) => format!("409: {}", String::from_utf8_lossy(&answer).trim()),
                },
                Ok(Ok((status, answer))) => {
                    format!("{status}: {}", String::from_utf8_lossy(&answer).trim())
                }
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {} ms", wait.as_millis()),
            };
            if !critical || Instant::now() >= deadline {
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use transparency::key::{ALG_COSIGNATURE_V1, ALG_ED25519};
    use transparency::store::{Appender, DirStorage};
    use transparency::witness::{FileWitnessState, Witness};
    use transparency::{Checkpoint, NoteSigner};

    /// A real witness (the library's), in process; or one that is down.
    struct Fake {
        witness: Witness<FileWitnessState>,
        verifier: NoteVerifier,
        down: bool,
        calls: AtomicU32,
    }

    impl Cosigner for Fake {
        fn verifier(&self) -> &NoteVerifier {
            &self.verifier
        }

        fn add_checkpoint(
            &self,
            body: Vec<u8>,
        ) -> Pin<Box<dyn Future<Output = Answer> + Send + '_>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = if self.down {
                Err("connection refused".to_string())
            } else {
                Ok(match self.witness.add_checkpoint(&body, 1_700_000_000) {
                    Ok(lines) => (200, lines),
                    Err(r) => (r.status(), r.body()),
                })
            };
            Box::pin(async move { answer })
        }
    }

    fn fake(log: &NoteSigner, dir: &std::path::Path, down: bool) -> Arc<Fake> {
        let key = NoteSigner::generate("witness.example/w", ALG_COSIGNATURE_V1).unwrap();
        let verifier = key.verifier();
        let state = FileWitnessState::open(dir).unwrap();
        Arc::new(Fake {
            witness: Witness::new(key, vec![log.verifier()], state).unwrap(),
            verifier,
            down,
            calls: AtomicU32::new(0),
        })
    }

    fn cosigned_by(note: &Note, w: &NoteVerifier) -> bool {
        note.verify(std::slice::from_ref(w))
            .is_ok_and(|v| v.signatures.iter().any(|s| s.name == w.name()))
    }

    #[tokio::test]
    async fn checkpoints_are_cosigned_and_a_witness_that_is_down_holds_only_critical_ones() {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let mut appender =
            Appender::create(DirStorage::new(dir.path().join("log"), false).unwrap());
        let mut grow = |n: u32| {
            let entries: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
            appender.append(&entries).unwrap();
            let cp = appender.checkpoint("example.org/log");
            (cp.sign(&log).unwrap(), cp.size)
        };
        let up = fake(&log, &dir.path().join("up"), false);
        let witnesses: Vec<Arc<dyn Cosigner>> = vec![up.clone()];
        let storage = DirStorage::new(dir.path().join("log"), false).unwrap();

        let (note, size) = grow(10);
        let mut w = Witnessing::default();
        let cosigned = w
            .cosign(&witnesses, &storage, note, size, false)
            .await
            .unwrap();
        assert!(cosigned_by(&cosigned, &up.verifier));
        assert!(
            cosigned_by(&cosigned, &log.verifier()),
            "the log's signature stays"
        );
        // A sequencer that restarted knows nothing: the witness's 409 tells
        // it the size, and the consistency proof follows.
        let (note, size) = grow(5);
        let mut fresh = Witnessing::default();
        let cosigned = fresh
            .cosign(&witnesses, &storage, note, size, true)
            .await
            .unwrap();
        assert!(cosigned_by(&cosigned, &up.verifier));
        assert_eq!(Checkpoint::parse_text(cosigned.text()).unwrap().size, 15);

        // A witness that is down: an ordinary checkpoint is published
        // without it, and it is skipped for a while; a close or a draw
        // fails after the critical wait.
        let down = fake(&log, &dir.path().join("down"), true);
        let witnesses: Vec<Arc<dyn Cosigner>> = vec![down.clone()];
        let mut w = Witnessing::with_waits(
            Duration::from_millis(600),
            Duration::from_millis(50),
            Duration::from_secs(60),
        );
        let (note, size) = grow(1);
        let published = w
            .cosign(&witnesses, &storage, note.clone(), size, false)
            .await
            .unwrap();
        assert_eq!(published, note);
        assert_eq!(down.calls.load(Ordering::SeqCst), 1);
        w.cosign(&witnesses, &storage, note.clone(), size, false)
            .await
            .unwrap();
        assert_eq!(
            down.calls.load(Ordering::SeqCst),
            1,
            "skipped while backing off"
        );
        let started = Instant::now();
        let err = w
            .cosign(&witnesses, &storage, note, size, true)
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert!(
            down.calls.load(Ordering::SeqCst) >= 3,
            "retried until the wait ran out"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("witness.example/w did not cosign") && msg.contains("connection refused"),
            "{msg}"
        );
    }
}
