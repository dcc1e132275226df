//! The draw's random generator and scaling (architecture page, "The draw";
//! GLI-31 4.2, 4.3.1, 4.4.1).
//!
//! r_i = the first 8 bytes, big-endian, of HMAC-SHA256(key = seed,
//! message = contribution || u64_be(i)), i = 0, 1, 2, ... A value is
//! accepted when r < 2^64 − (2^64 mod n) (rejection sampling: no modulo
//! bias); the index is r mod n, and the winner is the index-th number of the
//! ascending eligible list. The seed is 32 bytes from the OS CSPRNG, fresh for
//! every draw, committed to by SHA-256(seed) in `draw.frozen` before the
//! witness contribution is known.

use crate::{Error, Result};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// A fresh 32-byte draw seed from the OS CSPRNG.
pub fn new_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
    Ok(seed)
}

/// SHA-256(seed): the commitment published in `draw.frozen`.
pub fn seed_commitment(seed: &[u8]) -> [u8; 32] {
    Sha256::digest(seed).into()
}

/// The message a witness signs to contribute to a draw: the fixed header,
/// the log origin, the leaf index and the base64 leaf hash of the
/// `draw.frozen` entry, one per line. Its Ed25519 signature is the
/// contribution (deterministic, so exactly one is possible).
pub fn contribution_message(
    origin: &str,
    frozen_index: u64,
    frozen_leaf_hash: &[u8; 32],
) -> Vec<u8> {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(frozen_leaf_hash);
    format!("raffle-draw-contribution/v1\n{origin}\n{frozen_index}\n{hash}\n").into_bytes()
}

/// The HMAC-based generator keyed by a draw's seed.
pub struct DrawRng {
    mac: Hmac<Sha256>,
    contribution: Vec<u8>,
    next: u64,
}

impl DrawRng {
    pub fn new(seed: &[u8], contribution: &[u8]) -> DrawRng {
        DrawRng {
            mac: Hmac::<Sha256>::new_from_slice(seed).expect("HMAC takes any key length"),
            contribution: contribution.to_vec(),
            next: 0,
        }
    }

    /// The generator positioned at `i = next`: a redraw continues the
    /// stream where the draw's earlier performances stopped.
    pub fn starting_at(seed: &[u8], contribution: &[u8], next: u64) -> DrawRng {
        let mut rng = DrawRng::new(seed, contribution);
        rng.next = next;
        rng
    }

    /// r_i for the next i.
    pub fn next_raw(&mut self) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(&self.contribution);
        mac.update(&self.next.to_be_bytes());
        self.next += 1;
        let out = mac.finalize().into_bytes();
        u64::from_be_bytes(out[..8].try_into().expect("8 bytes"))
    }
}

/// Whether a raw value is accepted for a range of `n` (n ≥ 1): r < 2^64 − (2^64 mod n).
pub fn accepts(raw: u64, n: u64) -> bool {
    let rem = ((1u128 << 64) % u128::from(n)) as u64;
    u128::from(raw) < (1u128 << 64) - u128::from(rem)
}

/// The outcome of one selection: every raw value consumed (the last one
/// accepted) and the resulting index in 0..n.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub raw: Vec<u64>,
    pub index: u64,
}

/// Selects an index in 0..n from a seeded generator.
pub fn select(rng: &mut DrawRng, n: u64) -> Result<Selection> {
    if n == 0 {
        return Err(Error::invalid("draw", "no eligible numbers"));
    }
    let mut raw = Vec::with_capacity(1);
    loop {
        let r = rng.next_raw();
        raw.push(r);
        if accepts(r, n) {
            return Ok(Selection { raw, index: r % n });
        }
    }
}

/// SHA-256 of an ascending eligible list, each number as 8 big-endian bytes.
/// Fails if the list is not strictly ascending.
pub fn eligible_hash<I: IntoIterator<Item = u64>>(numbers: I) -> Result<(u64, [u8; 32])> {
    let mut h = Sha256::new();
    let mut count = 0u64;
    let mut prev: Option<u64> = None;
    let mut buf = Vec::with_capacity(8 * 4096);
    for n in numbers {
        if prev.is_some_and(|p| p >= n) {
            return Err(Error::invalid(
                "eligible list",
                format!(
                    "{n} does not follow {} in ascending order",
                    prev.unwrap_or(0)
                ),
            ));
        }
        prev = Some(n);
        buf.extend_from_slice(&n.to_be_bytes());
        if buf.len() == buf.capacity() {
            h.update(&buf);
            buf.clear();
        }
        count += 1;
    }
    h.update(&buf);
    Ok((count, h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_boundary_is_exact() {
        // n = 3: 2^64 mod 3 = 1, so 2^64 - 2 is the last accepted value.
        assert!(accepts(u64::MAX - 1, 3));
        assert!(!accepts(u64::MAX, 3));
        // Powers of two accept everything.
        assert!(accepts(u64::MAX, 1 << 20));
        assert!(accepts(u64::MAX, 1));
    }

    #[test]
    fn the_contribution_message_names_the_frozen_entry_line_by_line() {
        let mut hash = [0u8; 32];
        hash[31] = 0xff;
        assert_eq!(
            contribution_message("example.org/log", 42, &hash),
            b"raffle-draw-contribution/v1\nexample.org/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP8=\n".to_vec()
        );
    }

    #[test]
    fn eligible_hash_needs_ascending_numbers() {
        assert_eq!(eligible_hash([1, 2, 3]).unwrap().0, 3);
        assert!(eligible_hash([1, 1]).is_err());
        assert!(eligible_hash([2, 1]).is_err());
        let (n, h) = eligible_hash(std::iter::empty()).unwrap();
        assert_eq!((n, h), (0, seed_commitment(b"")));
    }
}
