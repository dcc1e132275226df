//! Whole-log verification from the files, and resuming after a crash.

use transparency::key::{ALG_ED25519, NoteSigner};
use transparency::store::{Appender, DirStorage, TileStorage};
use transparency::tile::TileId;
use transparency::tree::MemoryTree;

fn build(dir: &std::path::Path, key: &NoteSigner, n: u32) -> MemoryTree {
    let mut appender = Appender::create(DirStorage::new(dir, false).unwrap());
    let mut mem = MemoryTree::new();
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
    for chunk in entries.chunks(700) {
        appender.append(chunk).unwrap();
        appender
            .publish_checkpoint(&appender.checkpoint(key.name()).sign(key).unwrap())
            .unwrap();
    }
    for e in &entries {
        mem.append(e);
    }
    mem
}

#[test]
fn an_untouched_log_verifies_and_every_tampering_is_named() {
    let key = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mem = build(dir.path(), &key, 70_000);
    let storage = DirStorage::new(dir.path(), false).unwrap();
    let report = transparency::fsck::verify_log(&storage, &key.verifier(), 2).unwrap();
    assert_eq!(
        (report.entries, report.checkpoint.checkpoint.root),
        (70_000, mem.root())
    );

    let other = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
    let err = transparency::fsck::verify_log(&storage, &other.verifier(), 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no signature by a known key"), "{err}");

    let cases: Vec<(String, usize, &str)> = vec![
        (
            TileId::entries(17, 256).path(),
            40,
            "does not hash to its level-0 tile",
        ),
        (
            TileId::hashes(0, 3, 256).path(),
            1,
            "does not hash to its level-0 tile",
        ),
        (
            TileId::hashes(1, 0, 256).path(),
            64,
            "does not match the tiles below",
        ),
        (
            TileId::hashes(2, 0, 1).path(),
            3,
            "does not match the tiles below",
        ),
        (
            TileId::entries(273, 112).path(),
            9,
            "does not hash to its level-0 tile",
        ),
    ];
    for (path, offset, want) in cases {
        let original = storage.read(&path).unwrap().unwrap();
        let mut damaged = original.clone();
        damaged[offset] ^= 0x20;
        storage.write(&path, &damaged).unwrap();
        let err = transparency::fsck::verify_log(&storage, &key.verifier(), 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{path}: {err}");
        // A truncated file is named as such.
        storage
            .write(&path, &original[..original.len() - 1])
            .unwrap();
        let err = transparency::fsck::verify_log(&storage, &key.verifier(), 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("malformed") && err.contains(&path),
            "{path}: {err}"
        );
        storage.write(&path, &original).unwrap();
    }
    // A checkpoint signed with the real key over another root.
    let original = storage.read("checkpoint").unwrap().unwrap();
    let forged = transparency::Checkpoint::new(key.name(), 70_000, transparency::leaf_hash(b"x"))
        .sign(&key)
        .unwrap();
    storage.write("checkpoint", &forged.to_bytes()).unwrap();
    let err = transparency::fsck::verify_log(&storage, &key.verifier(), 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not the signed root"), "{err}");
    storage.write("checkpoint", &original).unwrap();
    std::fs::remove_file(dir.path().join(TileId::entries(5, 256).path())).unwrap();
    let err = transparency::fsck::verify_log(&storage, &key.verifier(), 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing entry bundle tile/entries/005"),
        "{err}"
    );
}

#[test]
fn a_log_resumes_from_its_checkpoint_after_tiles_were_written_beyond_it() {
    // A crash after a batch's tiles were written but before its checkpoint:
    // the log resumes at the checkpoint and the same positions are rewritten.
    let key = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut appender = Appender::create(DirStorage::new(dir.path(), false).unwrap());
    let first: Vec<Vec<u8>> = (0..300u32).map(|i| format!("a{i}").into_bytes()).collect();
    appender.append(&first).unwrap();
    appender
        .publish_checkpoint(&appender.checkpoint(key.name()).sign(&key).unwrap())
        .unwrap();
    let lost: Vec<Vec<u8>> = (0..500u32)
        .map(|i| format!("lost{i}").into_bytes())
        .collect();
    appender.append(&lost).unwrap(); // never checkpointed
    drop(appender);

    let storage = DirStorage::new(dir.path(), false).unwrap();
    let mut resumed = Appender::open(storage, 300).unwrap();
    let mut mem = MemoryTree::new();
    for e in &first {
        mem.append(e);
    }
    assert_eq!(resumed.root(), mem.root());
    let second: Vec<Vec<u8>> = (0..200u32).map(|i| format!("b{i}").into_bytes()).collect();
    resumed.append(&second).unwrap();
    resumed
        .publish_checkpoint(&resumed.checkpoint(key.name()).sign(&key).unwrap())
        .unwrap();
    for e in &second {
        mem.append(e);
    }
    let report = transparency::fsck::verify_log(resumed.storage(), &key.verifier(), 1).unwrap();
    assert_eq!(
        (report.entries, report.checkpoint.checkpoint.root),
        (500, mem.root())
    );
    // A checkpoint that is not the current tree is refused.
    let stale = transparency::Checkpoint::new(key.name(), 300, mem.root_at(300).unwrap())
        .sign(&key)
        .unwrap();
    assert!(resumed.publish_checkpoint(&stale).is_err());
}
