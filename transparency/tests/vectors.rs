//! Conformance vectors from `../shared/vectors/`, read in place.
//!
//! Every file under transparency-dev-merkle/testdata/{inclusion,consistency}
//! is walked, so a vector added there is tested too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use transparency::key::NoteSigner;
use transparency::proof::{verify_consistency, verify_inclusion};
use transparency::tree::MemoryTree;
use transparency::{Checkpoint, Note, NoteVerifier};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn b64(s: &Option<String>) -> Vec<u8> {
    BASE64
        .decode(s.as_deref().unwrap_or(""))
        .expect("vector base64")
}

fn b64_list(v: &Option<Vec<String>>) -> Vec<Vec<u8>> {
    v.iter()
        .flatten()
        .map(|s| BASE64.decode(s).expect("vector base64"))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: Option<String>,
    leaf_hash: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: Option<String>,
    root2: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[test]
fn every_inclusion_vector_gives_its_expected_answer() {
    let files = json_files(&vectors_dir().join("transparency-dev-merkle/testdata/inclusion"));
    assert!(
        files.len() > 50,
        "only {} inclusion vectors found",
        files.len()
    );
    for path in files {
        let v: InclusionVector = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let got = verify_inclusion(
            v.leaf_idx,
            v.tree_size,
            b64(&v.leaf_hash),
            &b64_list(&v.proof),
            b64(&v.root),
        );
        assert_eq!(
            got.is_err(),
            v.want_err,
            "{} ({}): {got:?}",
            path.display(),
            v.desc
        );
    }
}

#[test]
fn every_consistency_vector_gives_its_expected_answer() {
    let files = json_files(&vectors_dir().join("transparency-dev-merkle/testdata/consistency"));
    assert!(
        files.len() > 50,
        "only {} consistency vectors found",
        files.len()
    );
    for path in files {
        let v: ConsistencyVector = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let got = verify_consistency(
            v.size1,
            v.size2,
            &b64_list(&v.proof),
            b64(&v.root1),
            b64(&v.root2),
        );
        assert_eq!(
            got.is_err(),
            v.want_err,
            "{} ({}): {got:?}",
            path.display(),
            v.desc
        );
    }
}

#[derive(Deserialize)]
struct SignedNoteVector {
    desc: String,
    signer_skey: String,
    verifier_vkey: String,
    text: String,
    signed_note: String,
}

#[test]
fn c2sp_signed_note_vectors_reproduce_bit_for_bit() {
    let dir = vectors_dir().join("c2sp-signed-note");
    let records = std::fs::read(dir.join("records.txt")).unwrap();
    let mut tree = MemoryTree::new();
    // Each record is one line including its trailing newline.
    for record in records.split_inclusive(|&b| b == b'\n') {
        tree.append(record);
    }
    assert_eq!(tree.size(), 7);
    let vectors: Vec<SignedNoteVector> =
        serde_json::from_slice(&std::fs::read(dir.join("signed-notes.json")).unwrap()).unwrap();
    assert_eq!(vectors.len(), 2);
    let log_vkey = NoteVerifier::from_vkey(&vectors[0].verifier_vkey).unwrap();
    for v in &vectors {
        // The same root.
        let cp = Checkpoint::parse_text(&v.text).unwrap();
        assert_eq!((cp.size, cp.root), (7, tree.root()), "{}", v.desc);
        assert_eq!(
            Checkpoint::new(cp.origin.clone(), 7, tree.root()).to_text(),
            v.text
        );
        // The byte-identical signature line from the same private key.
        let signer = NoteSigner::from_private_key(&v.signer_skey).unwrap();
        assert_eq!(signer.verifier().vkey(), v.verifier_vkey, "{}", v.desc);
        let mut note = Note::new(v.text.clone()).unwrap();
        note.sign(&signer).unwrap();
        let line = note.signatures()[0].to_line();
        assert!(
            v.signed_note.contains(&line),
            "{}: {line} not in the vector",
            v.desc
        );
        // The note verifies with the log's vkey (the second note's extra
        // signature line is by a key the log's verifier does not know).
        let parsed = Note::parse(v.signed_note.as_bytes()).unwrap();
        let verified = parsed.verify(std::slice::from_ref(&log_vkey)).unwrap();
        assert_eq!(verified.signatures.len(), 1, "{}", v.desc);
        assert_eq!(parsed.to_bytes(), v.signed_note.as_bytes());
        // And with the vector's own verifier key.
        parsed
            .verify(&[NoteVerifier::from_vkey(&v.verifier_vkey).unwrap()])
            .unwrap();
    }
    // The first note, re-signed, is byte-identical.
    let signer = NoteSigner::from_private_key(&vectors[0].signer_skey).unwrap();
    let note = Checkpoint::new("example.org/raffle-log", 7, tree.root())
        .sign(&signer)
        .unwrap();
    assert_eq!(note.to_bytes(), vectors[0].signed_note.as_bytes());
}
