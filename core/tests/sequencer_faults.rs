//! The fault table (after Sunlight's): every durable step of a batch — the
//! publication store's reads, tile writes, checkpoint swap and other
//! writes, and the database commit — failing before it persisted, failing
//! after it persisted (its answer lost), and slow. After each case:
//!
//! - the published log verifies, and it, the database and the ledger hold
//!   the same entries (a restarted sequencer agrees too);
//! - every acknowledged sale is in the log (nothing acknowledged is lost);
//! - every sale in the log was submitted (nothing is invented), and a sale
//!   whose call failed is either absent, or present and found by its retry
//!   (`sale_exists`): an error never hides a half-made change;
//! - a step that failed before publishing left nothing of its batch.

use publications::faults::{Call, Fault};
use raffle_core::entry::*;
use raffle_core::store::sequencer::{Change, Sequenced, Sequencer};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Error, Timestamp};
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::sequencer::Harness;

const STAFF: &str = "s_0000000000000001";
const SALES: usize = 12;
const SLOW: Fault = Fault::Slow(Duration::from_millis(300));

const CASES: &[(Call, Fault)] = &[
    (Call::WriteTiles, Fault::Before),
    (Call::WriteTiles, Fault::After),
    (Call::WriteTiles, SLOW),
    (Call::SwapCheckpoint, Fault::Before),
    (Call::SwapCheckpoint, Fault::After),
    (Call::SwapCheckpoint, SLOW),
    (Call::Commit, Fault::Before),
    (Call::Commit, Fault::After),
    (Call::Commit, SLOW),
    (Call::Read, Fault::Before),
    (Call::Read, SLOW),
    (Call::Put, Fault::Before),
    (Call::Put, Fault::After),
];

fn config() -> RaffleConfig {
    use testkit::raffles::{in_secs, one_draw};
    one_draw(in_secs(-60), in_secs(3600))
}

fn sale(raffle: &raffle_core::ids::RaffleId) -> Change {
    Change::IssueSale {
        order: raffle_core::ids::SaleId::new_order(),
        raffle: raffle.parse().unwrap(),
        package: "p1".parse().unwrap(),
        quantity: 1,
        stamped: Timestamp::now(),
        validation: ValidationNumber::generate().unwrap().commitment(raffle),
        channel: Channel::Online,
        rsu: None,
    }
}

fn order(change: &Change) -> raffle_core::ids::SaleId {
    let Change::IssueSale { order, .. } = change else {
        unreachable!()
    };
    order.clone()
}

/// Submits until the sequencer answers something other than "unavailable"
/// (it recovers from a failed batch before the next).
async fn settled(seq: &Sequencer, change: Change) -> raffle_core::Result<u64> {
    for _ in 0..100 {
        match seq.submit(change.clone()).await {
            Err(Error::Unavailable(_)) | Err(Error::Storage(_)) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => return other.map(|s| s.index),
        }
    }
    panic!("the sequencer never recovered");
}

/// The change, sequenced once the sequencer has recovered from a failed
/// batch (it answers "unavailable" until then); any other error fails the
/// test with `what`.
async fn once_recovered(seq: &Sequencer, change: Change, what: &str) -> Sequenced {
    for _ in 0..50 {
        match seq.submit(change.clone()).await {
            Ok(s) => return s,
            Err(Error::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{what}: {e}"),
        }
    }
    panic!("{what}: the sequencer never recovered");
}

/// Starts the harness's sequencer, waiting for a previous one to let go.
async fn start(h: &Harness) -> raffle_core::Result<(raffle_core::store::Store, Sequencer)> {
    for _ in 0..100 {
        match h.start().await {
            Err(e) if e.to_string().contains("already sequencing") => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other,
        }
    }
    panic!("the previous sequencer kept its lock");
}

/// The sale ids of the published log, after verifying it as a whole.
fn published_sales(h: &Harness) -> (u64, BTreeSet<raffle_core::ids::SaleId>) {
    let storage = transparency::store::DirStorage::new(h.dir.path(), false).unwrap();
    let report = transparency::fsck::verify_log(&storage, &h.key.verifier(), 2)
        .expect("the published log verifies");
    let mut sales = BTreeSet::new();
    for i in 0..report.entries {
        let bytes = transparency::store::read_entry(&storage, i, report.entries).unwrap();
        if let Body::Sale(s) = Entry::parse(&bytes).unwrap().body {
            assert!(
                sales.insert(s.sale.clone()),
                "sale {} twice in the log",
                s.sale
            );
        }
    }
    (report.entries, sales)
}

async fn database_sales(
    store: &raffle_core::store::Store,
) -> (u64, BTreeSet<raffle_core::ids::SaleId>) {
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM log_entries")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    let ids: Vec<raffle_core::ids::SaleId> = sqlx::query_scalar("SELECT id::text FROM sales")
        .fetch_all(&store.pool)
        .await
        .unwrap();
    (entries as u64, ids.into_iter().collect())
}

async fn run_case(call: Call, fault: Fault) {
    let case = format!("{call:?} {fault:?}");
    let h = Harness::new();
    if call == Call::Put {
        // The only put is the verifier key, at start: the start fails and
        // nothing is sequenced; the next start succeeds.
        h.plan.arm(call, fault, 1);
        assert!(
            h.start().await.is_err(),
            "{case}: started over a failed put"
        );
    }
    let (store, seq) = start(&h).await.unwrap();
    let raffle = raffle_core::ids::RaffleId::new_random();
    for c in [
        Change::CreateRaffle {
            raffle: raffle.clone(),
            config: config(),
            by: STAFF.parse().unwrap(),
        },
        Change::OpenRaffle {
            raffle: raffle.clone(),
            by: STAFF.parse().unwrap(),
            payment_account: None,
        },
    ] {
        seq.submit(c).await.unwrap();
    }
    if call != Call::Put {
        h.plan.arm(call, fault, 1);
    }
    let changes: Vec<Change> = (0..SALES).map(|_| sale(&raffle)).collect();
    let mut tasks = Vec::new();
    for c in &changes {
        let (seq, c) = (seq.clone(), c.clone());
        tasks.push(tokio::spawn(async move { seq.submit(c).await }));
    }
    let mut acked = BTreeSet::new();
    let mut failed = Vec::new();
    for (c, t) in changes.iter().zip(tasks) {
        match t.await.unwrap() {
            Ok(_) => {
                acked.insert(order(c));
            }
            Err(Error::Unavailable(_)) | Err(Error::Storage(_)) => failed.push(c.clone()),
            Err(e) => panic!("{case}: a sale was refused: {e}"),
        }
    }
    h.plan.disarm();
    assert!(
        h.plan.fired().contains(&(call, fault)),
        "{case}: the fault never fired ({:?})",
        h.plan.fired()
    );
    if matches!(fault, Fault::Slow(_)) {
        assert!(failed.is_empty(), "{case}: a slow step failed a sale");
    }
    // Recovered: a new sale goes through.
    let after = sale(&raffle);
    settled(&seq, after.clone())
        .await
        .expect("a sale after the fault");
    acked.insert(order(&after));
    let (_, in_log) = published_sales(&h);
    if matches!(
        (call, fault),
        (Call::WriteTiles, Fault::Before) | (Call::SwapCheckpoint, Fault::Before)
    ) {
        for c in &failed {
            assert!(
                !in_log.contains(&order(c)),
                "{case}: an unpublished batch left a sale"
            );
        }
        assert!(!failed.is_empty(), "{case}: the failed step failed no sale");
    }
    // A failed sale is absent (its retry sells it) or present (its retry
    // finds it): either way it ends in the log exactly once.
    for c in failed {
        let id = order(&c);
        match settled(&seq, c).await {
            Ok(_) => assert!(!in_log.contains(&id), "{case}: {id} sold twice"),
            Err(Error::Refused(r)) => {
                assert_eq!(r.code(), "sale_exists", "{case}: {r}");
                assert!(in_log.contains(&id), "{case}: refused but not in the log");
            }
            Err(e) => panic!("{case}: retrying {id}: {e}"),
        }
        acked.insert(id);
    }
    let submitted: BTreeSet<raffle_core::ids::SaleId> =
        changes.iter().map(order).chain([order(&after)]).collect();
    let (entries, in_log) = published_sales(&h);
    assert_eq!(
        in_log, submitted,
        "{case}: the log's sales are the submitted ones"
    );
    assert!(
        acked.is_subset(&in_log),
        "{case}: an acknowledged sale is missing"
    );
    let (db_entries, in_db) = database_sales(&store).await;
    assert_eq!(
        (db_entries, &in_db),
        (entries, &in_log),
        "{case}: the database differs"
    );
    assert_eq!(seq.ledger().size(), entries, "{case}: the ledger differs");
    // A sequencer started afresh agrees.
    drop(seq);
    let (_, again) = start(&h).await.unwrap();
    assert_eq!(again.ledger().size(), entries, "{case}: a restart differs");
    drop(again);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_durable_step_failing_before_or_after_it_persisted_or_slow_loses_and_invents_nothing()
{
    for (call, fault) in CASES {
        run_case(*call, *fault).await;
    }
}

/// A freeze whose batch was published but whose commit failed is rolled
/// forward from the log; its seed must have survived, or the draw could
/// never be performed (the seed is secret: it is in no published file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_published_without_its_commit_can_still_be_drawn() {
    let h = Harness::new();
    let (_store, seq) = start(&h).await.unwrap();
    let raffle = ready_to_freeze(&h, &seq).await;
    h.plan.arm(Call::Commit, Fault::Before, 1);
    let freeze = Change::FreezeDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
    };
    assert!(seq.submit(freeze).await.is_err(), "the commit failed");
    h.plan.disarm();
    let perform = Change::PerformDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
        contribution: Vec::new(),
    };
    let performed =
        once_recovered(&seq, perform, "the rolled-forward freeze cannot be drawn").await;
    assert!(matches!(performed.entry.body, Body::DrawPerformed(_)));
    drop(seq);
    h.finish().await;
}

/// A raffle on sale for a minute with five sales, reconciled after its
/// end (the clock moved): ready to freeze.
async fn ready_to_freeze(h: &Harness, seq: &Sequencer) -> raffle_core::ids::RaffleId {
    use testkit::raffles::one_draw;
    let raffle = raffle_core::ids::RaffleId::new_random();
    for c in [
        Change::CreateRaffle {
            raffle: raffle.clone(),
            config: one_draw(h.in_secs(-60), h.in_secs(60)),
            by: STAFF.parse().unwrap(),
        },
        Change::OpenRaffle {
            raffle: raffle.clone(),
            by: STAFF.parse().unwrap(),
            payment_account: None,
        },
    ] {
        seq.submit(c).await.unwrap();
    }
    for _ in 0..5 {
        seq.submit(sale(&raffle)).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(61));
    seq.submit(Change::Reconcile {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
        requested_by: STAFF.parse().unwrap(),
        approved_by: "s_0000000000000002".parse().unwrap(),
    })
    .await
    .unwrap();
    raffle
}

/// Two freezes of one draw in one batch (a double click): the second is
/// refused and the first keeps its seed, so the draw can be performed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_freeze_in_the_same_batch_leaves_the_first_its_seed() {
    let h = Harness::new();
    let (_store, seq) = start(&h).await.unwrap();
    let raffle = ready_to_freeze(&h, &seq).await;
    let freeze = Change::FreezeDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
    };
    // A slow batch ahead of them, so that both wait for the same next one.
    h.plan.arm(Call::WriteTiles, SLOW, 1);
    let slow = tokio::spawn({
        let seq = seq.clone();
        async move {
            seq.submit(Change::SoftwareStarted {
                program: "raffled".into(),
                version: "0".into(),
                sha256: [0; 32],
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (a, b) = tokio::join!(seq.submit(freeze.clone()), seq.submit(freeze));
    assert!(slow.await.unwrap().is_ok(), "the slow batch");
    assert!(
        h.plan.fired().contains(&(Call::WriteTiles, SLOW)),
        "the batch ahead was slow"
    );
    let refused = match (&a, &b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("one freeze is accepted and one refused: {other:?}"),
    };
    assert!(
        matches!(refused, Error::Refused(r) if r.code() == "draw_already_frozen"),
        "{refused}"
    );
    let performed = seq
        .submit(Change::PerformDraw {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            contribution: Vec::new(),
        })
        .await
        .expect("the accepted freeze kept its seed");
    assert!(matches!(performed.entry.body, Body::DrawPerformed(_)));
    drop(seq);
    h.finish().await;
}

/// A freeze that was never published (its tiles failed) leaves its seed
/// stored; the next freeze of that draw uses that seed again, so nobody
/// who reads the database and can stop a batch gets a second roll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_that_never_published_is_retried_with_the_same_seed() {
    let h = Harness::new();
    let (store, seq) = start(&h).await.unwrap();
    let raffle = ready_to_freeze(&h, &seq).await;
    let freeze = Change::FreezeDraw {
        raffle: raffle.clone(),
        draw: "main".parse().unwrap(),
    };
    h.plan.arm(Call::WriteTiles, Fault::Before, 1);
    assert!(seq.submit(freeze.clone()).await.is_err(), "not published");
    h.plan.disarm();
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT seed FROM draw_seeds WHERE raffle_id = $1::uuid")
            .bind(&raffle)
            .fetch_one(&store.pool)
            .await
            .expect("the seed was committed before publishing");
    let Body::DrawFrozen(f) = once_recovered(&seq, freeze, "the retried freeze")
        .await
        .entry
        .body
    else {
        panic!("not a freeze")
    };
    let seed: [u8; 32] = stored.as_slice().try_into().unwrap();
    assert_eq!(
        f.seed_sha256.0,
        raffle_core::draw::seed_commitment(&seed),
        "the retried freeze commits to the seed stored the first time"
    );
    drop(seq);
    h.finish().await;
}
