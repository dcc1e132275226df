//! c2sp.org/tlog-witness `add-checkpoint`, both sides, as library code (the
//! HTTP server and client around them live elsewhere).
//!
//! Log side: [`AddCheckpointRequest`] builds the request body;
//! [`parse_conflict_size`] reads a 409 answer; [`apply_cosignatures`] checks
//! a 200 answer against the trusted witness keys and adds the cosignatures
//! to the checkpoint.
//!
//! Witness side: [`Witness::add_checkpoint`] makes the decision: known origin
//! (404), a valid signature by a trusted log key (403), old size not above
//! the new size (400), old size equal to the size it last cosigned (409 with
//! that size), a consistency proof that verifies (422), equal roots when the
//! sizes are equal (409). The new state is persisted through
//! [`WitnessState::compare_and_swap`] *before* the cosignature is returned,
//! and the check and the write are one atomic step.

use crate::checkpoint::Checkpoint;
use crate::cosignature::cosign;
use crate::framing;
use crate::hash::Hash;
use crate::key::{NoteSigner, NoteVerifier};
use crate::note::{Note, SignatureLine, VerifiedSignature};
use crate::proof::verify_consistency;
use crate::tile::parse_decimal;
use crate::{Error, Result};
use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// Content type of the 409 answer body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The body of `POST <prefix>/add-checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint (it may carry several signatures).
    pub checkpoint: Note,
}

impl AddCheckpointRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        framing::encode(
            format!("old {}\n", self.old_size),
            &self.proof,
            &self.checkpoint,
        )
    }

    pub fn parse(body: &[u8]) -> Result<AddCheckpointRequest> {
        const WHAT: &str = "add-checkpoint request";
        let (mut lines, note_text) = framing::split(body, WHAT)?;
        let old_line = lines.next().unwrap_or_default();
        let old = old_line.strip_prefix("old ").ok_or_else(|| {
            Error::malformed(WHAT, format!("first line {old_line:?} is not `old <size>`"))
        })?;
        let old_size = parse_decimal(old).ok_or_else(|| {
            Error::malformed(
                WHAT,
                format!("old size {old:?} is not a decimal number without leading zeroes"),
            )
        })?;
        let proof = framing::parse_hashes(lines, MAX_PROOF_LINES, WHAT, "consistency proof line")?;
        let checkpoint = Note::parse(note_text.as_bytes())?;
        Ok(AddCheckpointRequest {
            old_size,
            proof,
            checkpoint,
        })
    }
}

/// Reads the body of a 409 answer: the size the witness last cosigned.
pub fn parse_conflict_size(body: &[u8]) -> Result<u64> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(parse_decimal)
        .ok_or_else(|| {
            Error::malformed(
                "witness size answer",
                "not a decimal size followed by a newline",
            )
        })
}

/// Parses a 200 answer (one or more signature lines), verifies the lines
/// made by `witness_keys` over `checkpoint`, ignores lines by unknown keys,
/// and adds the verified ones to `checkpoint`. Fails if none verifies.
pub fn apply_cosignatures(
    checkpoint: &mut Note,
    body: &[u8],
    witness_keys: &[NoteVerifier],
) -> Result<Vec<VerifiedSignature>> {
    let text =
        std::str::from_utf8(body).map_err(|_| Error::malformed("witness answer", "not UTF-8"))?;
    let lines_text = text
        .strip_suffix('\n')
        .ok_or_else(|| Error::malformed("witness answer", "does not end with a newline"))?;
    let lines: Vec<SignatureLine> = lines_text
        .split('\n')
        .map(SignatureLine::parse)
        .collect::<Result<_>>()?;
    let mut probe = Note::new(checkpoint.text())?;
    for line in &lines {
        probe.add_signature(line.clone());
    }
    let verified = probe.verify(witness_keys)?;
    for line in lines {
        if verified
            .signatures
            .iter()
            .any(|v| v.name == line.name && v.key_id == line.key_id)
        {
            checkpoint.add_signature(line);
        }
    }
    Ok(verified.signatures)
}

/// Why a witness refused a checkpoint, with the HTTP status of tlog-witness.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    #[error("no valid signature by a trusted key of the log: {0}")]
    Forbidden(String),
    #[error("old size does not match the latest cosigned size {0}")]
    SizeConflict(u64),
    #[error("same size {0} as the latest cosigned checkpoint, but another root hash")]
    RootConflict(u64),
    #[error("consistency proof does not verify: {0}")]
    InvalidProof(String),
    #[error("witness state: {0}")]
    Storage(Error),
}

impl Refusal {
    /// The HTTP status tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Forbidden(_) => 403,
            Refusal::SizeConflict(_) | Refusal::RootConflict(_) => 409,
            Refusal::InvalidProof(_) => 422,
            Refusal::Storage(_) => 500,
        }
    }

    /// The response body: for a size conflict, the size and a newline
    /// (content type [`SIZE_CONTENT_TYPE`]); otherwise the message.
    pub fn body(&self) -> Vec<u8> {
        match self {
            Refusal::SizeConflict(size) => format!("{size}\n").into_bytes(),
            other => format!("{other}\n").into_bytes(),
        }
    }
}

/// The latest checkpoint a witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
}

/// Where a witness keeps, per origin, the latest checkpoint it cosigned.
///
/// Implementations guarantee: `compare_and_swap` replaces the record only if
/// it still equals `expected`, atomically, and the new record (the checkpoint's
/// origin, size and root) is durable when it returns `Ok(true)`.
pub trait WitnessState {
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>>;
    fn compare_and_swap(&self, expected: Option<&Cosigned>, new: &Checkpoint) -> Result<bool>;
}

/// A directory holding one file per origin (named by the SHA-256 of the
/// origin), each replaced by write, fsync, rename and directory fsync. An
/// exclusive lock on `lock` keeps a second process out of the directory.
#[derive(Debug)]
pub struct FileWitnessState {
    dir: PathBuf,
    _lock: fs::File,
    guard: Mutex<()>,
}

impl FileWitnessState {
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileWitnessState> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock_path = dir.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock.try_lock().map_err(|_| {
            Error::InvalidArgument(format!(
                "witness state {} is in use by another process",
                dir.display()
            ))
        })?;
        Ok(FileWitnessState {
            dir,
            _lock: lock,
            guard: Mutex::new(()),
        })
    }

    fn path_for(&self, origin: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let name: String = Sha256::digest(origin.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{name}.checkpoint"))
    }

    fn read(&self, path: &Path) -> Result<Option<Cosigned>> {
        match fs::read_to_string(path) {
            Ok(text) => {
                let cp = Checkpoint::parse_text(&text)?;
                Ok(Some(Cosigned {
                    size: cp.size,
                    root: cp.root,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

impl WitnessState for FileWitnessState {
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>> {
        self.read(&self.path_for(origin))
    }

    fn compare_and_swap(&self, expected: Option<&Cosigned>, new: &Checkpoint) -> Result<bool> {
        let _g = self.guard.lock().expect("witness state lock");
        let path = self.path_for(&new.origin);
        if self.read(&path)?.as_ref() != expected {
            return Ok(false);
        }
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(new.to_text().as_bytes())
            .map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(&self.dir, e))?;
        Ok(true)
    }
}

/// A witness: its cosigning key, the logs it follows and its state.
pub struct Witness<S: WitnessState> {
    key: NoteSigner,
    logs: HashMap<String, Vec<NoteVerifier>>,
    state: S,
    guard: Mutex<()>,
}

impl<S: WitnessState> Witness<S> {
    /// `key` must be a cosignature/v1 key (type 0x04); `log_keys` are the
    /// trusted log keys, each identifying its log by its name (the origin).
    pub fn new(key: NoteSigner, log_keys: Vec<NoteVerifier>, state: S) -> Result<Witness<S>> {
        if key.alg() != crate::key::ALG_COSIGNATURE_V1 {
            return Err(Error::InvalidArgument(
                "a witness key must be a cosignature/v1 (0x04) key".into(),
            ));
        }
        let mut logs: HashMap<String, Vec<NoteVerifier>> = HashMap::new();
        for k in log_keys {
            logs.entry(k.name().to_string()).or_default().push(k);
        }
        Ok(Witness {
            key,
            logs,
            state,
            guard: Mutex::new(()),
        })
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.key.verifier()
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    /// Handles an `add-checkpoint` body at time `now` (POSIX seconds) and
    /// returns the response body of cosignature lines.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Vec<u8>, Refusal> {
        let req =
            AddCheckpointRequest::parse(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let cp = Checkpoint::parse_text(req.checkpoint.text())
            .map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let keys = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| Refusal::UnknownOrigin(cp.origin.clone()))?;
        req.checkpoint
            .verify(keys)
            .map_err(|e| Refusal::Forbidden(e.to_string()))?;
        if req.old_size > cp.size {
            return Err(Refusal::BadRequest(format!(
                "old size {} is above the checkpoint size {}",
                req.old_size, cp.size
            )));
        }

        // Check and persist as one step: no other request of this process can
        // interleave, and the state's compare-and-swap catches any other writer.
        let _g = self.guard.lock().expect("witness lock");
        let latest = self.state.latest(&cp.origin).map_err(Refusal::Storage)?;
        let latest_size = latest.as_ref().map_or(0, |c| c.size);
        if req.old_size != latest_size {
            return Err(Refusal::SizeConflict(latest_size));
        }
        match &latest {
            None => {
                if !req.proof.is_empty() {
                    return Err(Refusal::BadRequest(
                        "the consistency proof must be empty when the old size is 0".into(),
                    ));
                }
            }
            Some(prev) if prev.size == cp.size => {
                if prev.root != cp.root {
                    return Err(Refusal::RootConflict(cp.size));
                }
                if !req.proof.is_empty() {
                    return Err(Refusal::InvalidProof(
                        "sizes are equal but the proof is not empty".into(),
                    ));
                }
            }
            Some(prev) if prev.size == 0 => {
                if !req.proof.is_empty() {
                    return Err(Refusal::BadRequest(
                        "the consistency proof must be empty when the old size is 0".into(),
                    ));
                }
            }
            Some(prev) => verify_consistency(prev.size, cp.size, &req.proof, prev.root, cp.root)
                .map_err(|e| Refusal::InvalidProof(e.to_string()))?,
        }
        if !self
            .state
            .compare_and_swap(latest.as_ref(), &cp)
            .map_err(Refusal::Storage)?
        {
            let now_latest = self.state.latest(&cp.origin).map_err(Refusal::Storage)?;
            return Err(Refusal::SizeConflict(now_latest.map_or(0, |c| c.size)));
        }
        let line = cosign(&self.key, &req.checkpoint, now).map_err(Refusal::Storage)?;
        Ok(line.to_line().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ALG_COSIGNATURE_V1, ALG_ED25519};
    use crate::proof::consistency_proof;
    use crate::tree::MemoryTree;

    struct Fixture {
        log: NoteSigner,
        tree: MemoryTree,
        witness: Witness<FileWitnessState>,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let wkey = NoteSigner::generate("witness.example/w", ALG_COSIGNATURE_V1).unwrap();
        let state = FileWitnessState::open(dir.path()).unwrap();
        let witness = Witness::new(wkey, vec![log.verifier()], state).unwrap();
        Fixture {
            log,
            tree: MemoryTree::new(),
            witness,
            _dir: dir,
        }
    }

    fn grow(f: &mut Fixture, n: u32) -> Note {
        for i in 0..n {
            f.tree.append(&i.to_be_bytes());
        }
        Checkpoint::new("example.org/log", f.tree.size(), f.tree.root())
            .sign(&f.log)
            .unwrap()
    }

    fn request(f: &Fixture, old: u64, note: &Note) -> Vec<u8> {
        let size = Checkpoint::parse_text(note.text()).unwrap().size;
        let proof = consistency_proof(&f.tree, old, size).unwrap();
        AddCheckpointRequest {
            old_size: old,
            proof,
            checkpoint: note.clone(),
        }
        .to_bytes()
    }

    #[test]
    fn a_witness_cosigns_consistent_checkpoints_and_refuses_the_rest() {
        let mut f = fixture();
        let cp5 = grow(&mut f, 5);
        let body = f
            .witness
            .add_checkpoint(&request(&f, 0, &cp5), 1_700_000_000)
            .unwrap();
        let mut note = cp5.clone();
        let v = apply_cosignatures(&mut note, &body, &[f.witness.verifier()]).unwrap();
        assert_eq!(v[0].timestamp, Some(1_700_000_000));
        assert_eq!(note.signatures().len(), 2);

        let cp9 = grow(&mut f, 4);
        // Stale old size: 409 with the size the witness holds.
        let r = f
            .witness
            .add_checkpoint(&request(&f, 0, &cp9), 1)
            .unwrap_err();
        assert_eq!(
            (r.status(), parse_conflict_size(&r.body()).unwrap()),
            (409, 5)
        );
        // A wrong proof: 422.
        let mut bad = AddCheckpointRequest::parse(&request(&f, 5, &cp9)).unwrap();
        bad.proof[0].0[0] ^= 1;
        assert_eq!(
            f.witness
                .add_checkpoint(&bad.to_bytes(), 1)
                .unwrap_err()
                .status(),
            422
        );
        // The state did not move.
        assert_eq!(
            f.witness
                .state()
                .latest("example.org/log")
                .unwrap()
                .unwrap()
                .size,
            5
        );
        f.witness.add_checkpoint(&request(&f, 5, &cp9), 2).unwrap();
        assert_eq!(
            f.witness
                .state()
                .latest("example.org/log")
                .unwrap()
                .unwrap()
                .size,
            9
        );

        // A fork at the same size: 409.
        let mut fork = MemoryTree::new();
        for i in 0..9u32 {
            fork.append(&(i + 1).to_be_bytes());
        }
        let forked = Checkpoint::new("example.org/log", 9, fork.root())
            .sign(&f.log)
            .unwrap();
        let body = AddCheckpointRequest {
            old_size: 9,
            proof: vec![],
            checkpoint: forked,
        }
        .to_bytes();
        assert_eq!(
            f.witness.add_checkpoint(&body, 3).unwrap_err().status(),
            409
        );
        // old size above the checkpoint: 400.
        assert_eq!(
            f.witness
                .add_checkpoint(&request(&f, 9, &cp9).replace_old(10), 3)
                .unwrap_err()
                .status(),
            400
        );
        // Unknown origin: 404. Unknown key: 403.
        let stranger = NoteSigner::generate("other.example/log", ALG_ED25519).unwrap();
        let other = Checkpoint::new("other.example/log", 9, f.tree.root())
            .sign(&stranger)
            .unwrap();
        let body = AddCheckpointRequest {
            old_size: 0,
            proof: vec![],
            checkpoint: other,
        }
        .to_bytes();
        assert_eq!(
            f.witness.add_checkpoint(&body, 3).unwrap_err().status(),
            404
        );
        let impostor = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let signed_by_impostor = Checkpoint::new("example.org/log", 9, f.tree.root())
            .sign(&impostor)
            .unwrap();
        let body = AddCheckpointRequest {
            old_size: 9,
            proof: vec![],
            checkpoint: signed_by_impostor,
        }
        .to_bytes();
        assert_eq!(
            f.witness.add_checkpoint(&body, 3).unwrap_err().status(),
            403
        );
        assert_eq!(
            f.witness
                .add_checkpoint(b"garbage", 3)
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn the_state_directory_has_one_owner_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let state = FileWitnessState::open(dir.path()).unwrap();
        assert!(
            FileWitnessState::open(dir.path())
                .unwrap_err()
                .to_string()
                .contains("in use")
        );
        let c = Cosigned {
            size: 3,
            root: crate::leaf_hash(b"r"),
        };
        let cp = Checkpoint::new("o", 3, c.root);
        assert!(state.compare_and_swap(None, &cp).unwrap());
        assert!(!state.compare_and_swap(None, &cp).unwrap());
        drop(state);
        let state = FileWitnessState::open(dir.path()).unwrap();
        assert_eq!(state.latest("o").unwrap(), Some(c));
    }

    trait ReplaceOld {
        fn replace_old(self, old: u64) -> Vec<u8>;
    }
    impl ReplaceOld for Vec<u8> {
        fn replace_old(self, old: u64) -> Vec<u8> {
            let mut req = AddCheckpointRequest::parse(&self).unwrap();
            req.old_size = old;
            req.to_bytes()
        }
    }
}
