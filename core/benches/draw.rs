//! A draw over ten million draw numbers (1,000,000 sales of 10): how long
//! freezing (eligible count and hash) and performing (seed to winner, and the
//! ledger's own check of the result) take.
//!
//!     cargo bench -p raffle-core --bench draw

use raffle_core::draw::{DrawRng, new_seed, seed_commitment, select};
use raffle_core::entry::*;
use raffle_core::ledger::Ledger;
use raffle_core::{Currency, Money, Timestamp};
use std::time::Instant;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let staff: raffle_core::ids::StaffId = "s_0000000000000001".parse().expect("staff id");
    let Body::RaffleCreated(created) = &examples()[1].body else {
        unreachable!()
    };
    let mut config = created.config.clone();
    config.max_tickets = None;
    config.draws.remove(0);
    let raffle = raffle_core::ids::RaffleId::new_random();
    let mut ledger = Ledger::new();
    let mut now = Timestamp::parse("2026-12-01T14:00:00.000000Z").unwrap();
    let apply = |ledger: &mut Ledger, now: Timestamp, body: Body| {
        ledger.apply(&Entry::new(now, body)).unwrap()
    };
    apply(
        &mut ledger,
        now,
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config,
            by: staff.clone(),
        }),
    );
    apply(
        &mut ledger,
        now,
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff.clone(),
            payment_account: None,
        }),
    );
    let sales = 1_000_000u64;
    let start = Instant::now();
    for i in 0..sales {
        apply(
            &mut ledger,
            now,
            Body::Sale(Sale {
                raffle: raffle.clone(),
                sale: uuid_like(i),
                package: "p10".parse().unwrap(),
                quantity: 1,
                numbers: NumberRange {
                    first: U64(1 + i * 10),
                    count: U64(10),
                },
                price: Money::new(2000, Currency::CAD),
                channel: Channel::Online,
                rsu: None,
                stamped: now,
                validation: Digest32([0; 32]),
                device: None,
            }),
        );
    }
    println!(
        "sales applied={sales} numbers={} seconds={:.3}",
        sales * 10,
        start.elapsed().as_secs_f64()
    );
    now = Timestamp::parse("2026-12-21T00:00:00.000000Z").unwrap();
    let r = ledger.raffle(&raffle).unwrap();
    let (gross, n_sales) = (r.gross, r.sale_count() as u64);
    apply(
        &mut ledger,
        now,
        Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }),
    );
    apply(
        &mut ledger,
        now,
        Body::ReconciliationAcknowledged(ReconciliationAcknowledged {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            sales: U64(n_sales),
            gross,
            voids: U64(0),
            voided: Money::zero(Currency::CAD),
            refunded: Money::zero(Currency::CAD),
            requested_by: staff.clone(),
            approved_by: "s_0000000000000002".parse().unwrap(),
        }),
    );

    let seed = new_seed().unwrap();
    let start = Instant::now();
    let r = ledger.raffle(&raffle).unwrap();
    let (n, hash) = r.eligible_digest("main").unwrap();
    let prize = r.draw_prize("main").unwrap();
    let frozen_index = ledger.size();
    apply(
        &mut ledger,
        now,
        Body::DrawFrozen(DrawFrozen {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            n: U64(n),
            eligible_sha256: hash,
            seed_sha256: Digest32(seed_commitment(&seed)),
            prize,
        }),
    );
    // Freezing computes the set once to build the entry and once more when the ledger checks it.
    println!("freeze n={n} seconds={:.3}", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let sel = select(&mut DrawRng::new(&seed, b""), n).unwrap();
    let (winner, sale) = ledger
        .raffle(&raffle)
        .unwrap()
        .nth_eligible("main", sel.index)
        .unwrap();
    apply(
        &mut ledger,
        now,
        Body::DrawPerformed(DrawPerformed {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            frozen: U64(frozen_index),
            seed: HexBytes(seed.to_vec()),
            contribution: HexBytes(vec![]),
            raw: sel.raw,
            index: U64(sel.index),
            winner: U64(winner),
            sale,
            redraw: None,
        }),
    );
    println!(
        "perform n={n} winner={winner} seconds={:.3}",
        start.elapsed().as_secs_f64()
    );
}

fn uuid_like(i: u64) -> raffle_core::ids::SaleId {
    raffle_core::ids::SaleId::parse(&format!("00000000-0000-4000-8000-{i:012x}"))
        .expect("a sale id")
}
