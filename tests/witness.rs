//! The regulator's witness (`raffle-audit witness`, a real process) with the
//! real `raffled`: checkpoints come back cosigned and are published with
//! the cosignature (the close and draw checkpoints among them); the draws
//! take the witness's contribution; the audit with the witness policy
//! passes and calls the draws witnessed. The witness refuses an
//! inconsistent checkpoint and a second contribution to the same draw, and
//! keeps its state across a restart.

mod common;

use common::web_common::{fresh_database, http};
use common::*;
use raffle_core::entry::{Body, Entry};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use transparency::checkpoint::SignedCheckpoint;
use transparency::key::ALG_COSIGNATURE_V1;
use transparency::proof::{consistency_proof, inclusion_proof};
use transparency::proof_file::ProofFile;
use transparency::store::{DirStorage, TileHashSource, TileStorage};
use transparency::witness::AddCheckpointRequest;
use transparency::{Checkpoint, Note, NoteSigner};

struct WitnessProcess {
    child: Child,
    addr: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_witness(
    key: &std::path::Path,
    state: &std::path::Path,
    log_vkey: &str,
    listen: &str,
) -> WitnessProcess {
    let mut child = Command::new(testkit::programs::program("raffle-audit"))
        .args([
            "witness",
            "--key",
            key.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ])
        .args(["--log", log_vkey, "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    assert!(line.contains("listening on"), "{line}");
    WitnessProcess { child, addr }
}

/// POSTs a text body to the witness; returns the status and the answer.
async fn post(addr: &str, path: &str, body: &[u8]) -> (u16, String) {
    http(addr, "POST", path, &[], std::str::from_utf8(body).unwrap())
        .await
        .unwrap()
}

fn cosigned_by(
    note: &[u8],
    log: &transparency::NoteVerifier,
    witness: &transparency::NoteVerifier,
) -> bool {
    SignedCheckpoint::open(note, log, std::slice::from_ref(witness))
        .unwrap()
        .verified
        .signatures
        .iter()
        .any(|s| s.name == witness.name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raffled_with_the_regulators_witness() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let origin = "127.0.0.1:8080/log";
    let log_key = web::app::keys::load_or_create(&data.join("log.key"), origin).unwrap();
    let log_vkey = log_key.verifier().vkey();
    let witness_key =
        NoteSigner::generate("regulator.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let key_file = tmp.path().join("witness.key");
    std::fs::write(&key_file, witness_key.private_key_text()).unwrap();
    let wstate = tmp.path().join("witness-state");
    let witness = start_witness(&key_file, &wstate, &log_vkey, "127.0.0.1:0");
    let wvkey = witness_key.verifier();

    let (url, db) = fresh_database();
    let config = web::config::Config {
        witness_keys: vec![wvkey.vkey()],
        witness_urls: vec![format!("{}=http://{}/", wvkey.name(), witness.addr)],
        ..web::config::Config::for_tests(url, data.clone(), &["test"])
    };
    let state = web::start(config).await.unwrap();
    let app = App::from_state(state, db.clone());
    let ran = run_raffle(&app).await;
    let published = publications(&app);

    // Checkpoints come back cosigned and are published with the cosignature.
    let note = std::fs::read(published.join("checkpoint")).unwrap();
    assert!(
        cosigned_by(&note, &log_key.verifier(), &wvkey),
        "{}",
        String::from_utf8_lossy(&note)
    );
    // The close and draw checkpoints waited for it.
    let log = entries(&published);
    for (i, bytes) in log.iter().enumerate() {
        let e = Entry::parse(bytes).unwrap();
        if matches!(
            e.body,
            Body::RaffleClosed(_) | Body::DrawFrozen(_) | Body::DrawPerformed(_)
        ) {
            let note: Vec<u8> = sqlx::query_scalar(
                "SELECT note FROM checkpoints WHERE size > $1 ORDER BY size LIMIT 1",
            )
            .bind(i as i64)
            .fetch_one(&app.state.store.pool)
            .await
            .unwrap();
            assert!(
                cosigned_by(&note, &log_key.verifier(), &wvkey),
                "{} at {i}",
                e.kind()
            );
        }
    }

    // The audit with the witness policy passes: checkpoint cosigned, both
    // draws' contributions verified as the witness's.
    let policy = tmp.path().join("policy");
    std::fs::write(
        &policy,
        format!("# the regulator\nwitness {}\nquorum 1\n", wvkey.vkey()),
    )
    .unwrap();
    let out = audit(
        &[
            "log",
            published.to_str().unwrap(),
            "--vkey",
            &log_vkey,
            "--witness-policy",
            policy.to_str().unwrap(),
        ],
        "",
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("cosigned by regulator.example/witness"), "{t}");
    assert_eq!(t.matches("witness contribution verified").count(), 2, "{t}");
    assert!(!t.contains("randomness of draw"), "{t}");
    // A policy naming another witness fails the checkpoint's quorum.
    let stranger = NoteSigner::generate("other.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let other_policy = tmp.path().join("other-policy");
    std::fs::write(
        &other_policy,
        format!("witness {}\n", stranger.verifier().vkey()),
    )
    .unwrap();
    let out = audit(
        &[
            "log",
            published.to_str().unwrap(),
            "--vkey",
            &log_vkey,
            "--witness-policy",
            other_policy.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("the quorum is 1"), "{}", text(&out));

    // The witness refuses an inconsistent checkpoint, even signed by the
    // real key: a forked history one entry longer.
    let storage = DirStorage::new(&published, false).unwrap();
    let current = Checkpoint::parse_text(
        Note::parse(&storage.read("checkpoint").unwrap().unwrap())
            .unwrap()
            .text(),
    )
    .unwrap();
    let mut forked_log = log.clone();
    let voided = forked_log
        .iter()
        .position(|b| Entry::parse(b).unwrap().kind() == "sale.voided")
        .unwrap();
    let mut e = Entry::parse(&forked_log[voided]).unwrap();
    if let Body::SaleVoided(v) = &mut e.body {
        v.refund = !v.refund;
    }
    forked_log[voided] = e.to_bytes().unwrap();
    let frozen_main = log
        .iter()
        .position(|b| matches!(Entry::parse(b).unwrap().body, Body::DrawFrozen(ref f) if f.draw == "main"))
        .unwrap();
    forked_log.push(log[frozen_main].clone());
    let forked_dir = tmp.path().join("forked");
    publish(&forked_dir, &forked_log, &log_key);
    let forked_storage = DirStorage::new(&forked_dir, false).unwrap();
    let forked_note = Note::parse(&forked_storage.read("checkpoint").unwrap().unwrap()).unwrap();
    let body = AddCheckpointRequest {
        old_size: current.size,
        proof: consistency_proof(
            &TileHashSource::new(&forked_storage, forked_log.len() as u64),
            current.size,
            forked_log.len() as u64,
        )
        .unwrap(),
        checkpoint: forked_note,
    }
    .to_bytes();
    let (status, answer) = post(&witness.addr, "/add-checkpoint", &body).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("consistency proof does not verify"),
        "{answer}"
    );

    // A consistent extension (the operator appends a second draw.frozen of
    // the main draw, signed with the real key) is cosigned: a witness checks
    // history, not rules. But it contributes once per draw: the second
    // freeze gets nothing, the first gets the same signature again.
    let mut extended = log.clone();
    let mut second = Entry::parse(&log[frozen_main]).unwrap();
    if let Body::DrawFrozen(f) = &mut second.body {
        f.seed_sha256.0[0] ^= 1;
    }
    second.time = Entry::parse(log.last().unwrap()).unwrap().time;
    extended.push(second.to_bytes().unwrap());
    let ext_dir = tmp.path().join("extended");
    publish(&ext_dir, &extended, &log_key);
    let ext = DirStorage::new(&ext_dir, false).unwrap();
    let ext_note = Note::parse(&ext.read("checkpoint").unwrap().unwrap()).unwrap();
    let size = extended.len() as u64;
    let body = AddCheckpointRequest {
        old_size: current.size,
        proof: consistency_proof(&TileHashSource::new(&ext, size), current.size, size).unwrap(),
        checkpoint: ext_note.clone(),
    }
    .to_bytes();
    let (status, answer) = post(&witness.addr, "/add-checkpoint", &body).await;
    assert_eq!(status, 200, "{answer}");
    let contribution = |index: u64| {
        ProofFile {
            extra: Some(extended[index as usize].clone()),
            index,
            proof: inclusion_proof(&TileHashSource::new(&ext, size), index, size).unwrap(),
            checkpoint: ext_note.clone(),
        }
        .to_bytes()
    };
    let body = contribution(size - 1);
    let (status, answer) = post(&witness.addr, "/raffle-draw-contribution", &body).await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer.contains("already contributed to draw \"main\""),
        "{answer}"
    );
    let contributed: Vec<u8> =
        sqlx::query_scalar("SELECT signature FROM draw_contributions WHERE draw_id = 'main'")
            .fetch_one(&app.state.store.pool)
            .await
            .unwrap();
    let body = contribution(frozen_main as u64);
    let (status, answer) = post(&witness.addr, "/raffle-draw-contribution", &body).await;
    assert_eq!(status, 200, "{answer}");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(answer.trim())
            .unwrap(),
        contributed
    );
    // Under a checkpoint it did not cosign last: 409 with the size it did.
    let stale = ProofFile {
        extra: Some(log[frozen_main].clone()),
        index: frozen_main as u64,
        proof: inclusion_proof(
            &TileHashSource::new(&storage, current.size),
            frozen_main as u64,
            current.size,
        )
        .unwrap(),
        checkpoint: Note::parse(&storage.read("checkpoint").unwrap().unwrap()).unwrap(),
    }
    .to_bytes();
    let (status, answer) = post(&witness.addr, "/raffle-draw-contribution", &stale).await;
    assert_eq!((status, answer.trim()), (409, size.to_string().as_str()));

    // Restarted, the witness remembers what it cosigned (persisted before
    // it answered): an old size of 0 is answered with its size.
    drop(witness);
    let witness = start_witness(&key_file, &wstate, &log_vkey, "127.0.0.1:0");
    let body = AddCheckpointRequest {
        old_size: 0,
        proof: Vec::new(),
        checkpoint: ext_note,
    }
    .to_bytes();
    let (status, answer) = post(&witness.addr, "/add-checkpoint", &body).await;
    assert_eq!((status, answer.trim()), (409, size.to_string().as_str()));
    assert!(!ran.receipts.is_empty());
    drop_database(&db).await;
}
