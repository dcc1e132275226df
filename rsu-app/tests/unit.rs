//! The unit against the real server: raffled's router on a local port,
//! the unit over HTTP with the printer simulator and the card-terminal
//! simulator. Sign-in against the signed operator list, selling for cash
//! and card, a printer fault mid-sale resolved by a supervised reprint or
//! void, the offline limits, re-authentication, and a hand-edited journal
//! that stops the unit and is reported.

mod common;

use common::*;
use raffle_core::entry::VoidReason;
use raffle_rsu::i18n::Lang;
use raffle_rsu::keystore::KeyStore;
use raffle_rsu::payment::Scripted;
use raffle_rsu::printer::{Fault, Paper, Problem};
use raffle_rsu::unit::{Settings, Tender, Unit};
use raffle_rsu::{Error, journal::Limits};
use serde_json::Value;
use std::sync::atomic::Ordering;
use testkit::app::call;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_signs_in_sells_prints_reprints_voids_and_uploads() {
    let rig = Rig::new().await;
    let mut unit = rig.unit(Settings::default()).unwrap();
    let raffle = rig.raffle.clone();
    // No operator list before the server answered.
    let e = blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap_err();
    assert!(e.to_string().contains("no operator list"), "{e}");
    blocking(|| unit.sync()).unwrap();
    let e = blocking(|| unit.sign_in(&rig.seller(), "11112222")).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    // Nothing sells before sign-in (GLI-31 3.2.2).
    let e = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(1000), Lang::En)).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    blocking(|| unit.cash("float", 5_000)).unwrap();

    // Cash: the ticket prints with its validation number, whose commitment
    // the record carries, and the signed record.
    let sale = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(2_000), Lang::En)).unwrap();
    assert_eq!(sale.printed, Ok(()));
    assert_eq!(sale.change, 1_000);
    let tickets = rig.printer.printed();
    let (text, codes) = read_ticket(&tickets[0]);
    assert!(
        text.contains("gate-3") && text.contains("10.00 CAD"),
        "{text}"
    );
    let vn = raffle_core::validation::ValidationNumber::parse(&codes[0]).unwrap();
    assert_eq!(vn.commitment(raffle.as_str()), sale.record.validation.0);
    assert!(
        raffle_rsu::ticket::verify_record_code(&codes[1], &rig.store.load().unwrap().public())
            .is_some()
    );
    // Too little cash: no sale.
    let e = blocking(|| unit.sell(&raffle, &p("p3"), 1, Tender::Cash(999), Lang::En)).unwrap_err();
    assert!(matches!(e, Error::Payment(_)), "{e}");

    // Card: declined and timed out make no sale (a timeout is reversed);
    // approved keeps only the terminal's reference.
    rig.terminal
        .script(&[Scripted::Decline, Scripted::Timeout, Scripted::Approve]);
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap_err();
    assert!(matches!(e, Error::Payment(_)), "{e}");
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap_err();
    assert!(e.to_string().contains("reversed"), "{e}");
    let card = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Card, Lang::Fr)).unwrap();
    assert_eq!(card.record.seq.0, 2);
    let settled = rig.terminal.settled();
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(
        settled[0].0.starts_with("gate-3-2-") && settled[0].1 == 500,
        "{settled:?}"
    );
    let (text, _) = read_ticket(&rig.printer.printed()[1]);
    assert!(text.contains("Numéro de tirage"), "{text}");

    // The printer runs out of paper mid-ticket: the sale stands, its
    // ticket is owed, and nothing else sells until it is reprinted.
    rig.printer.fail_after(300, Fault::PaperOut);
    let torn = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
    assert_eq!(torn.printed, Err(Problem::PaperOut));
    let o = blocking(|| unit.overview()).unwrap();
    assert_eq!(o.unprinted.len(), 1);
    assert_eq!(o.printer.blocking(), Some(Problem::PaperOut));
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap_err();
    assert!(e.to_string().contains("did not print"), "{e}");
    rig.printer.set_paper(Paper::Ok);
    // A reprint needs a second operator (GLI-31 2.4).
    let e = blocking(|| unit.reprint(3, &rig.seller(), SELLER_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("second operator"), "{e}");
    let e = blocking(|| unit.reprint(3, &rig.supervisor(), "00000001", Lang::En)).unwrap_err();
    assert!(matches!(e, Error::SignIn(_)), "{e}");
    blocking(|| unit.reprint(3, &rig.supervisor(), SUPERVISOR_PIN, Lang::En))
        .unwrap()
        .unwrap();
    let (text, codes) = read_ticket(rig.printer.printed().last().unwrap());
    assert!(text.contains("REPRINT 1"), "{text}");
    assert_eq!(
        raffle_core::validation::ValidationNumber::parse(&codes[0])
            .unwrap()
            .commitment(raffle.as_str()),
        torn.record.validation.0
    );

    // A ticket that printed is never printed again: a second copy could
    // claim its prize twice.
    let e = blocking(|| unit.reprint(1, &rig.supervisor(), SUPERVISOR_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("printed"), "{e}");
    let e = blocking(|| unit.reprint(3, &rig.supervisor(), SUPERVISOR_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("printed"), "{e}");

    // The cover opens mid-ticket: this time the sale is voided instead.
    rig.printer.fail_after(200, Fault::CoverOpen);
    let torn2 = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
    assert_eq!(torn2.printed, Err(Problem::CoverOpen));
    rig.printer.set_cover_open(false);
    blocking(|| unit.void(4, VoidReason::Misprint, &rig.supervisor(), SUPERVISOR_PIN)).unwrap();
    assert!(blocking(|| unit.overview()).unwrap().unprinted.is_empty());
    // A voided sale's ticket never prints.
    let e = blocking(|| unit.reprint(4, &rig.supervisor(), SUPERVISOR_PIN, Lang::En)).unwrap_err();
    assert!(e.to_string().contains("voided"), "{e}");
    // Sales wait to upload: no signing out.
    let e = blocking(|| unit.sign_out()).unwrap_err();
    assert!(e.to_string().contains("wait to upload"), "{e}");

    let synced = blocking(|| unit.sync()).unwrap();
    assert_eq!(synced.uploaded, 4);
    assert_eq!(synced.waiting, 0, "{synced:?}");
    assert!(synced.refused.is_empty(), "{synced:?}");
    // The server holds the four sales, the reprint and the void request.
    assert_eq!(
        rig.app
            .state
            .sequencer
            .ledger()
            .device("gate-3")
            .unwrap()
            .head
            .seq,
        4
    );
    let reprints = rig.entries("rsu.reprinted").await;
    assert_eq!(reprints.len(), 1);
    assert_eq!(reprints[0]["supervisor"], rig.supervisor());
    let sale = raffle_core::rsu::sale_id(&"gate-3".parse().unwrap(), 4);
    assert!(
        rig.app
            .state
            .store
            .pending_void(sale.as_str())
            .await
            .unwrap()
            .is_some(),
        "the void waits for finance's approval"
    );
    // Acknowledged and printed: the unit keeps no validation number.
    for seq in 1..=4 {
        assert_eq!(
            unit.journal().validation_number(seq).unwrap(),
            None,
            "sale {seq}"
        );
    }
    // The drawer: the float and three cash sales, less the voided one.
    let o = blocking(|| unit.overview()).unwrap();
    assert_eq!(o.drawer, (5_000, 1_500, 0));
    blocking(|| unit.sign_out()).unwrap();
    // The encrypted backup opens with the unit's key and holds the journal.
    let sealed = std::fs::read(rig.dir.path().join("journal.backup")).unwrap();
    let plain =
        raffle_rsu::keystore::open_backup(&rig.store.backup_key().unwrap(), &sealed).unwrap();
    assert!(plain.starts_with(b"SQLite format 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_limits_stop_selling_and_sign_in_is_needed_again() {
    let rig = Rig::new().await;
    let settings = Settings {
        limits: Limits {
            max_unsynced: 3,
            max_offline_micros: 150_000_000,
        },
        idle_lock_secs: 60,
        reauth_offline_secs: 90,
        ..Settings::default()
    };
    let mut unit = rig.unit(settings).unwrap();
    let raffle = rig.raffle.clone();
    let sell =
        |unit: &mut Unit| blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En));
    blocking(|| unit.sync()).unwrap();
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    for _ in 0..3 {
        sell(&mut unit).unwrap();
    }
    // The buffer: three unsynced sales (GLI-31 6.1.4).
    assert!(matches!(sell(&mut unit), Err(Error::MustSync(_))));
    blocking(|| unit.sync()).unwrap();
    sell(&mut unit).unwrap();
    // Idle: the session locks (looking at the screen is no activity);
    // the PIN opens it.
    rig.clock.advance_secs(40);
    assert!(
        blocking(|| unit.overview())
            .unwrap()
            .session
            .unwrap()
            .locked
            .is_none()
    );
    rig.clock.advance_secs(21);
    assert!(
        blocking(|| unit.overview())
            .unwrap()
            .session
            .unwrap()
            .locked
            .is_some()
    );
    let e = sell(&mut unit).unwrap_err();
    assert!(e.to_string().contains("idle"), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    // Offline: it sells on, then asks for the PIN again after the
    // offline period, then stops at the offline duration.
    rig.cut.store(true, Ordering::SeqCst);
    assert!(blocking(|| unit.sync()).is_err());
    rig.clock.advance_secs(50);
    sell(&mut unit).unwrap();
    rig.clock.advance_secs(50);
    let e = sell(&mut unit).unwrap_err();
    assert!(e.to_string().contains("offline"), "{e}");
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    let e = sell(&mut unit).unwrap_err();
    assert!(matches!(e, Error::MustSync(_)), "{e}");
    let o = blocking(|| unit.overview()).unwrap();
    assert!(!o.online);
    assert_eq!(o.waiting, 2);
    // The network returns: everything uploads and selling resumes.
    rig.cut.store(false, Ordering::SeqCst);
    let synced = blocking(|| unit.sync()).unwrap();
    assert_eq!((synced.uploaded, synced.waiting), (2, 0));
    sell(&mut unit).unwrap();
    blocking(|| unit.sync()).unwrap();
    assert_eq!(
        rig.app
            .state
            .sequencer
            .ledger()
            .device("gate-3")
            .unwrap()
            .head
            .seq,
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_edited_by_hand_stops_the_unit_says_why_and_is_reported() {
    let rig = Rig::new().await;
    let raffle = rig.raffle.clone();
    {
        let mut unit = rig.unit(Settings::default()).unwrap();
        blocking(|| unit.sync()).unwrap();
        blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
        for _ in 0..3 {
            blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
        }
    }
    // The price of the second sale lowered by hand.
    let journal = rig.dir.path().join("journal.sqlite");
    let original = rig.dir.path().join("original.sqlite");
    let tampered = rig.dir.path().join("tampered.sqlite");
    // Copies through SQLite (`VACUUM INTO`), whole whatever its WAL holds.
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let _ = std::fs::remove_file(to);
        for wal in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{wal}", to.display()));
        }
        rusqlite::Connection::open(from)
            .unwrap()
            .execute("VACUUM INTO ?1", [to.to_str().unwrap()])
            .unwrap();
    };
    copy(&journal, &original);
    let db = rusqlite::Connection::open(rig.dir.path().join("journal.sqlite")).unwrap();
    db.execute(
        "UPDATE records SET record = replace(record, '\"minor\":\"500\"', '\"minor\":\"5\"') WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(db);
    copy(&journal, &tampered);
    let mut unit = rig.unit(Settings::default()).unwrap();
    let o = blocking(|| unit.overview()).unwrap();
    let why = o.stopped.expect("stopped");
    assert!(
        why.contains("record 2") && why.contains("signature"),
        "{why}"
    );
    let e = blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap_err();
    assert!(e.to_string().contains("selling is stopped"), "{e}");
    // Each other edit, on a copy of the file as it was: the acknowledged
    // head moved up (to hide sales from upload), the allocations widened,
    // the server's kept answer deleted, a validation number replaced.
    for (sql, want) in [
        (
            "UPDATE unit SET acknowledged = 3, acknowledged_hash = (SELECT hash FROM records WHERE seq = 3)",
            "acknowledged head",
        ),
        ("UPDATE allocations SET count = count + 1000", "allocations"),
        ("DELETE FROM answer", "answer is missing"),
        (
            "UPDATE records SET validation_number = (SELECT validation_number FROM records WHERE seq = 1) WHERE seq = 3",
            "validation number",
        ),
    ] {
        copy(&original, &journal);
        let db = rusqlite::Connection::open(&journal).unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let mut edited = rig.unit(Settings::default()).unwrap();
        let why = blocking(|| edited.overview()).unwrap().stopped;
        assert!(
            why.as_deref().is_some_and(|w| w.contains(want)),
            "{sql}: {why:?}"
        );
    }
    copy(&tampered, &journal);
    let mut unit = rig.unit(Settings::default()).unwrap();

    // Reported when next online (GLI-31 3.4.4, 2.8.1 g).
    assert!(blocking(|| unit.sync()).is_err());
    let (_, events) = call(
        &rig.app,
        "GET",
        "/api/v1/events?kind=journal_corrupt",
        Some(&rig.staff.admin.token),
        Value::Null,
    )
    .await;
    assert!(events.to_string().contains("gate-3"), "{events}");
    assert!(events.to_string().contains("record 2"), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_restored_from_an_older_backup_sells_nothing_until_the_server_says_it_is_whole() {
    let rig = Rig::new().await;
    let raffle = rig.raffle.clone();
    let backup = rig.dir.path().join("journal.backup");
    let older = rig.dir.path().join("older.backup");
    {
        let mut unit = rig.unit(Settings::default()).unwrap();
        blocking(|| unit.sync()).unwrap();
        blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
        blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
        blocking(|| unit.sync()).unwrap();
        // A backup is written after every sale and sync.
        std::fs::copy(&backup, &older).unwrap();
        for _ in 0..2 {
            blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap();
        }
        blocking(|| unit.sync()).unwrap();
    }
    // The card fails; the journal comes back from the older backup, which
    // lacks two sales the server holds.
    std::fs::remove_file(rig.dir.path().join("journal.sqlite")).unwrap();
    let _ = std::fs::remove_file(rig.dir.path().join("journal.sqlite-wal"));
    let _ = std::fs::remove_file(rig.dir.path().join("journal.sqlite-shm"));
    let key = rig.store.backup_key().unwrap();
    let plain = raffle_rsu::keystore::open_backup(&key, &std::fs::read(&older).unwrap()).unwrap();
    std::fs::write(rig.dir.path().join("journal.sqlite"), plain).unwrap();
    rusqlite::Connection::open(rig.dir.path().join("journal.sqlite"))
        .unwrap()
        .execute("UPDATE unit SET must_sync = 1 WHERE id = 1", [])
        .unwrap();
    let mut unit = rig.unit(Settings::default()).unwrap();
    blocking(|| unit.sign_in(&rig.seller(), SELLER_PIN)).unwrap();
    // Its next numbers were sold already: it must not sell them again.
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap_err();
    assert!(matches!(e, Error::MustSync(_)), "{e}");
    assert!(blocking(|| unit.sync()).is_err());
    let why = blocking(|| unit.overview())
        .unwrap()
        .stopped
        .expect("stopped");
    assert!(
        why.contains("another history") || why.contains("records are gone"),
        "{why}"
    );
    let e = blocking(|| unit.sell(&raffle, &p("p1"), 1, Tender::Cash(500), Lang::En)).unwrap_err();
    assert!(e.to_string().contains("stopped"), "{e}");
    assert_eq!(
        rig.app
            .state
            .sequencer
            .ledger()
            .device("gate-3")
            .unwrap()
            .head
            .seq,
        3
    );
}
