//! raffle-audit against a real log: a raffle run end to end by the real
//! `raffled` (on PostgreSQL), audited untouched (it passes), then tampered
//! with in every way the issue lists, each detected with a clear message:
//! files changed under the signature, and histories rewritten and re-signed
//! with the real key (a malicious operator holds it).

mod common;

use common::*;
use raffle_core::entry::{Body, Entry};
use std::path::Path;

fn parse(bytes: &[u8]) -> Entry {
    Entry::parse(bytes).unwrap()
}

fn find(entries: &[Vec<u8>], what: impl Fn(&Entry) -> bool) -> usize {
    entries
        .iter()
        .position(|b| what(&parse(b)))
        .expect("an entry of that kind")
}

fn find_last(entries: &[Vec<u8>], what: impl Fn(&Entry) -> bool) -> usize {
    entries
        .iter()
        .rposition(|b| what(&parse(b)))
        .expect("an entry of that kind")
}

fn is_main(e: &Entry, kind: &str) -> bool {
    e.kind() == kind
        && match &e.body {
            Body::DrawFrozen(f) => f.draw == "main",
            Body::DrawPerformed(p) => p.draw == "main",
            Body::ReconciliationAcknowledged(r) => r.draw == "main",
            _ => false,
        }
}

fn edit(entries: &mut [Vec<u8>], i: usize, change: impl FnOnce(&mut Entry)) {
    let mut e = parse(&entries[i]);
    change(&mut e);
    entries[i] = e.to_bytes().unwrap();
}

/// Audits `dir`; returns (exit code, stdout and stderr).
fn run_log(dir: &Path, vkey: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["log", dir.to_str().unwrap(), "--vkey", vkey];
    args.extend_from_slice(extra);
    let out = audit(&args, "");
    (out.status.code().unwrap_or(-1), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_is_detected_and_the_untouched_log_passes() {
    let app = app_with_witnesses(vec![]).await;
    let ran = run_raffle(&app).await;
    let published = publications(&app);
    let vkey = app.state.vkey.clone();
    let key = signer(&app);
    let original = entries(&published);
    let tmp = tempfile::tempdir().unwrap();

    // The untouched log passes, as text and as JSON, and the state advances.
    let state = tmp.path().join("state");
    let (code, out) = run_log(&published, &vkey, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERDICT: PASS"), "{out}");
    assert!(out.contains("2 draws recomputed"), "{out}");
    assert!(out.contains("sales 6, draw numbers 18, voids 1"), "{out}");
    assert!(out.contains("net 50.00 CAD"), "{out}");
    assert!(out.contains("no policy witness contributed"), "{out}");
    assert!(out.contains("that payments were real"), "{out}");
    let (code, out) = run_log(&published, &vkey, &["--json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&out[..out.rfind('}').unwrap() + 1]).unwrap();
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["raffles"][0]["draws"][1]["prize_minor"], 2000);
    assert_eq!(json["violation_count"], 0);
    // Audited again later: consistent with the state it left.
    let (code, out) = run_log(&published, &vkey, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("consistent with the last checkpoint"), "{out}");

    // Files changed under the signature: no verdict, one clear line.
    type FileTamper<'a> = Box<dyn Fn(&Path) + 'a>;
    let files: Vec<(&str, FileTamper, &str)> = vec![
        (
            "a changed byte in an entry bundle",
            Box::new(|d: &Path| flip(&bundle_file(d), 20)),
            "does not hash to its level-0 tile hash",
        ),
        (
            "a changed byte in a tile",
            Box::new(|d: &Path| flip(&tile_file(d), 5)),
            "does not hash to its level-0 tile hash",
        ),
        (
            "a truncated tile",
            Box::new(|d: &Path| {
                let f = tile_file(d);
                let data = std::fs::read(&f).unwrap();
                std::fs::write(&f, &data[..data.len() - 7]).unwrap();
            }),
            "malformed",
        ),
        (
            "a missing entry bundle",
            Box::new(|d: &Path| std::fs::remove_file(bundle_file(d)).unwrap()),
            "missing entry bundle",
        ),
        (
            "a malformed checkpoint",
            Box::new(|d: &Path| {
                let data = std::fs::read(d.join("checkpoint")).unwrap();
                std::fs::write(d.join("checkpoint"), &data[..data.len() - 10]).unwrap();
            }),
            "malformed",
        ),
        (
            "a checkpoint signed by another key",
            Box::new(|d: &Path| {
                let note = transparency::Note::parse(&std::fs::read(d.join("checkpoint")).unwrap())
                    .unwrap();
                let other =
                    transparency::NoteSigner::generate(key.name(), transparency::key::ALG_ED25519)
                        .unwrap();
                let mut forged = transparency::Note::new(note.text()).unwrap();
                forged.sign(&other).unwrap();
                std::fs::write(d.join("checkpoint"), forged.to_bytes()).unwrap();
            }),
            "signature",
        ),
    ];
    for (i, (what, tamper, want)) in files.iter().enumerate() {
        let dir = tmp.path().join(format!("file{i}"));
        copy_dir(&published, &dir);
        tamper(&dir);
        let (code, out) = run_log(&dir, &vkey, &[]);
        assert_eq!(code, 2, "{what}: {out}");
        assert!(out.contains(want), "{what}: expected {want:?} in {out}");
        assert_eq!(out.trim().lines().count(), 1, "{what}: one line: {out}");
        assert!(out.starts_with("raffle-audit: error: "), "{what}: {out}");
    }

    // Histories rewritten and re-signed with the real key: each breaks a
    // raffle rule, named with its leaf, raffle and GLI-31 section.
    let sale = |e: &Entry| e.kind() == "sale";
    let closed = find(&original, |e| e.kind() == "raffle.closed");
    let voided = find(&original, |e| e.kind() == "sale.voided");
    let voided_range = match &parse(
        &original[find(
            &original,
            |e| matches!(&e.body, Body::Sale(s) if s.sale == ran.voided_sale),
        )],
    )
    .body
    {
        Body::Sale(s) => s.numbers,
        _ => unreachable!(),
    };
    let last_sale = find_last(&original, sale);
    let main_frozen = find(&original, |e| is_main(e, "draw.frozen"));
    let main_performed = find(&original, |e| is_main(e, "draw.performed"));
    let main_reconciled = find(&original, |e| is_main(e, "reconciliation.acknowledged"));
    let new_sale = |from: usize, first: u64, time_of: usize| -> Vec<u8> {
        let mut e = parse(&original[from]);
        e.time = parse(&original[time_of]).time;
        if let Body::Sale(s) = &mut e.body {
            s.sale = raffle_core::ids::SaleId::new_order();
            s.numbers.first = raffle_core::entry::U64(first);
            s.stamped = e.time;
        }
        e.to_bytes().unwrap()
    };
    let next_free = match &parse(&original[last_sale]).body {
        Body::Sale(s) => s.numbers.first.0 + s.numbers.count.0,
        _ => unreachable!(),
    };
    type Rewrite<'a> = Box<dyn Fn(&mut Vec<Vec<u8>>) + 'a>;
    let new_sale = &new_sale;
    let voided_sale = ran.voided_sale.clone();
    let voided_sale = &voided_sale;
    let rewrites: Vec<(&str, Rewrite, &str)> = vec![
        (
            "a removed entry (the void)",
            Box::new(move |l| {
                l.remove(voided);
            }),
            "are not the log's",
        ),
        (
            "a duplicated entry (a sale)",
            Box::new(move |l| {
                let s = l[last_sale].clone();
                l.insert(last_sale + 1, s);
            }),
            "is sold twice",
        ),
        (
            "reordered entries (two sales)",
            Box::new(move |l| {
                let first = find(l, sale);
                let second = first + 1 + find(&l[first + 1..], sale);
                l.swap(first, second);
            }),
            "GLI-31 3.2.1",
        ),
        (
            "a sale after close",
            Box::new(move |l| l.insert(closed + 1, new_sale(last_sale, next_free, closed))),
            "a sale sequenced after raffle.closed",
        ),
        (
            "a resold voided number",
            Box::new(move |l| {
                l.insert(
                    voided + 1,
                    new_sale(last_sale, voided_range.first.0, voided),
                )
            }),
            "resell numbers of a sale voided",
        ),
        (
            "a voided number drawn",
            Box::new(move |l| {
                let sale_id = voided_sale.clone();
                edit(l, main_performed, |e| {
                    if let Body::DrawPerformed(p) = &mut e.body {
                        p.winner = voided_range.first;
                        p.sale = sale_id.parse().unwrap();
                    }
                })
            }),
            "the voided number",
        ),
        (
            "a draw frozen before the reconciliation acknowledgement",
            Box::new(move |l| {
                let r = l.remove(main_reconciled);
                l.insert(main_frozen, r);
            }),
            "frozen before the reconciliation acknowledgement",
        ),
        (
            "a second freeze of a draw",
            Box::new(move |l| {
                let f = l[main_frozen].clone();
                l.insert(main_frozen + 1, f);
            }),
            "a second draw.frozen",
        ),
        (
            "a seed that does not match its commitment",
            Box::new(move |l| {
                edit(l, main_performed, |e| {
                    if let Body::DrawPerformed(p) = &mut e.body {
                        p.seed.0[0] ^= 1;
                    }
                })
            }),
            "the seed does not match its commitment",
        ),
        (
            "a raw value that does not follow from the seed",
            Box::new(move |l| {
                edit(l, main_performed, |e| {
                    if let Body::DrawPerformed(p) = &mut e.body {
                        p.raw[0] = p.raw[0].wrapping_add(1);
                    }
                })
            }),
            "raw value r_0 is",
        ),
        (
            "a winner that does not follow from the recorded values",
            Box::new(move |l| {
                edit(l, main_performed, |e| {
                    if let Body::DrawPerformed(p) = &mut e.body {
                        // Another number of the same (eligible) sale.
                        p.winner.0 = if p.winner.0 % 3 == 0 {
                            p.winner.0 - 1
                        } else {
                            p.winner.0 + 1
                        };
                    }
                })
            }),
            "does not follow from the recorded values",
        ),
        (
            "a 50/50 prize that does not match the sales",
            Box::new(move |l| {
                edit(l, main_frozen, |e| {
                    if let Body::DrawFrozen(f) = &mut e.body {
                        f.prize.minor += 100;
                    }
                })
            }),
            "is not the one the sales give",
        ),
        (
            "an entry of an unknown version",
            Box::new(move |l| {
                let text = String::from_utf8(l[voided].clone()).unwrap();
                let current = format!("{{\"v\":{},", raffle_core::entry::SCHEMA_VERSION);
                l[voided] = text.replacen(&current, "{\"v\":9,", 1).into_bytes();
            }),
            "upgrade raffle-audit",
        ),
    ];
    for (i, (what, rewrite, want)) in rewrites.iter().enumerate() {
        let mut log = original.clone();
        rewrite(&mut log);
        let dir = tmp.path().join(format!("rewrite{i}"));
        publish(&dir, &log, &key);
        let (code, out) = run_log(&dir, &vkey, &[]);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(out.contains("VERDICT: FAIL"), "{what}: {out}");
        assert!(out.contains(want), "{what}: expected {want:?} in {out}");
        let line = out.lines().find(|l| l.contains(want)).unwrap_or_default();
        assert!(
            line.trim_start().starts_with("leaf "),
            "{what}: names the leaf: {line}"
        );
        if !what.contains("unknown version") {
            assert!(
                line.contains(&ran.raffle),
                "{what}: names the raffle: {line}"
            );
        }
    }

    // A rolled-back and a forked log, re-signed with the real key, against
    // the state of the earlier audit.
    let rolled = tmp.path().join("rolled-back");
    publish(&rolled, &original[..original.len() - 2], &key);
    let (code, out) = run_log(&rolled, &vkey, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("rollback"), "{out}");
    let mut forked_log = original.clone();
    edit(&mut forked_log, voided, |e| {
        if let Body::SaleVoided(v) = &mut e.body {
            v.refund = !v.refund;
        }
    });
    let forked = tmp.path().join("forked");
    publish(&forked, &forked_log, &key);
    let (code, out) = run_log(&forked, &vkey, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("fork"), "{out}");
    // The state did not move: the real log still passes against it.
    let (code, out) = run_log(&published, &vkey, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");

    // Bad input: one clear line each.
    for (args, want) in [
        (
            vec!["log", "/nonexistent/publications", "--vkey", vkey.as_str()],
            "not a directory",
        ),
        (
            vec!["log", published.to_str().unwrap(), "--vkey", "not-a-key"],
            "not a verifier key",
        ),
        (
            vec![
                "ticket",
                "/nonexistent/receipt.tlog-proof",
                "--vkey",
                vkey.as_str(),
            ],
            "receipt /nonexistent",
        ),
    ] {
        let out = audit(&args, "");
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(want), "{want}: {t}");
        assert_eq!(t.trim().lines().count(), 1, "{t}");
    }
    drop_database(&app.db).await;
}

/// The entry bundle and the level-0 tile the log's checkpoint covers (a
/// small log has only partial ones; older partial files stay behind unused).
fn bundle_file(dir: &Path) -> std::path::PathBuf {
    let size = entries(dir).len() as u64;
    dir.join(transparency::tile::TileId::entries(0, size.min(256) as u16).path())
}

fn tile_file(dir: &Path) -> std::path::PathBuf {
    let size = entries(dir).len() as u64;
    dir.join(transparency::tile::TileId::hashes(0, 0, size.min(256) as u16).path())
}

fn flip(path: &Path, at: usize) {
    let mut data = std::fs::read(path).unwrap();
    data[at] ^= 0x01;
    std::fs::write(path, data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_verifies_their_ticket_and_a_regulator_replays_the_draws() {
    let app = app_with_witnesses(vec![]).await;
    let ran = run_raffle(&app).await;
    let published = publications(&app);
    let vkey = app.state.vkey.clone();
    let tmp = tempfile::tempdir().unwrap();
    let source = published.to_str().unwrap();
    let receipt_of = |r: &serde_json::Value| {
        let path = tmp
            .path()
            .join(format!("{}.tlog-proof", r["sale_id"].as_str().unwrap()));
        std::fs::write(&path, r["proof"].as_str().unwrap()).unwrap();
        path
    };
    let vkey_file = tmp.path().join("log.vkey");
    std::fs::write(&vkey_file, format!("{vkey}\n")).unwrap();

    // Offline, with the validation number: verified, and the key may be a file.
    let mut statuses = Vec::new();
    for r in &ran.receipts {
        let path = receipt_of(r);
        let vn = r["validation_number"].as_str().unwrap();
        let out = audit(
            &[
                "ticket",
                path.to_str().unwrap(),
                "--vkey",
                vkey_file.to_str().unwrap(),
                "--source",
                source,
            ],
            &format!("{vn}\n"),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{t}");
        assert!(t.contains("validation number: matches"), "{t}");
        assert!(
            t.contains("published log: consistent with the receipt"),
            "{t}"
        );
        assert!(t.contains("TICKET VERIFIED"), "{t}");
        statuses.push(
            t.lines()
                .find(|l| l.starts_with("status: "))
                .unwrap()
                .to_string(),
        );
    }
    assert!(statuses[0].contains("VOIDED"), "{statuses:?}");
    // Two prizes paid (one ticket may have won both draws).
    assert_eq!(
        statuses
            .iter()
            .map(|s| s.matches("prize paid").count())
            .sum::<usize>(),
        2,
        "{statuses:?}"
    );
    // Another ticket's validation number does not match.
    let path = receipt_of(&ran.receipts[1]);
    let other = ran.receipts[2]["validation_number"].as_str().unwrap();
    let out = audit(&["ticket", path.to_str().unwrap(), "--vkey", &vkey], other);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("DOES NOT match"), "{}", text(&out));
    // Without a validation number the rest is still verified, offline.
    let out = audit(&["ticket", path.to_str().unwrap(), "--vkey", &vkey], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("not given on standard input"),
        "{}",
        text(&out)
    );
    // A receipt whose entry was altered does not verify.
    let mut altered = std::fs::read_to_string(&path).unwrap();
    let extra = altered.lines().nth(1).unwrap().to_string();
    altered = altered.replacen(&extra, &format!("{}A", &extra[..extra.len() - 1]), 1);
    std::fs::write(&path, altered).unwrap();
    let out = audit(&["ticket", path.to_str().unwrap(), "--vkey", &vkey], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(text(&out).trim().lines().count(), 1, "{}", text(&out));
    // A mirror that has not caught up: not yet published.
    let older = tmp.path().join("older");
    let all = entries(&published);
    let path = receipt_of(&ran.receipts[5]);
    let index: usize = ran.receipts[5]["log_index"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    publish(&older, &all[..index], &signer(&app));
    let out = audit(
        &[
            "ticket",
            path.to_str().unwrap(),
            "--vkey",
            &vkey,
            "--source",
            older.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not yet published"), "{}", text(&out));

    // The draw ceremony: every step of both draws, recomputed.
    let out = audit(
        &["draw", source, "--raffle", &ran.raffle, "--vkey", &vkey],
        "",
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for want in [
        "draw \"early-bird\" frozen: 6 eligible numbers",
        "draw \"main\" frozen: 14 eligible numbers",
        "seed",
        "matches its commitment",
        "r_0 = ",
        "winning number",
        "claimed",
        "DRAWS VERIFIED: 2 of 2",
    ] {
        assert!(t.contains(want), "{want:?} in {t}");
    }
    let out = audit(
        &[
            "draw",
            source,
            "--raffle",
            "00000000-0000-0000-0000-000000000000",
            "--vkey",
            &vkey,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is not in the log"), "{}", text(&out));
    drop_database(&app.db).await;
}
