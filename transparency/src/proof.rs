//! RFC 6962 §2.1.1–2.1.2 inclusion and consistency proofs (c2sp.org/merkle-tree).
//!
//! Proofs are produced from any [`HashSource`] (memory or stored tiles) with
//! the PATH and SUBPROOF recursions of the RFC, and verified with the
//! algorithms of transparency-dev/merkle's `proof` package, so that every
//! conformance vector of that project gives the same answer here.
//!
//! The verifiers take untrusted byte strings (`AsRef<[u8]>`), as the reference
//! does: a proof line or root of the wrong length simply fails to match.

use crate::hash::{HASH_SIZE, Hash, node_hash_bytes};
use crate::tree::{HashSource, range_hash};
use crate::{Error, Result};

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// PATH(index, D[size]): the inclusion proof of leaf `index` in the tree of
/// `size` leaves, from the leaf's sibling up to the root's child.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::InvalidArgument(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: HashSource + ?Sized>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<()> {
    let n = hi - lo;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, lo, lo + k, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        path(src, m - k, lo + k, hi, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// PROOF(size1, D[size2]): the consistency proof from the tree of `size1`
/// leaves to the tree of `size2` leaves. Empty when size1 is 0 or equals size2.
pub fn consistency_proof<S: HashSource + ?Sized>(
    src: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>> {
    if size1 > size2 {
        return Err(Error::InvalidArgument(format!(
            "old size {size1} is larger than new size {size2}"
        )));
    }
    let mut proof = Vec::new();
    if size1 == 0 || size1 == size2 {
        return Ok(proof);
    }
    subproof(src, size1, 0, size2, true, &mut proof)?;
    Ok(proof)
}

fn subproof<S: HashSource + ?Sized>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<()> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(range_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, lo, lo + k, whole, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: impl AsRef<[u8]>,
    proof: &[P],
    root: impl AsRef<[u8]>,
) -> Result<()> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    verify_match(&computed, root.as_ref())
}

/// The root implied by an inclusion proof (transparency-dev `RootFromInclusionProof`).
pub fn root_from_inclusion_proof<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: impl AsRef<[u8]>,
    proof: &[P],
) -> Result<Vec<u8>> {
    if index >= size {
        return Err(Error::Verification(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    let leaf = leaf.as_ref();
    if leaf.len() != HASH_SIZE {
        return Err(Error::Verification(format!(
            "leaf hash has {} bytes, want {HASH_SIZE}",
            leaf.len()
        )));
    }
    let (inner, border) = decomp_incl_proof(index, size);
    if proof.len() != inner + border {
        return Err(Error::Verification(format!(
            "inclusion proof has {} hashes, want {}",
            proof.len(),
            inner + border
        )));
    }
    let res = chain_inner(leaf.to_vec(), &proof[..inner], index);
    Ok(chain_border_right(res, &proof[inner..]))
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree
/// of `size1` leaves with root `root1`.
///
/// A proof from the empty tree (size1 = 0) is refused, as transparency-dev
/// does: it proves nothing, and a caller that needs "anything extends the
/// empty tree" (a witness's first checkpoint) says so itself.
pub fn verify_consistency<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: impl AsRef<[u8]>,
    root2: impl AsRef<[u8]>,
) -> Result<()> {
    let (root1, root2) = (root1.as_ref(), root2.as_ref());
    if size2 < size1 {
        return Err(Error::Verification(format!(
            "new size {size2} is smaller than old size {size1}"
        )));
    }
    if size1 == 0 {
        return Err(Error::Verification(
            "a consistency proof from the empty tree proves nothing".into(),
        ));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::Verification(
                "sizes are equal but the consistency proof is not empty".into(),
            ));
        }
        return verify_match(root1, root2);
    }
    if proof.is_empty() {
        return Err(Error::Verification("empty consistency proof".into()));
    }

    let (mut inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    inner -= shift; // shift < inner because size1 < size2.

    // The proof starts with the root of the subtree of size 2^shift, unless
    // size1 is exactly that size, in which case that root is root1.
    let (seed, rest): (&[u8], &[P]) = if size1 == 1 << shift {
        (root1, proof)
    } else {
        (proof[0].as_ref(), &proof[1..])
    };
    if rest.len() != inner + border {
        return Err(Error::Verification(format!(
            "consistency proof has {} hashes, want {}",
            proof.len(),
            proof.len() - rest.len() + inner + border
        )));
    }
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_inner_right(seed.to_vec(), &rest[..inner], mask);
    let hash1 = chain_border_right(hash1, &rest[inner..]);
    verify_match(&hash1, root1).map_err(|_| {
        Error::Verification(format!(
            "consistency proof does not match the old root at size {size1}"
        ))
    })?;
    let hash2 = chain_inner(seed.to_vec(), &rest[..inner], mask);
    let hash2 = chain_border_right(hash2, &rest[inner..]);
    verify_match(&hash2, root2).map_err(|_| {
        Error::Verification(format!(
            "consistency proof does not match the new root at size {size2}"
        ))
    })
}

fn verify_match(computed: &[u8], expected: &[u8]) -> Result<()> {
    if computed != expected {
        return Err(Error::Verification(format!(
            "computed root {} does not match the expected root",
            Hash::from_slice(computed).map_or_else(|_| "?".into(), |h| h.to_base64())
        )));
    }
    Ok(())
}

/// Splits an inclusion proof into the part below the point where the paths
/// to `index` and to `size - 1` meet (inner) and the part above it (border).
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

fn chain_inner<P: AsRef<[u8]>>(mut seed: Vec<u8>, proof: &[P], index: u64) -> Vec<u8> {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            node_hash_bytes(&seed, h.as_ref())
        } else {
            node_hash_bytes(h.as_ref(), &seed)
        };
    }
    seed
}

fn chain_inner_right<P: AsRef<[u8]>>(mut seed: Vec<u8>, proof: &[P], index: u64) -> Vec<u8> {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash_bytes(h.as_ref(), &seed);
        }
    }
    seed
}

fn chain_border_right<P: AsRef<[u8]>>(mut seed: Vec<u8>, proof: &[P]) -> Vec<u8> {
    for h in proof {
        seed = node_hash_bytes(h.as_ref(), &seed);
    }
    seed
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    fn tree_of(n: u32) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.append(format!("entry {i}").as_bytes());
        }
        t
    }

    #[test]
    fn c2sp_example_proofs_have_the_documented_shape() {
        // c2sp.org/merkle-tree "Example": 7 entries; d[6] is proved by [j, k].
        let t = tree_of(7);
        let j = t.subtree(1, 2).unwrap();
        let k = t.subtree(2, 0).unwrap();
        assert_eq!(inclusion_proof(&t, 6, 7).unwrap(), vec![j, k]);
        // From size 4 to size 7: [l].
        let l = range_hash(&t, 4, 7).unwrap();
        assert_eq!(consistency_proof(&t, 4, 7).unwrap(), vec![l]);
        // From size 6 to size 7: [j, g, k].
        let g = t.subtree(0, 6).unwrap();
        assert_eq!(consistency_proof(&t, 6, 7).unwrap(), vec![j, g, k]);
    }

    #[test]
    fn every_proof_of_a_small_tree_verifies() {
        let t = tree_of(40);
        for size in 1..=40 {
            let root = t.root_at(size).unwrap();
            for index in 0..size {
                let p = inclusion_proof(&t, index, size).unwrap();
                let leaf = t.subtree(0, index).unwrap();
                verify_inclusion(index, size, leaf, &p, root).unwrap();
            }
            for size1 in 1..=size {
                let p = consistency_proof(&t, size1, size).unwrap();
                verify_consistency(size1, size, &p, t.root_at(size1).unwrap(), root).unwrap();
            }
        }
    }
}
