//! Interoperability with the Go reference implementation
//! (`golang.org/x/mod/sumdb/note` and `sumdb/tlog`, from Debian's
//! `golang-go` and `golang-golang-x-mod-dev`, installed by `scripts/test`).
//!
//! Go verifies our checkpoints, our records' hashes (through our tiles and
//! entry bundles), and our inclusion and consistency proofs, and computes the
//! same proofs itself; we verify Go's signed notes and sign them identically.
//! The tile path scheme is checked against Go's: C2SP paths are Go's without
//! the tile height, with `entries` for `data`.

use std::path::{Path, PathBuf};
use std::process::Command;
use transparency::key::{ALG_ED25519, NoteSigner};
use transparency::proof::{consistency_proof, inclusion_proof};
use transparency::proof_file::ProofFile;
use transparency::store::{Appender, DirStorage, TileHashSource, read_entry};
use transparency::tile::TileId;
use transparency::tree::root;
use transparency::{Checkpoint, Note, NoteVerifier};

fn go(args: &[&str], stdin: Option<&str>) -> String {
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/interop.go");
    let gocache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocache");
    let mut cmd = Command::new("go");
    cmd.arg("run")
        .arg(&program)
        .args(args)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", &gocache)
        .env("GOFLAGS", "")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run `go` ({e}): install golang-go and golang-golang-x-mod-dev (scripts/test does)")
    });
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "go {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn go_verifies_our_log_checkpoint_records_and_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let proofs = dir.path().join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let key = NoteSigner::generate("example.org/raffle-log", ALG_ED25519).unwrap();
    let origin = key.name().to_string();
    let mut appender = Appender::create(DirStorage::new(&log_dir, false).unwrap());

    // Batches chosen to leave partial tiles at levels 0, 1 and 2 (70,000
    // entries: the tlog-tiles example) and to cross tile boundaries.
    let mut checkpoints: Vec<(u64, transparency::Hash)> = Vec::new();
    let mut n = 0u64;
    for batch in [1u64, 255, 1, 65_536 - 257, 1, 4_463] {
        let entries: Vec<Vec<u8>> = (0..batch)
            .map(|_| {
                n += 1;
                format!("{{\"v\":1,\"type\":\"example\",\"n\":{n}}}\n").into_bytes()
            })
            .collect();
        appender.append(&entries).unwrap();
        let note = appender.checkpoint(&origin).sign(&key).unwrap();
        appender.publish_checkpoint(&note).unwrap();
        checkpoints.push((appender.size(), appender.root()));
    }
    let size = appender.size();
    assert_eq!(size, 70_000);
    let storage = appender.storage();
    let src = TileHashSource::new(storage, size);
    assert_eq!(root(&src, size).unwrap(), appender.root());
    let final_note = Note::parse(&std::fs::read(log_dir.join("checkpoint")).unwrap()).unwrap();

    for index in [0u64, 1, 255, 256, 65_535, 65_536, 69_999, 12_345] {
        let pf = ProofFile {
            extra: Some(read_entry(storage, index, size).unwrap()),
            index,
            proof: inclusion_proof(&src, index, size).unwrap(),
            checkpoint: final_note.clone(),
        };
        std::fs::write(proofs.join(format!("{index}.tlog-proof")), pf.to_bytes()).unwrap();
    }
    for &(old, old_root) in &checkpoints[..checkpoints.len() - 1] {
        let mut text = format!("{old}\n{old_root}\n{size}\n{}\n", appender.root());
        for h in consistency_proof(&src, old, size).unwrap() {
            text.push_str(&format!("{h}\n"));
        }
        std::fs::write(proofs.join(format!("{old}.consistency")), text).unwrap();
    }

    let out = go(
        &[
            "verify-log",
            log_dir.to_str().unwrap(),
            &key.verifier().vkey(),
            proofs.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.contains("OK checkpoint size=70000 root matches tiles"),
        "{out}"
    );
    assert!(out.contains("OK 70000 record hashes match"), "{out}");
    assert!(out.contains("OK 8 inclusion proofs"), "{out}");
    assert!(out.contains("OK 5 consistency proofs"), "{out}");
}

#[test]
fn go_detects_a_tampered_tile() {
    // The interop program must be able to fail: a changed tile byte is caught.
    let dir = tempfile::tempdir().unwrap();
    let key = NoteSigner::generate("example.org/log", ALG_ED25519).unwrap();
    let mut appender = Appender::create(DirStorage::new(dir.path(), false).unwrap());
    let entries: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
    appender.append(&entries).unwrap();
    appender
        .publish_checkpoint(&appender.checkpoint("example.org/log").sign(&key).unwrap())
        .unwrap();
    let tile = dir.path().join(TileId::hashes(0, 1, 44).path());
    let mut data = std::fs::read(&tile).unwrap();
    data[5] ^= 1;
    std::fs::write(&tile, data).unwrap();
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/interop.go");
    let out = Command::new("go")
        .args([
            "run",
            program.to_str().unwrap(),
            "verify-log",
            dir.path().to_str().unwrap(),
        ])
        .arg(key.verifier().vkey())
        .arg(dir.path())
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env(
            "GOCACHE",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
        )
        .output()
        .expect("go is installed");
    assert!(!out.status.success(), "Go accepted a tampered tile");
}

#[test]
fn we_verify_go_notes_and_sign_them_identically() {
    let dir = tempfile::tempdir().unwrap();
    let text_path = dir.path().join("text");
    let text = "example.org/go-log\n42\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n";
    std::fs::write(&text_path, text).unwrap();
    let out = go(
        &["genkey", "example.org/go-log", text_path.to_str().unwrap()],
        None,
    );
    let (skey, rest) = out.split_once('\n').unwrap();
    let (vkey, signed) = rest.split_once('\n').unwrap();
    let verifier = NoteVerifier::from_vkey(vkey).unwrap();
    let note = Note::parse(signed.as_bytes()).unwrap();
    note.verify(std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(Checkpoint::parse_text(note.text()).unwrap().size, 42);
    // Go's private key format parses, and our signature is byte-identical.
    let signer = NoteSigner::from_private_key(skey).unwrap();
    assert_eq!(signer.verifier(), verifier);
    let mut ours = Note::new(text).unwrap();
    ours.sign(&signer).unwrap();
    assert_eq!(ours.to_bytes(), signed.as_bytes());
    // And Go signs identically with a key we generated.
    let mine = NoteSigner::generate("example.org/rust-log", ALG_ED25519).unwrap();
    let go_signed = go(
        &[
            "sign",
            &mine.private_key_text(),
            text_path.to_str().unwrap(),
        ],
        None,
    );
    let mut ours = Note::new(text).unwrap();
    ours.sign(&mine).unwrap();
    assert_eq!(go_signed.as_bytes(), ours.to_bytes());
    // A note Go signed with another key is rejected with our key.
    assert!(note.verify(&[mine.verifier()]).is_err());
}

#[test]
fn tile_paths_match_go_without_the_height() {
    let ids = [
        TileId::hashes(0, 0, 256),
        TileId::hashes(0, 1234067, 256),
        TileId::hashes(3, 1234067, 1),
        TileId::hashes(1, 999, 255),
        TileId::hashes(2, 1000, 17),
        TileId::hashes(0, 5, 128),
        TileId::entries(1234067, 256),
        TileId::entries(7, 3),
    ];
    let input: String = ids
        .iter()
        .map(|id| {
            let level = match id.level {
                transparency::tile::TileLevel::Hashes(l) => i32::from(l),
                transparency::tile::TileLevel::Entries => -1,
            };
            format!("{level} {} {}\n", id.index, id.width)
        })
        .collect();
    let out = go(&["paths"], Some(&input));
    let go_paths: Vec<&str> = out.lines().collect();
    let ours: Vec<String> = ids.iter().map(TileId::path).collect();
    assert_eq!(go_paths, ours);
}
