//! The fuzz targets' bodies on the stable toolchain: random and mutated
//! inputs never make a parser panic, and accepted inputs round-trip.
//! (`cargo +nightly fuzz run <target>` explores far more; see the README.)

use proptest::prelude::*;
use transparency::fuzzing;
use transparency::key::{ALG_ED25519, NoteSigner};
use transparency::proof_file::ProofFile;
use transparency::tree::MemoryTree;
use transparency::witness::AddCheckpointRequest;

fn seeds() -> Vec<Vec<u8>> {
    let key = NoteSigner::from_seed("example.org/log", ALG_ED25519, &[7; 32]).unwrap();
    let mut t = MemoryTree::new();
    for i in 0..5u8 {
        t.append(&[i]);
    }
    let note = transparency::Checkpoint::new("example.org/log", 5, t.root())
        .sign(&key)
        .unwrap();
    let pf = ProofFile {
        extra: Some(vec![2]),
        index: 2,
        proof: transparency::proof::inclusion_proof(&t, 2, 5).unwrap(),
        checkpoint: note.clone(),
    };
    let req = AddCheckpointRequest {
        old_size: 3,
        proof: transparency::proof::consistency_proof(&t, 3, 5).unwrap(),
        checkpoint: note.clone(),
    };
    vec![
        note.to_bytes(),
        pf.to_bytes(),
        req.to_bytes(),
        key.verifier().vkey().into_bytes(),
        key.private_key_text().into_bytes(),
        b"tile/0/x001/x234/067.p/7".to_vec(),
        b"tile/entries/000".to_vec(),
    ]
}

fn all_targets(data: &[u8]) {
    fuzzing::note(data);
    fuzzing::checkpoint(data);
    fuzzing::proof_file(data);
    fuzzing::tile(data);
    fuzzing::witness_request(data);
}

#[test]
fn valid_seeds_are_accepted_by_their_parsers() {
    for seed in seeds() {
        all_targets(&seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_targets(&data);
    }

    #[test]
    fn mutated_valid_inputs_never_panic(which in 0usize..7, pos in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut data = seeds().swap_remove(which);
        let pos = pos % data.len();
        if cut { data.truncate(pos) } else { data[pos] = byte }
        all_targets(&data);
    }
}
