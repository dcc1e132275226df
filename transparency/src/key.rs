//! Ed25519 note keys (c2sp.org/signed-note §Ed25519 signatures and
//! c2sp.org/tlog-cosignature): key ids, verifier keys (`name+id+base64`) and
//! private keys in Go's `PRIVATE+KEY+name+id+base64` format.
//!
//! Two signature types are supported, each a separate key role:
//! `0x01` plain Ed25519 note signatures (the log's checkpoints) and `0x04`
//! timestamped `cosignature/v1` signatures (witnesses). Signatures are checked
//! with `verify_strict`, which refuses malleable and small-order encodings.

use crate::cosignature;
use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signature type of plain Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// Signature type of timestamped Ed25519 witness cosignatures (cosignature/v1).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// key ID = SHA-256(key name || 0x0A || signature type || public key)[:4], big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names must be non-empty and contain no Unicode spaces and no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_alg(alg: u8, what: &'static str) -> Result<()> {
    match alg {
        ALG_ED25519 | ALG_COSIGNATURE_V1 => Ok(()),
        other => Err(Error::malformed(
            what,
            format!(
                "signature type 0x{other:02x} is not supported (want 0x01 Ed25519 or 0x04 cosignature/v1)"
            ),
        )),
    }
}

/// A private note key: signs checkpoints (type 0x01) or cosigns them (type 0x04).
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    alg: u8,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl NoteSigner {
    /// A fresh key from the OS CSPRNG.
    pub fn generate(name: &str, alg: u8) -> Result<NoteSigner> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            Error::InvalidArgument(format!("the OS random number generator failed: {e}"))
        })?;
        NoteSigner::from_seed(name, alg, &seed)
    }

    /// The key whose Ed25519 seed (RFC 8032 private key) is `seed`.
    pub fn from_seed(name: &str, alg: u8, seed: &[u8; 32]) -> Result<NoteSigner> {
        check_alg(alg, "private key")?;
        if !is_valid_key_name(name) {
            return Err(Error::malformed(
                "private key",
                format!("invalid key name {name:?}"),
            ));
        }
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, alg, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_string(),
            id,
            alg,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64(type || 32-byte seed)>`,
    /// checking that the id matches the derived public key.
    pub fn from_private_key(text: &str) -> Result<NoteSigner> {
        let bad = |reason: String| Error::malformed("private key", reason);
        let text = text.trim_end_matches(['\n', '\r']);
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("does not start with PRIVATE+KEY+".into()))?;
        let KeyFields {
            name,
            id,
            alg,
            key: seed,
        } = parse_key_fields(rest, "private key", "Ed25519 seed")?;
        let signer = NoteSigner::from_seed(name, alg, &seed)?;
        if signer.id != id {
            return Err(bad(format!(
                "key id {id:08x} does not match the key (computed {:08x})",
                signer.id
            )));
        }
        Ok(signer)
    }

    /// The private key in Go's format. Store it with mode 0600; never log it.
    pub fn private_key_text(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The matching public key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            alg: self.alg,
            key: self.key.verifying_key(),
        }
    }

    /// A raw Ed25519 signature over `msg` (deterministic, RFC 8032).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// A public note key, parsed from a vkey.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    alg: u8,
    key: VerifyingKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// The fields shared by vkeys and private keys: `<name>+<id>+<base64(type || 32 bytes)>`.
struct KeyFields<'a> {
    name: &'a str,
    id: u32,
    alg: u8,
    key: [u8; 32],
}

fn parse_key_fields<'a>(
    text: &'a str,
    what: &'static str,
    material: &str,
) -> Result<KeyFields<'a>> {
    let bad = |reason: String| Error::malformed(what, reason);
    let (name, rest) = text
        .split_once('+')
        .ok_or_else(|| bad("no key id".into()))?;
    let (id_hex, key_b64) = rest
        .split_once('+')
        .ok_or_else(|| bad("no key material".into()))?;
    if !is_valid_key_name(name) {
        return Err(bad(format!("invalid key name {name:?}")));
    }
    let id = parse_key_id(id_hex)
        .ok_or_else(|| bad(format!("key id {id_hex:?} is not 8 hex digits")))?;
    let raw = BASE64
        .decode(key_b64)
        .map_err(|e| bad(format!("key is not base64: {e}")))?;
    let (alg, key) = raw.split_first().ok_or_else(|| bad("empty key".into()))?;
    check_alg(*alg, what)?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| bad(format!("{material} has {} bytes, want 32", key.len())))?;
    Ok(KeyFields {
        name,
        id,
        alg: *alg,
        key,
    })
}

fn parse_key_id(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

impl NoteVerifier {
    /// Parses a vkey: `<name>+<id>+<base64(type || 32-byte public key)>`.
    pub fn from_vkey(text: &str) -> Result<NoteVerifier> {
        let bad = |reason: String| Error::malformed("verifier key", reason);
        let text = text.trim();
        let KeyFields {
            name,
            id,
            alg,
            key: public,
        } = parse_key_fields(text, "verifier key", "Ed25519 public key")?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| bad("not a valid Ed25519 point".into()))?;
        if key_id(name, alg, &public) != id {
            return Err(bad(format!("key id {id:08x} does not match the key")));
        }
        Ok(NoteVerifier {
            name: name.to_string(),
            id,
            alg,
            key,
        })
    }

    /// The vkey text.
    pub fn vkey(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, BASE64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Checks a raw Ed25519 signature over `msg` (strict verification).
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    }

    /// Checks a note signature (the bytes after the key id) over `text`.
    /// Returns the cosignature's timestamp for type 0x04 keys.
    pub fn verify_note_signature(&self, text: &str, sig: &[u8]) -> Result<Option<u64>> {
        let fail = || {
            Error::Signature(format!(
                "invalid signature by {}+{:08x}",
                self.name, self.id
            ))
        };
        match self.alg {
            ALG_ED25519 => self
                .verify_raw(text.as_bytes(), sig)
                .then_some(None)
                .ok_or_else(fail),
            _ => {
                if sig.len() != 8 + 64 {
                    return Err(fail());
                }
                let timestamp = u64::from_be_bytes(sig[..8].try_into().expect("8 bytes"));
                let msg = cosignature::signed_message(timestamp, text)?;
                self.verify_raw(&msg, &sig[8..])
                    .then_some(Some(timestamp))
                    .ok_or_else(fail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_round_trips_and_ids_are_checked() {
        let s = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
        let text = s.private_key_text();
        let back = NoteSigner::from_private_key(&text).unwrap();
        assert_eq!(back.verifier(), s.verifier());
        assert!(!format!("{s:?}").contains(&text[20..]));
        let v = NoteVerifier::from_vkey(&s.verifier().vkey()).unwrap();
        assert_eq!(v, s.verifier());
        // A wrong id is refused with a reason.
        let wrong = text.replacen(&format!("{:08x}", s.key_id()), "00000000", 1);
        let err = NoteSigner::from_private_key(&wrong)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match"), "{err}");
        let wrong_v = v
            .vkey()
            .replacen(&format!("{:08x}", s.key_id()), "00000000", 1);
        assert!(NoteVerifier::from_vkey(&wrong_v).is_err());
        assert!(NoteVerifier::from_vkey("name+1234+AQ==").is_err());
        assert!(NoteVerifier::from_vkey("bad name+00000000+AQ==").is_err());
        assert!(NoteSigner::from_private_key("PRIVATE+KEY+x").is_err());
    }
}
