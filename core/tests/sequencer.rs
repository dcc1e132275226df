//! The sequencer against the real PostgreSQL (127.0.0.1:5432) and a real
//! publication directory: receipts that verify offline, races for the last
//! tickets, the automatic close, the draw, and recovery from a database
//! restored from an older backup.

use raffle_core::entry::*;
use raffle_core::store::sequencer::{Change, Sequencer};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Error, Money, Refusal, Timestamp};
use std::time::Duration;
use testkit::sequencer::Harness;

const STAFF: &str = "s_0000000000000001";
const APPROVER: &str = "s_0000000000000002";

fn config(start: Timestamp, end: Timestamp, max: Option<u64>) -> RaffleConfig {
    let mut c = testkit::raffles::one_draw(start, end);
    c.max_tickets = max.map(U64);
    c
}

use testkit::raffles::in_secs as micros;

async fn open_raffle(seq: &Sequencer, config: RaffleConfig) -> raffle_core::ids::RaffleId {
    let raffle = raffle_core::ids::RaffleId::new_random();
    seq.submit(Change::CreateRaffle {
        raffle: raffle.clone(),
        config,
        by: STAFF.parse().unwrap(),
    })
    .await
    .unwrap();
    seq.submit(Change::OpenRaffle {
        raffle: raffle.clone(),
        by: STAFF.parse().unwrap(),
        payment_account: None,
    })
    .await
    .unwrap();
    raffle
}

fn buy(raffle: &raffle_core::ids::RaffleId, package: &str) -> (Change, ValidationNumber) {
    let vn = ValidationNumber::generate().unwrap();
    (
        Change::IssueSale {
            order: raffle_core::ids::SaleId::new_order(),
            raffle: raffle.parse().unwrap(),
            package: package.parse().unwrap(),
            quantity: 1,
            stamped: Timestamp::now(),
            validation: vn.commitment(raffle),
            channel: Channel::Online,
            rsu: None,
        },
        vn,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sales_get_receipts_that_verify_offline() {
    let h = Harness::new();
    let (_store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), None)).await;
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let seq = seq.clone();
        let raffle = raffle.clone();
        tasks.push(tokio::spawn(async move {
            seq.submit(buy(&raffle, "p3").0).await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let s = t.await.unwrap().unwrap();
        // The receipt verifies with the log's key alone (architecture page, "receipt").
        let file = transparency::proof_file::ProofFile::parse(&s.proof_file().to_bytes()).unwrap();
        let (entry, _) = file.verify_extra_entry(&h.key.verifier(), &[]).unwrap();
        let Body::Sale(sale) = Entry::parse(&entry).unwrap().body else {
            panic!("not a sale")
        };
        numbers.extend(sale.numbers.iter());
    }
    // GLI-31 3.2.1: 600 distinct numbers, 1..=600.
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=600).collect::<Vec<u64>>());
    // The published log verifies as a whole.
    let storage = transparency::store::DirStorage::new(h.dir.path(), false).unwrap();
    let report = transparency::fsck::verify_log(&storage, &h.key.verifier(), 2).unwrap();
    assert_eq!(report.entries, 202);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_for_the_last_tickets_sells_exactly_the_maximum() {
    let h = Harness::new();
    let (store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), Some(10))).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let seq = seq.clone();
        let raffle = raffle.clone();
        tasks.push(tokio::spawn(async move {
            seq.submit(buy(&raffle, "p1").0).await
        }));
    }
    let mut sold = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => sold += 1,
            Err(e) => assert!(
                matches!(&e, Error::Refused(r) if r.code() == "not_enough_tickets"),
                "{e}"
            ),
        }
    }
    assert_eq!(sold, 10);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(count, 10);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raffle_closes_itself_at_its_end_time_and_later_sales_are_refused() {
    let h = Harness::new();
    let (_store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(h.in_secs(-60), h.in_secs(2), None)).await;
    // A purchase stamped before the end time but sequenced after the close is refused (GLI-31 2.6.2).
    let (late, _) = buy(&raffle, "p1");
    seq.submit(buy(&raffle, "p1").0).await.unwrap();
    h.clock.advance(Duration::from_millis(3200));
    let err = seq.submit(late).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused(Refusal::RaffleNotOnSale { raffle: r, status })
            if *r == raffle && status == "closed"),
        "{err}"
    );
    assert_eq!(
        seq.ledger().raffle(&raffle).unwrap().status,
        raffle_core::ledger::Status::Closed
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_runs_end_to_end_through_the_sequencer() {
    let h = Harness::new();
    let (_store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(h.in_secs(-60), h.in_secs(2), None)).await;
    for _ in 0..30 {
        seq.submit(buy(&raffle, "p10").0).await.unwrap();
    }
    let draw = |c| seq.submit(c);
    let err = draw(Change::FreezeDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
    })
    .await
    .unwrap_err();
    assert_eq!(
        err,
        Error::Refused(Refusal::DrawNotReconciled {
            draw: "main".into()
        }),
        "{err}"
    );
    h.clock.advance(Duration::from_millis(2500));
    draw(Change::Reconcile {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
        requested_by: STAFF.parse().unwrap(),
        approved_by: APPROVER.parse().unwrap(),
    })
    .await
    .unwrap();
    let frozen = draw(Change::FreezeDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
    })
    .await
    .unwrap();
    let Body::DrawFrozen(f) = &frozen.entry.body else {
        panic!()
    };
    assert_eq!(
        (f.n.0, f.prize),
        (300, Money::new(30_000, raffle_core::Currency::CAD))
    );
    let performed = draw(Change::PerformDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
        contribution: vec![],
    })
    .await
    .unwrap();
    let Body::DrawPerformed(p) = &performed.entry.body else {
        panic!()
    };
    assert_eq!(
        raffle_core::draw::seed_commitment(&p.seed.0),
        f.seed_sha256.0
    );
    assert!((1..=300).contains(&p.winner.0));
    let again = draw(Change::PerformDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
        contribution: vec![],
    })
    .await
    .unwrap_err();
    assert_eq!(
        again,
        Error::Refused(Refusal::DrawAlreadyPerformed {
            draw: "main".into()
        }),
        "{again}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restored_from_an_older_backup_is_rolled_forward_from_the_published_log() {
    let h = Harness::new();
    let (store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), None)).await;
    for _ in 0..20 {
        seq.submit(buy(&raffle, "p1").0).await.unwrap();
    }
    // "Restore a backup" taken after the 10th sale: drop everything later.
    let keep = 12i64;
    for sql in [
        "DELETE FROM sales WHERE idx >= $1",
        "DELETE FROM checkpoints WHERE size > $1",
        "DELETE FROM log_entries WHERE idx >= $1",
    ] {
        sqlx::query(sql)
            .bind(keep)
            .execute(&store.pool)
            .await
            .unwrap();
    }
    let before = seq.ledger().raffle(&raffle).unwrap().sale_count();
    drop(seq);
    // The old sequencer's task still holds the advisory lock until its
    // connection closes; a restart is a new process in production.
    store.pool.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (store, seq) = loop {
        match h.start().await {
            Ok(s) => break s,
            Err(e) if e.to_string().contains("already sequencing") => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(seq.ledger().raffle(&raffle).unwrap().sale_count(), before);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(count, 20);
    // And it keeps signing consistent extensions.
    seq.submit(buy(&raffle, "p1").0).await.unwrap();
    let storage = transparency::store::DirStorage::new(h.dir.path(), false).unwrap();
    assert_eq!(
        transparency::fsck::verify_log(&storage, &h.key.verifier(), 2)
            .unwrap()
            .entries,
        23
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_publication_store_is_refused() {
    let h = Harness::new();
    let (store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), None)).await;
    let old = std::fs::read(h.dir.path().join("checkpoint")).unwrap();
    seq.submit(buy(&raffle, "p1").0).await.unwrap();
    drop(seq);
    store.pool.close().await;
    std::fs::write(h.dir.path().join("checkpoint"), old).unwrap();
    let err = loop {
        match h.start().await {
            Ok(_) => panic!("started over a rolled-back publication store"),
            Err(e) if e.to_string().contains("already sequencing") => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("rolled back"), "{err}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_the_publication_store_cannot_be_written() {
    let h = Harness::new();
    let (store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), None)).await;
    seq.submit(buy(&raffle, "p1").0).await.unwrap();
    let checkpoint = std::fs::read(h.dir.path().join("checkpoint")).unwrap();
    // Break the store: the tile directory becomes a file.
    let tile = h.dir.path().join("tile");
    std::fs::rename(&tile, h.dir.path().join("tile.saved")).unwrap();
    std::fs::write(&tile, b"not a directory").unwrap();
    let (change, _) = buy(&raffle, "p1");
    let Change::IssueSale { order: failed, .. } = change.clone() else {
        unreachable!()
    };
    let err = seq.submit(change).await.unwrap_err();
    assert!(matches!(err, raffle_core::Error::Unavailable(_)), "{err}");
    assert_eq!(
        std::fs::read(h.dir.path().join("checkpoint")).unwrap(),
        checkpoint,
        "a checkpoint was published"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "an unpublished sale was committed");
    // Repaired: sales go on, and the failed one is nowhere.
    std::fs::remove_file(&tile).unwrap();
    std::fs::rename(h.dir.path().join("tile.saved"), &tile).unwrap();
    let mut ok = None;
    for _ in 0..20 {
        match seq.submit(buy(&raffle, "p1").0).await {
            Ok(s) => {
                ok = Some(s);
                break;
            }
            Err(raffle_core::Error::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(ok.is_some(), "the sequencer did not recover");
    assert!(
        seq.ledger()
            .raffle(&raffle)
            .unwrap()
            .sale(&failed)
            .is_none()
    );
    let storage = transparency::store::DirStorage::new(h.dir.path(), false).unwrap();
    let report = transparency::fsck::verify_log(&storage, &h.key.verifier(), 2).unwrap();
    assert_eq!(report.entries, 4, "created, opened and two sales");
    h.finish().await;
}

/// A retried sale refused as "already exists" is answered only once the
/// sale it collided with is durable, so the caller can read it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_after_the_batch_it_rests_on_is_durable() {
    let h = Harness::new();
    let (store, seq) = h.start().await.unwrap();
    let raffle = open_raffle(&seq, config(micros(-60), micros(3600), None)).await;
    for _ in 0..20 {
        let (change, _) = buy(&raffle, "p1");
        let Change::IssueSale { order, .. } = change.clone() else {
            unreachable!()
        };
        // Submitted together (most often sequenced in one batch); whichever
        // is refused looks for the sale the moment it hears back.
        let attempt = |change: Change| {
            let (seq, store, order) = (seq.clone(), store.clone(), order.clone());
            tokio::spawn(async move {
                let result = seq.submit(change).await;
                let stored: Option<i64> =
                    sqlx::query_scalar("SELECT idx FROM sales WHERE id = $1::uuid")
                        .bind(&order)
                        .fetch_optional(&store.pool)
                        .await
                        .unwrap();
                (result, stored)
            })
        };
        let (a, b) = (attempt(change.clone()), attempt(change));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let ((ok, _), (refused, stored)) = match (a, b) {
            ((Ok(s), x), (Err(e), y)) | ((Err(e), y), (Ok(s), x)) => ((s, x), (e, y)),
            other => panic!("one of two identical sales is refused: {other:?}"),
        };
        assert_eq!(
            refused,
            Error::Refused(Refusal::SaleExists {
                sale: order.to_string()
            }),
            "{refused}"
        );
        assert_eq!(
            stored,
            Some(ok.index as i64),
            "refused before the sale was committed"
        );
    }
    h.finish().await;
}
