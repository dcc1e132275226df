//! An in-memory append-only Merkle tree (RFC 6962) that yields the root of any
//! size it has held, and the [`HashSource`] abstraction that proofs are built from.
//!
//! The tree stores every perfect subtree hash (about two hashes per entry), so
//! any root or proof for any past size is available. It is meant for tests,
//! witnesses and small logs; large logs keep their hashes in tiles
//! ([`crate::store::TileHashSource`]).

use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use crate::{Error, Result};

/// Anything that can answer: what is the hash of the perfect subtree of
/// height `height` (2^height leaves) at position `index` of its level, i.e.
/// MTH(D[index·2^height .. (index+1)·2^height])?
pub trait HashSource {
    fn subtree(&self, height: u8, index: u64) -> Result<Hash>;
}

/// MTH(D[lo..hi]) for a range that starts on a multiple of the largest power
/// of two not exceeding its length — every range RFC 6962's recursions visit.
/// The range is split into maximal aligned perfect subtrees, left to right,
/// which are folded right to left, exactly as MTH's left-balanced split does.
pub fn range_hash<S: HashSource + ?Sized>(src: &S, lo: u64, hi: u64) -> Result<Hash> {
    if hi < lo {
        return Err(Error::InvalidArgument(format!(
            "range {lo}..{hi} is reversed"
        )));
    }
    if lo == hi {
        return Ok(EMPTY_ROOT);
    }
    let mut parts: Vec<Hash> = Vec::with_capacity(64);
    let mut pos = lo;
    while pos < hi {
        let mut height = 63 - (hi - pos).leading_zeros();
        if pos != 0 {
            height = height.min(pos.trailing_zeros());
        }
        parts.push(src.subtree(height as u8, pos >> height)?);
        pos += 1u64 << height;
    }
    let mut acc = parts.pop().expect("non-empty range has a part");
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The Merkle tree hash of the first `size` leaves.
pub fn root<S: HashSource + ?Sized>(src: &S, size: u64) -> Result<Hash> {
    range_hash(src, 0, size)
}

/// An append-only tree holding every perfect subtree hash in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[h][i]` is the hash of the perfect subtree of height h at index i.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends an entry (hashing it as a leaf) and returns its index.
    pub fn append(&mut self, entry: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends an already computed leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let index = self.levels[0].len() as u64;
        self.levels[0].push(leaf);
        let mut height = 0;
        while self.levels[height].len().is_multiple_of(2) {
            let level = &self.levels[height];
            let parent = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            if self.levels.len() == height + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[height + 1].push(parent);
            height += 1;
        }
        index
    }

    /// The root of the tree as it was at `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        if size > self.size() {
            return Err(Error::InvalidArgument(format!(
                "size {size} is beyond the tree's {} leaves",
                self.size()
            )));
        }
        root(self, size)
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        root(self, self.size()).expect("the current size is always held")
    }
}

impl HashSource for MemoryTree {
    fn subtree(&self, height: u8, index: u64) -> Result<Hash> {
        self.levels
            .get(height as usize)
            .and_then(|level| level.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| Error::Missing(format!("subtree of height {height} at index {index}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from RFC 6962 §2.1, recursively, as an independent reference.
    pub(crate) fn reference_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                // The largest power of two smaller than n.
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&reference_mth(&leaves[..k]), &reference_mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_of_every_size_match_the_rfc_definition() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(tree.root(), EMPTY_ROOT);
        for i in 0..300u32 {
            tree.append(&i.to_be_bytes());
            leaves.push(leaf_hash(&i.to_be_bytes()));
        }
        for size in 0..=300usize {
            assert_eq!(
                tree.root_at(size as u64).unwrap(),
                reference_mth(&leaves[..size]),
                "size {size}"
            );
        }
        assert!(tree.root_at(301).is_err());
    }
}
