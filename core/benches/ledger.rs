//! The ledger under a stream of sales, as the sequencer applies them while
//! holding it: the total time and the slowest single apply (any pause here
//! holds every buyer of the batch). `cargo bench -p raffle-core --bench
//! ledger`; `LEDGER_BENCH_SALES` sets the count (default 1,000,000). Uses
//! raffled's allocator (mimalloc), whose reallocations copy.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use raffle_core::entry::*;
use raffle_core::ledger::Ledger;
use raffle_core::{Currency, Money, Timestamp};
use std::time::{Duration, Instant};

fn main() {
    // Only under `cargo bench` (which passes --bench): test runners list and
    // run bench targets too.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let count: u64 = std::env::var("LEDGER_BENCH_SALES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let Body::RaffleCreated(created) = &examples()[1].body else {
        unreachable!("the second example is raffle.created")
    };
    let mut config = created.config.clone();
    config.max_tickets = None;
    let raffle = raffle_core::ids::RaffleId::new_random();
    let staff: raffle_core::ids::StaffId = "s_0000000000000001".parse().expect("staff id");
    let mut ledger = Ledger::new();
    let t = Timestamp::parse("2026-11-30T00:00:00.000000Z").expect("time");
    ledger
        .apply(&Entry::new(
            t,
            Body::RaffleCreated(RaffleCreated {
                raffle: raffle.clone(),
                config,
                by: staff.clone(),
            }),
        ))
        .expect("created");
    let t = Timestamp::parse("2026-12-01T15:00:00.000000Z").expect("time");
    ledger
        .apply(&Entry::new(
            t,
            Body::RaffleOpened(RaffleOpened {
                raffle: raffle.clone(),
                by: staff,
                payment_account: None,
            }),
        ))
        .expect("opened");
    let mut slowest = (Duration::ZERO, 0);
    let mut total = Duration::ZERO;
    for i in 0..count {
        let sale = Entry::new(
            t,
            Body::Sale(Sale {
                raffle: raffle.clone(),
                sale: raffle_core::ids::SaleId::new_order(),
                package: "p10".parse().unwrap(),
                quantity: 1,
                numbers: NumberRange {
                    first: U64(1 + i * 10),
                    count: U64(10),
                },
                price: Money::new(2000, Currency::CAD),
                channel: Channel::Online,
                rsu: None,
                stamped: t,
                validation: Digest32([7; 32]),
                device: None,
            }),
        );
        let started = Instant::now();
        ledger.apply(&sale).expect("a valid sale");
        let took = started.elapsed();
        total += took;
        if took > slowest.0 {
            slowest = (took, i);
        }
    }
    // The live jackpot the raffle page asks for every 2 s per viewer.
    let r = ledger.raffles().next().expect("the raffle");
    let started = Instant::now();
    let rounds = 1000;
    for _ in 0..rounds {
        std::hint::black_box(r.jackpot());
    }
    let jackpot = started.elapsed() / rounds;
    println!(
        "sales={count} apply_total_ms={} slowest_apply_us={} slowest_at_sale={} jackpot_ns={}",
        total.as_millis(),
        slowest.0.as_micros(),
        slowest.1,
        jackpot.as_nanos()
    );
}
