//! Property tests: for random trees of up to a few thousand entries, every
//! proof produced verifies, and every single-bit change to a proof hash, the
//! leaf hash or a root is rejected. A changed index or size is asserted
//! rejected only where the correct proof for the changed values differs in
//! shape: RFC 6962 gives some different (index, size) pairs the same proof
//! shape (e.g. index 0 at sizes 5 and 7), and a verifier cannot tell those
//! apart. Shapes are computed here from the RFC's PATH and SUBPROOF
//! recursions, independently of the verifier's bit tricks.

use proptest::prelude::*;
use transparency::hash::Hash;
use transparency::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use transparency::store::{Appender, DirStorage, TileHashSource};
use transparency::tree::{MemoryTree, root};

fn tree(size: u64, seed: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..size {
        t.append(format!("{seed}/{i}").as_bytes());
    }
    t
}

fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// For each hash of PATH(m, D[n]), leaf first: is the sibling on the Left or the Right?
fn path_shape(m: u64, n: u64, out: &mut Vec<char>) {
    if n == 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_shape(m, k, out);
        out.push('R');
    } else {
        path_shape(m - k, n - k, out);
        out.push('L');
    }
}

/// The role of each hash of SUBPROOF(m, D[n], b): a Seed (subtree of the old
/// tree), a Right sibling (new leaves only) or a Left sibling (old leaves).
fn subproof_shape(m: u64, n: u64, whole: bool, out: &mut Vec<char>) {
    if m == n {
        if !whole {
            out.push('S');
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_shape(m, k, whole, out);
        out.push('R');
    } else {
        subproof_shape(m - k, n - k, false, out);
        out.push('L');
    }
}

fn incl_shape(m: u64, n: u64) -> Vec<char> {
    let mut v = Vec::new();
    path_shape(m, n, &mut v);
    v
}

fn cons_shape(m: u64, n: u64) -> Vec<char> {
    let mut v = Vec::new();
    subproof_shape(m, n, true, &mut v);
    v
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn inclusion_proofs_verify_and_every_bit_flip_is_rejected(size in 1u64..3000, index_frac in 0.0f64..1.0, seed in any::<u64>()) {
        let t = tree(size, seed);
        let index = ((size as f64 * index_frac) as u64).min(size - 1);
        let root = t.root();
        let leaf = transparency::leaf_hash(format!("{seed}/{index}").as_bytes());
        let proof = inclusion_proof(&t, index, size).unwrap();
        prop_assert!(verify_inclusion(index, size, leaf, &proof, root).is_ok());

        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                p[i] = flip(&p[i], bit);
                prop_assert!(verify_inclusion(index, size, leaf, &p, root).is_err(), "proof[{}] bit {}", i, bit);
            }
        }
        for bit in 0..256 {
            prop_assert!(verify_inclusion(index, size, flip(&leaf, bit), &proof, root).is_err());
            prop_assert!(verify_inclusion(index, size, leaf, &proof, flip(&root, bit)).is_err());
        }
        // A dropped or an added hash is rejected.
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(index, size, leaf, &proof[1..], root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(index, size, leaf, &longer, root).is_err());
        // Another index or size: rejected unless its correct proof has the same shape.
        for (i2, s2) in [(index ^ 1, size), (index + 1, size), (index.wrapping_sub(1), size), (index, size + 1), (index, size - 1), (index, size * 2), (index, size + 2)] {
            if (i2, s2) == (index, size) {
                continue;
            }
            let accepted = verify_inclusion(i2, s2, leaf, &proof, root).is_ok();
            if i2 >= s2 {
                prop_assert!(!accepted, "index {} size {}", i2, s2);
            } else {
                let same_shape = incl_shape(i2, s2) == incl_shape(index, size);
                prop_assert_eq!(accepted, same_shape, "index {} size {}", i2, s2);
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_bit_flip_is_rejected(size2 in 2u64..3000, frac in 0.0f64..1.0, seed in any::<u64>()) {
        let t = tree(size2, seed);
        let size1 = ((size2 as f64 * frac) as u64).clamp(1, size2 - 1);
        let (root1, root2) = (t.root_at(size1).unwrap(), t.root());
        let proof = consistency_proof(&t, size1, size2).unwrap();
        prop_assert!(verify_consistency(size1, size2, &proof, root1, root2).is_ok());
        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                p[i] = flip(&p[i], bit);
                prop_assert!(verify_consistency(size1, size2, &p, root1, root2).is_err(), "proof[{}] bit {}", i, bit);
            }
        }
        for bit in 0..256 {
            prop_assert!(verify_consistency(size1, size2, &proof, flip(&root1, bit), root2).is_err());
            prop_assert!(verify_consistency(size1, size2, &proof, root1, flip(&root2, bit)).is_err());
        }
        // Other sizes: rejected unless their correct proof has the same shape
        // (and, where size1 is a power of two, the seed is root1 in both).
        for (a, b) in [(size1 + 1, size2), (size1 - 1, size2), (size1, size2 - 1), (size1, size2 + 1), (size1 * 2, size2 * 2)] {
            if a >= 1 && a < b {
                let same_shape = cons_shape(a, b) == cons_shape(size1, size2);
                prop_assert_eq!(verify_consistency(a, b, &proof, root1, root2).is_ok(), same_shape, "sizes {} {}", a, b);
            }
        }
    }

    #[test]
    fn tiles_written_in_random_batches_give_the_same_roots_and_proofs(batches in proptest::collection::vec(1usize..700, 1..8), seed in any::<u64>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut appender = Appender::create(DirStorage::new(dir.path(), false).unwrap());
        let mut mem = MemoryTree::new();
        let mut n = 0u64;
        for batch in batches {
            let entries: Vec<Vec<u8>> = (0..batch).map(|_| { n += 1; format!("{seed}/{n}").into_bytes() }).collect();
            appender.append(&entries).unwrap();
            for e in &entries { mem.append(e); }
            let src = TileHashSource::new(appender.storage(), mem.size());
            prop_assert_eq!(root(&src, mem.size()).unwrap(), mem.root());
            prop_assert_eq!(appender.root(), mem.root());
            let index = seed % mem.size();
            prop_assert_eq!(inclusion_proof(&src, index, mem.size()).unwrap(), inclusion_proof(&mem, index, mem.size()).unwrap());
        }
    }
}
