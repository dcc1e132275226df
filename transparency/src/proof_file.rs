//! c2sp.org/tlog-proof (`.tlog-proof` files): an offline-verifiable proof
//! that an entry is in a log, made of an optional `extra` line, the leaf
//! index, the inclusion proof and the signed checkpoint.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>
//! index <N>
//! <base64 hash>...
//!
//! <signed checkpoint>
//! ```

use crate::checkpoint::SignedCheckpoint;
use crate::framing;
use crate::hash::Hash;
use crate::key::NoteVerifier;
use crate::note::Note;
use crate::proof::verify_inclusion;
use crate::tile::parse_decimal;
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

const HEADER: &str = "c2sp.org/tlog-proof@v1";
const WHAT: &str = "tlog-proof";

/// A parsed `.tlog-proof` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofFile {
    /// Opaque, unauthenticated extra data (here: the entry's exact bytes).
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: Note,
}

impl ProofFile {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            head.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        head.push_str(&format!("index {}\n", self.index));
        framing::encode(head, &self.proof, &self.checkpoint)
    }

    pub fn parse(data: &[u8]) -> Result<ProofFile> {
        if data.len() > Note::MAX_SIZE + (1 << 20) {
            return Err(Error::malformed(WHAT, "larger than 2 MiB"));
        }
        let (mut lines, note_text) = framing::split(data, WHAT)?;
        if lines.next() != Some(HEADER) {
            return Err(Error::malformed(
                WHAT,
                format!("first line is not {HEADER:?}"),
            ));
        }
        let mut line = lines
            .next()
            .ok_or_else(|| Error::malformed(WHAT, "no index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                BASE64
                    .decode(b64)
                    .map_err(|e| Error::malformed(WHAT, format!("extra is not base64: {e}")))?,
            );
            line = lines
                .next()
                .ok_or_else(|| Error::malformed(WHAT, "no index line"))?;
        }
        let index_str = line.strip_prefix("index ").ok_or_else(|| {
            Error::malformed(WHAT, format!("expected an index line, found {line:?}"))
        })?;
        let index = parse_decimal(index_str).ok_or_else(|| {
            Error::malformed(
                WHAT,
                format!("index {index_str:?} is not a decimal number without leading zeroes"),
            )
        })?;
        let proof = framing::parse_hashes(lines, 64, WHAT, "proof line")?;
        let checkpoint = Note::parse(note_text.as_bytes())?;
        Ok(ProofFile {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// Verifies the proof offline: the checkpoint is signed by `log_key`
    /// (and by any of `witnesses` whose signatures are present), and the
    /// leaf `leaf` is at `index` under its root. Returns the verified checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        log_key: &NoteVerifier,
        witnesses: &[NoteVerifier],
    ) -> Result<SignedCheckpoint> {
        let signed = SignedCheckpoint::open(&self.checkpoint.to_bytes(), log_key, witnesses)?;
        let cp = &signed.checkpoint;
        verify_inclusion(self.index, cp.size, leaf, &self.proof, cp.root).map_err(|e| {
            Error::Verification(format!(
                "entry {} is not included under the checkpoint of size {}: {e}",
                self.index, cp.size
            ))
        })?;
        Ok(signed)
    }

    /// Verifies the proof for the entry carried in `extra`; returns the
    /// entry and the verified checkpoint.
    pub fn verify_extra_entry(
        &self,
        log_key: &NoteVerifier,
        witnesses: &[NoteVerifier],
    ) -> Result<(Vec<u8>, SignedCheckpoint)> {
        let entry = self
            .extra
            .clone()
            .ok_or_else(|| Error::malformed(WHAT, "no extra line carrying the entry"))?;
        let signed = self.verify(&crate::leaf_hash(&entry), log_key, witnesses)?;
        Ok((entry, signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checkpoint;
    use crate::key::{ALG_ED25519, NoteSigner};
    use crate::proof::inclusion_proof;
    use crate::tree::MemoryTree;

    #[test]
    fn proof_files_round_trip_and_verify() {
        let key = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let mut t = MemoryTree::new();
        for i in 0..10u8 {
            t.append(&[i]);
        }
        let note = Checkpoint::new("example.org/log", 10, t.root())
            .sign(&key)
            .unwrap();
        let pf = ProofFile {
            extra: Some(vec![3]),
            index: 3,
            proof: inclusion_proof(&t, 3, 10).unwrap(),
            checkpoint: note,
        };
        let bytes = pf.to_bytes();
        let back = ProofFile::parse(&bytes).unwrap();
        assert_eq!(back, pf);
        let (entry, cp) = back.verify_extra_entry(&key.verifier(), &[]).unwrap();
        assert_eq!((entry, cp.checkpoint.size), (vec![3], 10));
        // Another entry in `extra` does not verify.
        let mut wrong = back.clone();
        wrong.extra = Some(vec![4]);
        assert!(wrong.verify_extra_entry(&key.verifier(), &[]).is_err());
        // Another key does not verify.
        let other = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        assert!(back.verify_extra_entry(&other.verifier(), &[]).is_err());
        for (bad, want) in [
            (&b"c2sp.org/tlog-proof@v2\nindex 1\n\nx"[..], "first line"),
            (b"c2sp.org/tlog-proof@v1\nindex 01\n\nx", "leading zeroes"),
            (
                b"c2sp.org/tlog-proof@v1\nextra !\nindex 1\n\nx",
                "extra is not base64",
            ),
            (
                b"c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx",
                "proof line 1",
            ),
            (b"c2sp.org/tlog-proof@v1\nindex 1\n", "no empty line"),
            (
                b"c2sp.org/tlog-proof@v1\nsize 1\n\nx",
                "expected an index line",
            ),
        ] {
            let err = ProofFile::parse(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
