//! Writes a large, valid raffle log for measuring `raffle-audit log`:
//! raffles one after another, each created, opened, sold (`--sales` sales
//! of 3 numbers, one in a thousand voided by two people), closed at its end
//! time, reconciled, frozen, drawn and claimed, until `--entries` entries.
//! Every entry is checked by the server's own ledger before it is written,
//! so the log is one `raffled` could have written; entry times are
//! synthetic (one millisecond apart) so the log is reproducible in shape.
//!
//! ```text
//! cargo run --release -p raffle-audit --example make-log -- --entries 1000000 --out /tmp/log1m
//! ```
//! prints the vkey to pass to `raffle-audit log /tmp/log1m --vkey ...`.

use clap::Parser;
use raffle_core::Timestamp;
use raffle_core::entry::*;
use raffle_core::ledger::Ledger;
use raffle_core::validation::ValidationNumber;
use transparency::NoteSigner;
use transparency::key::ALG_ED25519;
use transparency::store::{Appender, DirStorage};

#[derive(Parser)]
struct Args {
    /// Entries to write (at least).
    #[arg(long)]
    entries: u64,
    /// Sales per raffle.
    #[arg(long, default_value_t = 100_000)]
    sales: u64,
    /// Directory to write the log into (created).
    #[arg(long)]
    out: std::path::PathBuf,
}

const ORIGIN: &str = "bench.example/log";

struct Writer {
    ledger: Ledger,
    pending: Vec<Vec<u8>>,
    appender: Appender<DirStorage>,
    time: i64,
    written: u64,
}

impl Writer {
    fn push(&mut self, body: Body) -> (u64, Vec<u8>) {
        self.time += 1_000;
        let entry = Entry::new(Timestamp::from_micros(self.time), body);
        self.ledger.apply(&entry).expect("a valid entry");
        let bytes = entry.to_bytes().unwrap();
        let index = self.written;
        self.pending.push(bytes.clone());
        self.written += 1;
        if self.pending.len() == 1000 {
            self.flush();
        }
        (index, bytes)
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.appender.append(&self.pending).unwrap();
            self.pending.clear();
        }
    }
}

fn main() {
    let args = Args::parse();
    let key = NoteSigner::generate(ORIGIN, ALG_ED25519).unwrap();
    let mut w = Writer {
        ledger: Ledger::new(),
        pending: Vec::new(),
        appender: Appender::create(DirStorage::new(&args.out, false).unwrap()),
        time: Timestamp::parse("2026-01-01T00:00:00.000000Z")
            .unwrap()
            .as_micros(),
        written: 0,
    };
    let staff = raffle_core::ids::StaffId::new_random().unwrap();
    let approver = raffle_core::ids::StaffId::new_random().unwrap();
    let Some(Body::RaffleCreated(example)) = examples().into_iter().nth(1).map(|e| e.body) else {
        panic!("the second example is raffle.created")
    };
    w.push(Body::SoftwareStarted(SoftwareStarted {
        program: "make-log".into(),
        version: "0.1.0".into(),
        sha256: Digest32([0; 32]),
    }));
    while w.written < args.entries {
        let raffle = raffle_core::ids::RaffleId::new_random();
        let mut config = example.config.clone();
        let start = w.time;
        let at = |micros: i64| Timestamp::from_micros(micros);
        config.sales_start = at(start);
        config.sales_end =
            at(start + (args.sales as i64 + args.sales as i64 / 1000 + 1_000) * 1_000);
        config.draws.remove(0);
        config.draws[0].cutoff = config.sales_end;
        config.draws[0].draw_at = config.sales_end;
        config.max_tickets = None;
        w.push(Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config: config.clone(),
            by: staff.clone(),
        }));
        w.push(Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff.clone(),
            payment_account: None,
        }));
        let mut numbers = 1u64;
        let mut tickets: Vec<(String, ValidationNumber)> = Vec::with_capacity(args.sales as usize);
        for n in 0..args.sales {
            let sale = raffle_core::ids::SaleId::new_order();
            let vn = ValidationNumber::generate().unwrap();
            w.push(Body::Sale(Sale {
                raffle: raffle.clone(),
                sale: sale.clone(),
                package: "p3".parse().unwrap(),
                quantity: 1,
                numbers: NumberRange {
                    first: U64(numbers),
                    count: U64(3),
                },
                price: config.packages[1].price,
                channel: Channel::Online,
                rsu: None,
                stamped: Timestamp::from_micros(w.time),
                validation: Digest32(vn.commitment(&raffle)),
                device: None,
            }));
            numbers += 3;
            if n % 1000 == 999 {
                w.push(Body::SaleVoided(SaleVoided {
                    raffle: raffle.clone(),
                    sale: sale.clone(),
                    reason: VoidReason::BuyerRequest,
                    refund: true,
                    requested_by: staff.clone(),
                    approved_by: approver.clone(),
                }));
            }
            tickets.push((sale.to_string(), vn));
        }
        w.time = config.sales_end.as_micros();
        w.push(Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }));
        let r = w.ledger.raffle(&raffle).unwrap();
        let f = r.reconciliation_figures("main").unwrap();
        w.push(Body::ReconciliationAcknowledged(
            ReconciliationAcknowledged {
                raffle: raffle.clone(),
                draw: "main".parse().unwrap(),
                sales: U64(f.sales),
                gross: f.gross,
                voids: U64(f.voids),
                voided: f.voided,
                refunded: f.refunded,
                requested_by: staff.clone(),
                approved_by: approver.clone(),
            },
        ));
        let r = w.ledger.raffle(&raffle).unwrap();
        let (n, eligible) = r.eligible_digest("main").unwrap();
        let prize = r.draw_prize("main").unwrap();
        let seed = raffle_core::draw::new_seed().unwrap();
        w.push(Body::DrawFrozen(DrawFrozen {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            n: U64(n),
            eligible_sha256: eligible,
            seed_sha256: Digest32(raffle_core::draw::seed_commitment(&seed)),
            prize,
        }));
        let performed = w
            .ledger
            .raffle(&raffle)
            .unwrap()
            .performance("main", &seed, &[], None)
            .unwrap();
        let winner = performed.sale.clone();
        let number = performed.winner;
        w.push(Body::DrawPerformed(performed));
        let vn = &tickets.iter().find(|(s, _)| *s == winner).unwrap().1;
        w.push(Body::ClaimPaid(ClaimPaid {
            raffle: raffle.clone(),
            draw: "main".parse().unwrap(),
            sale: winner,
            number,
            validation_number: vn.to_text(),
            prize,
            paperwork: true,
            by: staff.clone(),
            supervised_by: None,
        }));
    }
    w.flush();
    let note = w.appender.checkpoint(ORIGIN).sign(&key).unwrap();
    w.appender.publish_checkpoint(&note).unwrap();
    eprintln!("{} entries written to {}", w.written, args.out.display());
    println!("{}", key.verifier().vkey());
}
