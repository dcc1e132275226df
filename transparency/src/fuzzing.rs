//! The bodies of the fuzz targets (`transparency/fuzz/`), kept in the library
//! so that the stable test suite runs them too (`tests/parsers_never_panic.rs`).
//! Each one feeds arbitrary bytes to a parser and checks the round-trip
//! properties that must hold for whatever it accepts.

use crate::checkpoint::Checkpoint;
use crate::key::{ALG_ED25519, NoteSigner, NoteVerifier};
use crate::note::Note;
use crate::proof_file::ProofFile;
use crate::tile::{TileId, parse_entry_bundle, parse_hash_tile};
use crate::witness::{AddCheckpointRequest, parse_conflict_size};

fn fixed_verifier() -> NoteVerifier {
    NoteSigner::from_seed("example.org/log", ALG_ED25519, &[7; 32])
        .expect("valid name")
        .verifier()
}

/// Signed notes, vkeys and private keys.
pub fn note(data: &[u8]) {
    if let Ok(n) = Note::parse(data) {
        assert_eq!(Note::parse(&n.to_bytes()).ok(), Some(n.clone()));
        let _ = n.verify(&[fixed_verifier()]);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = NoteVerifier::from_vkey(s) {
            assert_eq!(NoteVerifier::from_vkey(&v.vkey()).ok(), Some(v));
        }
        if let Ok(k) = NoteSigner::from_private_key(s) {
            assert_eq!(
                NoteSigner::from_private_key(&k.private_key_text())
                    .map(|k| k.verifier())
                    .ok(),
                Some(k.verifier())
            );
        }
    }
}

/// Checkpoint texts.
pub fn checkpoint(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(c) = Checkpoint::parse_text(s)
    {
        assert_eq!(c.to_text(), s);
    }
    let _ = crate::checkpoint::SignedCheckpoint::open(data, &fixed_verifier(), &[]);
}

/// `.tlog-proof` files.
pub fn proof_file(data: &[u8]) {
    if let Ok(p) = ProofFile::parse(data) {
        assert_eq!(ProofFile::parse(&p.to_bytes()).ok(), Some(p.clone()));
        let _ = p.verify_extra_entry(&fixed_verifier(), &[]);
    }
}

/// Tile paths, hash tiles and entry bundles.
pub fn tile(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(id) = TileId::parse_path(s)
    {
        assert_eq!(id.path(), s);
    }
    let width = data.first().map_or(1, |&w| u16::from(w).max(1));
    let rest = data.get(1..).unwrap_or_default();
    for id in [TileId::hashes(0, 0, width), TileId::entries(0, width)] {
        let _ = parse_hash_tile(&id, rest);
        if let Ok(entries) = parse_entry_bundle(&id, rest) {
            assert_eq!(entries.len(), usize::from(width));
        }
    }
}

/// tlog-witness request and answer bodies.
pub fn witness_request(data: &[u8]) {
    if let Ok(r) = AddCheckpointRequest::parse(data) {
        assert_eq!(AddCheckpointRequest::parse(&r.to_bytes()).ok(), Some(r));
    }
    let _ = parse_conflict_size(data);
    if let Ok(mut n) =
        Note::new("example.org/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n")
    {
        let _ = crate::witness::apply_cosignatures(&mut n, data, &[fixed_verifier()]);
    }
}
