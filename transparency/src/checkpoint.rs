//! c2sp.org/tlog-checkpoint: the note text `<origin>\n<size>\n<base64 root>\n`
//! followed by optional non-empty extension lines.

use crate::hash::Hash;
use crate::key::{NoteSigner, NoteVerifier};
use crate::note::{Note, Verified};
use crate::tile::parse_decimal;
use crate::{Error, Result};

/// A checkpoint's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Parses a checkpoint's note text.
    pub fn parse_text(text: &str) -> Result<Checkpoint> {
        const WHAT: &str = "checkpoint";
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| Error::malformed(WHAT, "does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(Error::malformed(WHAT, "empty origin line"));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| Error::malformed(WHAT, "no size line"))?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            Error::malformed(
                WHAT,
                format!("size {size_line:?} is not a decimal number without leading zeroes"),
            )
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| Error::malformed(WHAT, "no root hash line"))?;
        let root = Hash::from_base64(root_line)
            .map_err(|e| Error::malformed(WHAT, format!("root hash line: {e}")))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(Error::malformed(WHAT, "empty extension line"));
            }
            extensions.push(line.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// The note text of this checkpoint.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// A note of this checkpoint signed by `signer`.
    pub fn sign(&self, signer: &NoteSigner) -> Result<Note> {
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        Ok(note)
    }
}

/// A checkpoint whose note verified against the log's key.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Note,
    pub verified: Verified,
}

impl SignedCheckpoint {
    /// Parses and verifies a signed checkpoint: the note must carry a valid
    /// signature by `log_key`, whose name must be the origin. `others`
    /// (witness keys) are verified too when their signatures are present.
    pub fn open(
        msg: &[u8],
        log_key: &NoteVerifier,
        others: &[NoteVerifier],
    ) -> Result<SignedCheckpoint> {
        let note = Note::parse(msg)?;
        let mut known = vec![log_key.clone()];
        known.extend(others.iter().cloned());
        let verified = note.verify(&known)?;
        if !verified
            .signatures
            .iter()
            .any(|s| s.name == log_key.name() && s.key_id == log_key.key_id())
        {
            return Err(Error::Signature(format!(
                "checkpoint is not signed by the log key {}+{:08x}",
                log_key.name(),
                log_key.key_id()
            )));
        }
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != log_key.name() {
            return Err(Error::Signature(format!(
                "checkpoint origin {:?} is not the log key's name {:?}",
                checkpoint.origin,
                log_key.name()
            )));
        }
        Ok(SignedCheckpoint {
            checkpoint,
            note,
            verified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_round_trips_and_rejects_damage() {
        let c = Checkpoint {
            origin: "example.org/log".into(),
            size: 7,
            root: crate::leaf_hash(b"x"),
            extensions: vec!["ext".into()],
        };
        assert_eq!(Checkpoint::parse_text(&c.to_text()).unwrap(), c);
        for (bad, want) in [
            ("example.org/log\n07\nAAAA\n", "leading zeroes"),
            ("example.org/log\n7\nAAAA\n", "root hash"),
            ("\n7\n", "empty origin"),
            ("origin\n", "no size"),
            ("origin\n7\n", "no root"),
            ("origin\n7", "newline"),
            ("origin\n-1\nAAAA\n", "decimal"),
        ] {
            let err = Checkpoint::parse_text(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad:?}: {err}");
        }
        let root = crate::leaf_hash(b"x").to_base64();
        assert!(
            Checkpoint::parse_text(&format!("o\n1\n{root}\n\n"))
                .unwrap_err()
                .to_string()
                .contains("empty extension")
        );
        assert!(Checkpoint::parse_text(&format!("o\n18446744073709551616\n{root}\n")).is_err());
    }
}
