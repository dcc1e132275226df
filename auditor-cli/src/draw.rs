//! The draw, recomputed by the auditor's own code from the architecture
//! page ("The draw"), not the server's, so one bug cannot hide itself.
//! Checked against `../shared/vectors/draw/` by the tests.
//!
//! - r_i = first 8 bytes, big-endian, of HMAC-SHA256(key = seed,
//!   message = contribution || u64_be(i));
//! - r is accepted for a range n when r < 2^64 − (2^64 mod n) (GLI-31
//!   4.3.1: no modulo bias), and the index is r mod n;
//! - the eligible list is hashed as SHA-256 over each number as 8
//!   big-endian bytes, ascending;
//! - the seed commitment is SHA-256(seed);
//! - the witness contribution is an Ed25519 signature over
//!   `raffle-draw-contribution/v1\n<origin>\n<leaf index>\n<base64 leaf hash>\n`.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// r_i of the stream keyed by `seed` with `contribution`.
pub fn raw_value(seed: &[u8], contribution: &[u8], i: u64) -> u64 {
    let mut mac = Hmac::<Sha256>::new_from_slice(seed).expect("HMAC takes any key length");
    mac.update(contribution);
    mac.update(&i.to_be_bytes());
    let out = mac.finalize().into_bytes();
    u64::from_be_bytes(out[..8].try_into().expect("8 bytes"))
}

/// Whether `raw` is accepted for a range of `n` ≥ 1.
pub fn accepted(raw: u64, n: u64) -> bool {
    let limit = (1u128 << 64) - (1u128 << 64) % u128::from(n);
    u128::from(raw) < limit
}

/// One selection: every raw value from stream position `start` up to and
/// including the first accepted one, and the index it gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub raw: Vec<u64>,
    pub index: u64,
}

/// Selects an index in 0..n from position `start` of the stream.
pub fn select(seed: &[u8], contribution: &[u8], start: u64, n: u64) -> Selection {
    assert!(n > 0, "a selection needs a range");
    let mut raw = Vec::new();
    let mut i = start;
    loop {
        let r = raw_value(seed, contribution, i);
        raw.push(r);
        if accepted(r, n) {
            return Selection { raw, index: r % n };
        }
        i += 1;
    }
}

/// SHA-256(seed).
pub fn commitment(seed: &[u8]) -> [u8; 32] {
    Sha256::digest(seed).into()
}

/// The message a witness signs to contribute to the draw frozen at leaf `index`.
pub fn contribution_message(origin: &str, index: u64, leaf_hash: &[u8; 32]) -> Vec<u8> {
    let hash = base64::engine::general_purpose::STANDARD.encode(leaf_hash);
    format!("raffle-draw-contribution/v1\n{origin}\n{index}\n{hash}\n").into_bytes()
}

/// Hashes an eligible list as it is streamed, number by number.
pub struct EligibleHasher {
    sha: Sha256,
    buf: Vec<u8>,
    pub count: u64,
}

impl Default for EligibleHasher {
    fn default() -> Self {
        EligibleHasher {
            sha: Sha256::new(),
            buf: Vec::with_capacity(8 * 8192),
            count: 0,
        }
    }
}

impl EligibleHasher {
    pub fn push(&mut self, number: u64) {
        self.buf.extend_from_slice(&number.to_be_bytes());
        self.count += 1;
        if self.buf.len() == self.buf.capacity() {
            self.sha.update(&self.buf);
            self.buf.clear();
        }
    }

    /// Pushes the run first..first+count, skipping `holes` (ascending).
    pub fn push_run(&mut self, first: u64, count: u64, holes: &[u64]) {
        for n in first..first + count {
            if holes.binary_search(&n).is_err() {
                self.push(n);
            }
        }
    }

    pub fn finish(mut self) -> (u64, [u8; 32]) {
        self.sha.update(&self.buf);
        (self.count, self.sha.finalize().into())
    }
}
