//! `raffle-audit log`: the whole audit of a published log.
//!
//! In order: the checkpoint's signature by the log key and, with a policy,
//! its witness cosignatures; consistency with the last checkpoint this
//! auditor verified (a rollback or a fork is an error, even re-signed with
//! the real key); every entry bundle and tile read, hashed and the root
//! recomputed; every entry replayed through the raffle rules
//! ([`crate::rules`]). The state moves forward only when all of it held.

use crate::keys::Policy;
use crate::rules::{Audit, Lookup};
use crate::source::Source;
use crate::state::AuditState;
use crate::walk::walk;
use crate::{Error, Result};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};
use transparency::checkpoint::{Checkpoint, SignedCheckpoint};
use transparency::hash::Hash;
use transparency::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use transparency::store::{CHECKPOINT_PATH, TileHashSource, read_entry};
use transparency::{NoteVerifier, leaf_hash};

/// What a finished audit found.
pub struct Outcome {
    pub checkpoint: Checkpoint,
    /// The signed checkpoint, verbatim.
    pub note: Vec<u8>,
    /// Names of the policy witnesses whose cosignatures verified.
    pub cosigners: Vec<String>,
    /// Size of the checkpoint the state held before this audit.
    pub previous: Option<u64>,
    pub audit: Audit,
    pub seconds: f64,
    /// Whether the state directory moved forward.
    pub advanced: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.audit.violation_count == 0
    }
}

/// Reads and verifies the published checkpoint, with the policy's quorum.
pub fn published_checkpoint(
    source: &Source,
    vkey: &NoteVerifier,
    policy: Option<&Policy>,
) -> Result<(SignedCheckpoint, Vec<u8>, Vec<String>)> {
    let note = source.read_required(CHECKPOINT_PATH)?;
    let witnesses = policy.map(|p| p.witnesses.clone()).unwrap_or_default();
    let signed = SignedCheckpoint::open(&note, vkey, &witnesses)?;
    let mut cosigners = Vec::new();
    if let Some(p) = policy {
        for w in &p.witnesses {
            if signed
                .verified
                .signatures
                .iter()
                .any(|s| s.name == w.name() && s.key_id == w.key_id())
            {
                cosigners.push(w.name().to_string());
            }
        }
        if cosigners.len() < p.quorum {
            return Err(Error::Log(transparency::Error::Signature(format!(
                "the checkpoint carries valid cosignatures of {} of the policy's witnesses ({}), the quorum is {}",
                cosigners.len(),
                if cosigners.is_empty() {
                    "none".to_string()
                } else {
                    cosigners.join(", ")
                },
                p.quorum
            ))));
        }
    }
    Ok((signed, note, cosigners))
}

/// Proves that the tree of `size` with `root` extends the tree of
/// `old_size` with `old_root`, from the published tiles.
pub fn check_consistency(
    source: &Source,
    old_size: u64,
    old_root: Hash,
    size: u64,
    root: Hash,
) -> Result<()> {
    if size < old_size {
        return Err(Error::Log(transparency::Error::Inconsistent(format!(
            "rollback: the log has {size} entries, fewer than the {old_size} already verified"
        ))));
    }
    let proof = consistency_proof(&TileHashSource::new(source, size), old_size, size)?;
    verify_consistency(old_size, size, &proof, old_root, root).map_err(|e| {
        Error::Log(transparency::Error::Inconsistent(format!(
            "fork: the log of size {size} does not extend the verified log of size {old_size} ({e})"
        )))
    })
}

/// Reads earlier entries back, each proven included under the audited root.
pub struct ProvenLookup<'a> {
    pub source: &'a Source,
    pub size: u64,
    pub root: Hash,
}

impl Lookup for ProvenLookup<'_> {
    fn entry(&self, index: u64) -> std::result::Result<Vec<u8>, String> {
        let entry = read_entry(self.source, index, self.size).map_err(|e| e.to_string())?;
        let proof = inclusion_proof(
            &TileHashSource::new(self.source, self.size),
            index,
            self.size,
        )
        .map_err(|e| e.to_string())?;
        verify_inclusion(index, self.size, leaf_hash(&entry), &proof, self.root)
            .map_err(|e| e.to_string())?;
        Ok(entry)
    }
}

/// Options of one audit.
pub struct Options<'a> {
    pub vkey: &'a NoteVerifier,
    pub policy: Option<&'a Policy>,
    pub state: Option<&'a AuditState>,
    /// Record a step-by-step account of this raffle's draws.
    pub trace: Option<&'a str>,
    pub progress: bool,
}

/// Runs the whole audit. `Err` means no verdict could be reached (the log's
/// files or signatures do not verify); rule violations are in the outcome.
pub fn audit_log(source: &Source, opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let (signed, note, cosigners) = published_checkpoint(source, opts.vkey, opts.policy)?;
    let cp = signed.checkpoint.clone();
    let previous = match opts.state {
        Some(state) => match state.last(opts.vkey)? {
            Some(last) => {
                check_consistency(
                    source,
                    last.checkpoint.size,
                    last.checkpoint.root,
                    cp.size,
                    cp.root,
                )?;
                Some(last.checkpoint.size)
            }
            None => None,
        },
        None => None,
    };
    let witnesses = opts.policy.map(|p| p.witnesses.clone()).unwrap_or_default();
    let mut audit = Audit::new(&cp.origin, witnesses);
    if let Some(raffle) = opts.trace {
        audit.trace(raffle);
    }
    let lookup = ProvenLookup {
        source,
        size: cp.size,
        root: cp.root,
    };
    let mut progress = Progress::new(opts.progress, cp.size);
    walk(source, cp.size, cp.root, |bundle| {
        for (i, entry) in bundle.entries.iter().enumerate() {
            audit.apply(bundle.first + i as u64, entry, &lookup);
        }
        progress.tick(bundle.first + bundle.entries.len() as u64);
        Ok(())
    })?;
    progress.done();
    let mut advanced = false;
    if audit.violation_count == 0
        && let Some(state) = opts.state
    {
        state.advance(&note)?;
        advanced = true;
    }
    Ok(Outcome {
        checkpoint: cp,
        note,
        cosigners,
        previous,
        audit,
        seconds: started.elapsed().as_secs_f64(),
        advanced,
    })
}

/// Progress on standard error for long runs: after two seconds, then
/// every second on a terminal (in place) or every ten seconds otherwise.
pub struct Progress {
    enabled: bool,
    total: u64,
    started: Instant,
    last: Instant,
    tty: bool,
    shown: bool,
}

impl Progress {
    pub fn new(enabled: bool, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            enabled,
            total,
            started: now,
            last: now,
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    pub fn tick(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let every = if self.tty {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(10)
        };
        let first = !self.shown && self.started.elapsed() >= Duration::from_secs(2);
        if first || (self.shown && self.last.elapsed() >= every) {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let line = format!(
                "raffle-audit: {done} of {} entries ({:.0}%, {rate:.0} entries/s)",
                self.total,
                100.0 * done as f64 / self.total.max(1) as f64
            );
            if self.tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
            self.shown = true;
            self.last = Instant::now();
        }
    }

    pub fn done(&self) {
        if self.enabled && self.shown && self.tty {
            eprintln!();
        }
    }
}
