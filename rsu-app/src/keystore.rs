//! The device key at rest (GLI-31 6.1.2, 3.4): the Ed25519 seed the unit
//! signs with is generated on the unit from the OS CSPRNG and written only
//! encrypted, with a key derived from a passphrase (Argon2id), by
//! ChaCha20-Poly1305. The public key is bound in as associated data, so a
//! file whose public key was swapped does not open.
//!
//! The port is [`KeyStore`]: the Linux shell uses [`PassphraseFile`]; an
//! Android shell would implement it over the platform keystore. The same
//! secret also encrypts the journal's backups ([`KeyStore::backup_key`]):
//! a backup opens only where the unit's key does.
//!
//! Assumptions: the passphrase is given at start (from a file only root
//! reads, or typed), never stored beside the key.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use raffle_core::rsu::DeviceKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE: usize = 12;
const FORMAT: &str = "raffle-rsu-key/v1";

pub use crate::error::Error;

/// Where the unit's key is kept.
pub trait KeyStore {
    /// The unit's signing key.
    fn load(&self) -> Result<DeviceKey, Error>;
    /// The key the journal's backups are encrypted with: derived from the
    /// device key, never stored.
    fn backup_key(&self) -> Result<[u8; 32], Error> {
        let key = self.load()?;
        let mut h = Sha256::new();
        h.update(b"raffle-rsu-backup/v1\0");
        h.update(key.seed());
        Ok(h.finalize().into())
    }
}

/// The key in a file, encrypted with a passphrase.
pub struct PassphraseFile {
    path: PathBuf,
    passphrase: String,
    /// What the key file is bound to (the digest of the unit's
    /// configuration): a file opens only with the same.
    binding: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    format: String,
    /// The public key, 64 hex digits (shown for enrolment).
    public: String,
    /// Argon2id parameters: memory in KiB, passes, lanes.
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
    nonce: String,
    /// The encrypted 32-byte seed and its tag.
    sealed: String,
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(b)
}

fn derive(passphrase: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], Error> {
    let params = Params::new(m, t, p, Some(32)).map_err(|_| Error::WrongPassphrase)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|_| Error::WrongPassphrase)?;
    Ok(out)
}

impl PassphraseFile {
    pub fn new(path: &Path, passphrase: &str) -> PassphraseFile {
        PassphraseFile {
            path: path.to_path_buf(),
            passphrase: passphrase.to_string(),
            binding: Vec::new(),
        }
    }

    /// Binds the key to `binding` (authenticated with it, not secret): the
    /// unit's configuration, so that an edit of it stops the key opening.
    pub fn bound_to(mut self, binding: &[u8]) -> PassphraseFile {
        self.binding = binding.to_vec();
        self
    }

    /// Generates the unit's key and writes it encrypted to a new file (an
    /// existing file is never overwritten: it is the unit's identity).
    pub fn create(&self) -> Result<DeviceKey, Error> {
        if self.passphrase.chars().count() < MIN_PASSPHRASE {
            return Err(Error::WeakPassphrase);
        }
        let seed: [u8; 32] = random()?;
        let key = DeviceKey::from_seed(&seed);
        let salt: [u8; 16] = random()?;
        let nonce: [u8; 12] = random()?;
        // OWASP's Argon2id minimum: modest for a handheld, a second or so.
        let (m, t, p) = (19_456, 2, 1);
        let kek = derive(&self.passphrase, &salt, m, t, p)?;
        let public = key.public();
        let sealed = ChaCha20Poly1305::new(&Key::from(kek))
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &seed,
                    aad: &aad(&public, &self.binding),
                },
            )
            .map_err(|_| Error::Random("encryption failed".into()))?;
        let file = Sealed {
            format: FORMAT.into(),
            public: hex::encode(public),
            m_cost: m,
            t_cost: t,
            p_cost: p,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            sealed: hex::encode(sealed),
        };
        let text = serde_json::to_string_pretty(&file).expect("serialises");
        let io = |e: std::io::Error| Error::KeyFile {
            path: self.path.clone(),
            why: e.to_string(),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&self.path).map_err(io)?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(key)
    }

    /// The public key the file names, without the passphrase.
    pub fn public(path: &Path) -> Result<[u8; 32], Error> {
        let s = read(path)?;
        parse_hex(path, "public", &s.public)
    }
}

fn aad(public: &[u8; 32], binding: &[u8]) -> Vec<u8> {
    let mut a = FORMAT.as_bytes().to_vec();
    a.extend_from_slice(public);
    a.extend_from_slice(binding);
    a
}

fn read(path: &Path) -> Result<Sealed, Error> {
    let bad = |why: String| Error::KeyFile {
        path: path.to_path_buf(),
        why,
    };
    let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if text.len() > 4096 {
        return Err(bad("it is too large to be a key file".into()));
    }
    let s: Sealed =
        serde_json::from_slice(&text).map_err(|e| bad(format!("it does not read: {e}")))?;
    if s.format != FORMAT {
        return Err(bad(format!("its format is {:?}, not {FORMAT}", s.format)));
    }
    Ok(s)
}

fn parse_hex<const N: usize>(path: &Path, field: &str, text: &str) -> Result<[u8; N], Error> {
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::KeyFile {
            path: path.to_path_buf(),
            why: format!("{field} is not {N} bytes of hex"),
        })
}

impl KeyStore for PassphraseFile {
    fn load(&self) -> Result<DeviceKey, Error> {
        let s = read(&self.path)?;
        let public: [u8; 32] = parse_hex(&self.path, "public", &s.public)?;
        let salt: [u8; 16] = parse_hex(&self.path, "salt", &s.salt)?;
        let nonce: [u8; 12] = parse_hex(&self.path, "nonce", &s.nonce)?;
        let sealed = hex::decode(&s.sealed).map_err(|_| Error::KeyFile {
            path: self.path.clone(),
            why: "sealed is not hex".into(),
        })?;
        // Parameters an attacker could set to exhaust memory are bounded.
        if s.m_cost > 1 << 18 || s.t_cost > 10 || s.p_cost > 4 {
            return Err(Error::KeyFile {
                path: self.path.clone(),
                why: "its key-derivation parameters are out of range".into(),
            });
        }
        let kek = derive(&self.passphrase, &salt, s.m_cost, s.t_cost, s.p_cost)?;
        let seed = ChaCha20Poly1305::new(&Key::from(kek))
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed,
                    aad: &aad(&public, &self.binding),
                },
            )
            .map_err(|_| Error::WrongPassphrase)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| Error::WrongPassphrase)?;
        let key = DeviceKey::from_seed(&seed);
        if key.public() != public {
            return Err(Error::WrongPassphrase);
        }
        Ok(key)
    }
}

/// Encrypts `plain` (a journal backup) with `key`: a random nonce, then
/// the ciphertext and its tag.
pub fn seal_backup(key: &[u8; 32], plain: &[u8]) -> Result<Vec<u8>, Error> {
    let nonce: [u8; 12] = random()?;
    let mut out = b"raffle-rsu-backup/v1\n".to_vec();
    out.extend_from_slice(&nonce);
    let sealed = ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt(&Nonce::from(nonce), plain)
        .map_err(|_| Error::Random("encryption failed".into()))?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts a backup [`seal_backup`] wrote; `None` when it is not one or
/// was altered, or the key is another unit's.
pub fn open_backup(key: &[u8; 32], sealed: &[u8]) -> Option<Vec<u8>> {
    let rest = sealed.strip_prefix(b"raffle-rsu-backup/v1\n".as_slice())?;
    if rest.len() < 12 {
        return None;
    }
    let (nonce, body) = rest.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(&Nonce::from(nonce), body)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_opens_only_with_its_passphrase_and_is_never_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let made = PassphraseFile::new(&path, "correct horse battery")
            .create()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&hex::encode(made.seed())));
        assert_eq!(PassphraseFile::public(&path).unwrap(), made.public());
        let loaded = PassphraseFile::new(&path, "correct horse battery")
            .load()
            .unwrap();
        assert_eq!(loaded.public(), made.public());
        assert!(matches!(
            PassphraseFile::new(&path, "wrong horse battery").load(),
            Err(Error::WrongPassphrase)
        ));
        // A second create never overwrites the unit's identity.
        assert!(matches!(
            PassphraseFile::new(&path, "correct horse battery").create(),
            Err(Error::KeyFile { .. })
        ));
        // A swapped public key does not open.
        let other = hex::encode(DeviceKey::from_seed(&[9; 32]).public());
        let swapped = text.replace(&hex::encode(made.public()), &other);
        std::fs::write(&path, swapped).unwrap();
        assert!(matches!(
            PassphraseFile::new(&path, "correct horse battery").load(),
            Err(Error::WrongPassphrase)
        ));
        assert!(matches!(
            PassphraseFile::new(&dir.path().join("short"), "short").create(),
            Err(Error::WeakPassphrase)
        ));
    }

    #[test]
    fn a_backup_opens_only_with_its_units_key_and_unaltered() {
        let key = [7u8; 32];
        let sealed = seal_backup(&key, b"journal bytes").unwrap();
        assert_eq!(open_backup(&key, &sealed).unwrap(), b"journal bytes");
        assert!(open_backup(&[8u8; 32], &sealed).is_none());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(open_backup(&key, &altered).is_none());
        assert!(open_backup(&key, b"garbage").is_none());
    }
}
