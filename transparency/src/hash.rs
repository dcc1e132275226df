//! RFC 6962 §2.1 hashing: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right),
//! and the empty tree's hash SHA-256("").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 Merkle tree hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// Size of a [`Hash`] in bytes.
pub const HASH_SIZE: usize = 32;

/// MTH({}) = SHA-256(""), the root of the empty tree.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// Parses a standard base64 hash, which must decode to exactly 32 bytes.
    pub fn from_base64(s: &str) -> crate::Result<Hash> {
        let bytes = BASE64
            .decode(s)
            .map_err(|e| crate::Error::malformed("hash", format!("{s:?} is not base64: {e}")))?;
        Hash::from_slice(&bytes)
    }

    /// Takes exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> crate::Result<Hash> {
        let array: [u8; HASH_SIZE] = bytes.try_into().map_err(|_| {
            crate::Error::malformed("hash", format!("{} bytes, want {HASH_SIZE}", bytes.len()))
        })?;
        Ok(Hash(array))
    }

    /// Standard base64 with padding, as in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 1;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// Node hash over byte slices of any length, exactly as Go's `HashChildren`:
/// the proof verifiers of [`crate::proof`] take untrusted byte strings and
/// must give the same answers as the reference implementation.
pub(crate) fn node_hash_bytes(left: &[u8], right: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().to_vec()
}

/// The Merkle tree hash of a run of sibling hashes whose count is a power of
/// two, as when reducing a full tile (256 hashes) to the hash one level up.
pub fn perfect_subtree_hash(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        let next: Vec<Hash> = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
        level = next;
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(Hash(Sha256::digest(b"").into()), EMPTY_ROOT);
    }

    #[test]
    fn leaf_and_node_hashes_match_rfc6962_prefixes() {
        let leaf = leaf_hash(b"");
        // Known value from the transparency-dev vectors: the leaf hash of the empty entry.
        assert_eq!(
            leaf.to_base64(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
        let node = node_hash(&leaf, &leaf);
        assert_eq!(node_hash_bytes(&leaf.0, &leaf.0), node.0.to_vec());
        assert_ne!(node, leaf);
    }

    #[test]
    fn hash_parsing_rejects_wrong_lengths() {
        assert!(Hash::from_base64("ZG9uJ3QgY2FyZSAy").is_err());
        assert!(Hash::from_base64("not base64!").is_err());
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
    }
}
