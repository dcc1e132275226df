//! The raffle log as a library: an append-only Merkle log published as static
//! files, following the C2SP specifications bit for bit.
//!
//! | module | specification |
//! | --- | --- |
//! | [`hash`] | RFC 6962 §2.1 leaf and node hashing |
//! | [`tree`] | an in-memory append-only tree that yields the root of any size it has held |
//! | [`proof`] | RFC 6962 inclusion and consistency proofs (c2sp.org/merkle-tree), produced and verified |
//! | [`tile`] | c2sp.org/tlog-tiles paths, hash tiles and entry bundles |
//! | [`store`] | writing tiles and bundles after an append, and reading them back to compute any root or proof |
//! | [`note`] | c2sp.org/signed-note: parse, sign, verify |
//! | [`key`] | Ed25519 note keys: vkeys, key ids, Go's `PRIVATE+KEY+...` format |
//! | [`checkpoint`] | c2sp.org/tlog-checkpoint |
//! | [`cosignature`] | c2sp.org/tlog-cosignature (`cosignature/v1`, Ed25519) |
//! | [`witness`] | c2sp.org/tlog-witness `add-checkpoint`, both sides, as library code |
//! | [`proof_file`] | c2sp.org/tlog-proof (`.tlog-proof` files) |
//! | [`fsck`] | verifying a whole published log from its files |
//!
//! ```
//! use transparency::key::{ALG_ED25519, NoteSigner};
//! use transparency::proof::{inclusion_proof, verify_inclusion};
//! use transparency::tree::MemoryTree;
//! use transparency::{Checkpoint, Note, leaf_hash};
//!
//! let key = NoteSigner::generate("example.org/log", ALG_ED25519)?;
//! let mut tree = MemoryTree::new();
//! for entry in ["a", "b", "c"] {
//!     tree.append(entry.as_bytes());
//! }
//! // The log signs a checkpoint; anyone holding its vkey verifies it...
//! let note = Checkpoint::new("example.org/log", tree.size(), tree.root()).sign(&key)?;
//! let received = Note::parse(&note.to_bytes())?;
//! received.verify(&[key.verifier()])?;
//! let checkpoint = Checkpoint::parse_text(received.text())?;
//! // ...and checks that entry 1 is in the tree it commits to.
//! let proof = inclusion_proof(&tree, 1, checkpoint.size)?;
//! verify_inclusion(1, checkpoint.size, leaf_hash(b"b"), &proof, checkpoint.root)?;
//! # Ok::<(), transparency::Error>(())
//! ```
//!
//! Guarantees: every parser rejects malformed input with an [`Error`] that says
//! what is wrong and never panics (fuzzed); every verifier fails closed.
//! Assumptions: the library knows nothing of raffles, databases or networks;
//! the caller owns the single-writer discipline of [`store::Appender`].

pub mod checkpoint;
pub mod cosignature;
mod error;
mod framing;
pub mod fsck;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod key;
pub mod note;
pub mod proof;
pub mod proof_file;
pub mod store;
pub mod tile;
pub mod tree;
pub mod witness;

pub use checkpoint::Checkpoint;
pub use error::{Error, Result};
pub use hash::{Hash, leaf_hash, node_hash};
pub use key::{NoteSigner, NoteVerifier};
pub use note::Note;
