//! c2sp.org/signed-note: a text ending in a newline, a blank line, and one or
//! more signature lines `— <key name> base64(key id || signature)`.
//!
//! Rules enforced when parsing: valid UTF-8, no control characters except
//! newline, the signatures start after the *last* blank line, every signature
//! line well formed, at most [`Note::MAX_SIGNATURES`] of them (the spec asks
//! for at least 16) and at most [`Note::MAX_SIZE`] bytes in all.
//! Rules enforced when verifying: signatures by unknown keys are ignored
//! (even if they share a name or an id with a known key); a signature by a
//! known key that fails rejects the whole note; a note with no verified
//! signature is rejected.

use crate::key::{NoteSigner, NoteVerifier, is_valid_key_name};
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub key_id: u32,
    /// The signature bytes after the 4-byte key id.
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// Parses one line, without its newline.
    pub fn parse(line: &str) -> Result<SignatureLine> {
        let bad = |reason: &str| Error::malformed("signature line", format!("{line:?}: {reason}"));
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("no space between key name and signature"))?;
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        if b64.is_empty() {
            return Err(bad("empty signature"));
        }
        let raw = BASE64
            .decode(b64)
            .map_err(|_| bad("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature shorter than a key id and one byte"));
        }
        Ok(SignatureLine {
            name: name.to_string(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }

    /// The line with its trailing newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }
}

/// A note: its text and its signature lines (verified or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<SignatureLine>,
}

/// A signature that verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub name: String,
    pub key_id: u32,
    /// The cosignature time (POSIX seconds) for cosignature/v1 keys.
    pub timestamp: Option<u64>,
}

/// The outcome of [`Note::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub signatures: Vec<VerifiedSignature>,
    /// Signature lines by keys that were not known, which were ignored.
    pub unknown: Vec<SignatureLine>,
}

fn check_text(text: &str, what: &'static str) -> Result<()> {
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        return Err(Error::malformed(
            what,
            format!("control character U+{:04X} at byte {i}", c as u32),
        ));
    }
    Ok(())
}

impl Note {
    /// Largest note accepted, in bytes.
    pub const MAX_SIZE: usize = 1 << 20;
    /// Most signature lines accepted (Go's limit; the spec requires at least 16).
    pub const MAX_SIGNATURES: usize = 100;

    /// A note with this text and no signatures yet. The text must end in a
    /// newline and contain no control characters but newlines.
    pub fn new(text: impl Into<String>) -> Result<Note> {
        let text = text.into();
        if text.len() > Self::MAX_SIZE {
            return Err(Error::malformed("note text", "larger than 1 MiB"));
        }
        check_text(&text, "note text")?;
        if !text.ends_with('\n') {
            return Err(Error::malformed("note text", "does not end with a newline"));
        }
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note (without verifying it).
    pub fn parse(msg: &[u8]) -> Result<Note> {
        const WHAT: &str = "signed note";
        if msg.len() > Self::MAX_SIZE {
            return Err(Error::malformed(WHAT, "larger than 1 MiB"));
        }
        let msg = std::str::from_utf8(msg).map_err(|e| {
            Error::malformed(WHAT, format!("not UTF-8 at byte {}", e.valid_up_to()))
        })?;
        check_text(msg, WHAT)?;
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| Error::malformed(WHAT, "no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(Error::malformed(
                WHAT,
                "no signature lines after the last blank line",
            ));
        }
        if !sigs.ends_with('\n') {
            return Err(Error::malformed(
                WHAT,
                "the last signature line does not end with a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == Self::MAX_SIGNATURES {
                return Err(Error::malformed(
                    WHAT,
                    format!("more than {} signatures", Self::MAX_SIGNATURES),
                ));
            }
            signatures.push(SignatureLine::parse(line)?);
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[SignatureLine] {
        &self.signatures
    }

    /// Adds a signature line, replacing any earlier one by the same key (name and id).
    pub fn add_signature(&mut self, line: SignatureLine) {
        self.signatures
            .retain(|s| !(s.name == line.name && s.key_id == line.key_id));
        self.signatures.push(line);
    }

    /// Signs the text with a plain Ed25519 key (type 0x01). Cosigners use
    /// [`crate::cosignature::cosign`], which adds a timestamp.
    pub fn sign(&mut self, signer: &NoteSigner) -> Result<()> {
        if signer.alg() != crate::key::ALG_ED25519 {
            return Err(Error::InvalidArgument(
                "a cosigner key signs with cosignature::cosign, not Note::sign".into(),
            ));
        }
        let sig = signer.sign_raw(self.text.as_bytes());
        self.add_signature(SignatureLine {
            name: signer.name().to_string(),
            key_id: signer.key_id(),
            signature: sig.to_vec(),
        });
        Ok(())
    }

    /// Verifies the note against known keys (see the module rules).
    pub fn verify(&self, known: &[NoteVerifier]) -> Result<Verified> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unknown: Vec<SignatureLine> = Vec::new();
        for sig in &self.signatures {
            let mut matches = known
                .iter()
                .filter(|v| v.name() == sig.name && v.key_id() == sig.key_id);
            let Some(verifier) = matches.next() else {
                if !unknown.contains(sig) {
                    unknown.push(sig.clone());
                }
                continue;
            };
            if matches.any(|other| other != verifier) {
                return Err(Error::Signature(format!(
                    "two different known keys are named {}+{:08x}",
                    sig.name, sig.key_id
                )));
            }
            if verified
                .iter()
                .any(|v| v.name == sig.name && v.key_id == sig.key_id)
            {
                continue;
            }
            let timestamp = verifier.verify_note_signature(&self.text, &sig.signature)?;
            verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
                timestamp,
            });
        }
        if verified.is_empty() {
            let names: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect();
            return Err(Error::Signature(format!(
                "no signature by a known key (the note is signed by: {})",
                names.join(", ")
            )));
        }
        Ok(Verified {
            signatures: verified,
            unknown,
        })
    }

    /// The signed note's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ALG_ED25519;

    #[test]
    fn parse_rejects_malformed_notes_with_reasons() {
        let s = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let mut n = Note::new("hello\n\nworld\n").unwrap();
        n.sign(&s).unwrap();
        let good = n.to_bytes();
        assert_eq!(Note::parse(&good).unwrap(), n);
        assert_eq!(Note::parse(&good).unwrap().text(), "hello\n\nworld\n");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"no blank line\n".to_vec(), "no blank line"),
            (b"text\n\n".to_vec(), "no signature lines"),
            (
                good[..good.len() - 1].to_vec(),
                "does not end with a newline",
            ),
            (b"text\n\n- name AAAAAAA=\n".to_vec(), "em dash"),
            (b"text\n\n\xe2\x80\x94 name\n".to_vec(), "no space"),
            (
                b"text\n\n\xe2\x80\x94 na+me AAAAAAA=\n".to_vec(),
                "invalid key name",
            ),
            (b"text\n\n\xe2\x80\x94 name AAAA\n".to_vec(), "shorter"),
            (b"text\n\n\xe2\x80\x94 name !!!!\n".to_vec(), "not base64"),
            (
                b"te\txt\n\n\xe2\x80\x94 name AAAAAAA=\n".to_vec(),
                "control character",
            ),
            (
                b"te\xffxt\n\n\xe2\x80\x94 name AAAAAAA=\n".to_vec(),
                "not UTF-8",
            ),
        ];
        for (msg, want) in cases {
            let err = Note::parse(&msg).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(&msg)
            );
        }
    }

    #[test]
    fn verification_follows_the_spec_rules() {
        let log = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let other = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let mut n = Note::new("text\n").unwrap();
        n.sign(&other).unwrap();
        n.sign(&log).unwrap();
        // Unknown keys (same name, other id) are ignored.
        let v = n.verify(&[log.verifier()]).unwrap();
        assert_eq!(v.signatures.len(), 1);
        assert_eq!(v.unknown.len(), 1);
        // No known key: rejected.
        let err = n.verify(&[]).unwrap_err().to_string();
        assert!(err.contains("no signature by a known key"), "{err}");
        // A bad signature by a known key rejects the whole note.
        let mut tampered = n.clone();
        tampered.text = "texT\n".into();
        assert!(
            tampered
                .verify(&[log.verifier()])
                .unwrap_err()
                .to_string()
                .contains("invalid signature")
        );
        // At least 16 signature lines are accepted.
        let mut many = Note::new("text\n").unwrap();
        for i in 0..20 {
            many.sign(&NoteSigner::generate(&format!("w{i}"), ALG_ED25519).unwrap())
                .unwrap();
        }
        many.sign(&log).unwrap();
        let parsed = Note::parse(&many.to_bytes()).unwrap();
        assert_eq!(parsed.verify(&[log.verifier()]).unwrap().unknown.len(), 20);
    }
}
