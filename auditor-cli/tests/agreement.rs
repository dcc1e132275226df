//! The server's ledger and the auditor, written independently (only the
//! entry schema and the draw algorithm are shared), agree on random
//! raffles: the auditor finds nothing wrong in a log the ledger built and
//! accepted, finds something wrong in every entry the ledger refused, and
//! reports the same eligible counts, prizes, winners, claims and totals.
//! Eligible *sets* agree through the `draw.frozen` digest, which the
//! auditor recomputes from its own bookkeeping.
//!
//! The property can fail: a bug planted in either one
//! (`raffle_core::mutants`, a test-only feature) is caught.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use raffle_audit::rules::{Audit, Lookup};
use raffle_core::entry::*;
use raffle_core::ledger::Ledger;
use raffle_core::mutants::{Mutant, plant};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Currency, Money, Timestamp};

const ORIGIN: &str = "example.org/log";
const STAFF: &str = "s_0000000000000001";
const APPROVER: &str = "s_0000000000000002";

fn cad(minor: u64) -> Money {
    Money::new(minor, Currency::CAD)
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_micros(1_767_225_600_000_000 + secs * 1_000_000)
}

/// What one random raffle does.
#[derive(Clone, Debug)]
struct Plan {
    early_bird: bool,
    wins: WinRule,
    share_bps: u32,
    cap: Option<u64>,
    /// (second 0..20, package, quantity) sales and (second, which, refund) voids.
    ops: Vec<Op>,
    /// Redraws (the winner found ineligible) of the early bird and the main draw.
    redraws: [u8; 2],
    claims: [bool; 2],
}

#[derive(Clone, Debug)]
enum Op {
    Sale { at: u8, package: u8, quantity: u8 },
    Void { at: u8, which: u16, refund: bool },
}

fn plans() -> impl Strategy<Value = Plan> {
    let op = prop_oneof![
        3 => (0u8..20, 0u8..3, 1u8..4).prop_map(|(at, package, quantity)| Op::Sale { at, package, quantity }),
        1 => (0u8..21, any::<u16>(), any::<bool>()).prop_map(|(at, which, refund)| Op::Void { at, which, refund }),
    ];
    (
        any::<bool>(),
        prop_oneof![
            Just(WinRule::Unlimited),
            Just(WinRule::NumberOnce),
            Just(WinRule::SaleOnce)
        ],
        1000u32..6000,
        proptest::option::of(100u64..5000),
        proptest::collection::vec(op, 0..40),
        (0u8..3, 0u8..3),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(early_bird, wins, share_bps, cap, mut ops, redraws, claims)| {
                ops.sort_by_key(|o| match o {
                    Op::Sale { at, .. } | Op::Void { at, .. } => *at,
                });
                Plan {
                    early_bird,
                    wins,
                    share_bps,
                    cap,
                    ops,
                    redraws: [redraws.0, redraws.1],
                    claims: [claims.0, claims.1],
                }
            },
        )
}

/// A log built by the ledger: the entries it accepted, and the ones it
/// refused (with the number of accepted entries before each).
struct Log {
    ledger: Ledger,
    entries: Vec<Entry>,
    refused: Vec<(usize, Entry)>,
    raffle: raffle_core::ids::RaffleId,
    sales: Vec<(raffle_core::ids::SaleId, ValidationNumber)>,
}

impl Log {
    fn push(&mut self, time: Timestamp, body: Body) -> bool {
        let e = Entry::new(time, body);
        match self.ledger.apply(&e) {
            Ok(()) => {
                self.entries.push(e);
                true
            }
            Err(_) => {
                self.refused.push((self.entries.len(), e));
                false
            }
        }
    }

    fn state(&self) -> &raffle_core::ledger::RaffleState {
        self.ledger.raffle(&self.raffle).expect("the raffle")
    }

    /// Reconciles, freezes and performs `draw` at `at`, then redraws it.
    fn draw(&mut self, draw: &str, at: Timestamp, redraws: u8) {
        let Ok(f) = self.state().reconciliation_figures(draw) else {
            return;
        };
        let raffle = self.raffle.clone();
        self.push(
            at,
            Body::ReconciliationAcknowledged(ReconciliationAcknowledged {
                raffle: raffle.clone(),
                draw: draw.parse().unwrap(),
                sales: U64(f.sales),
                gross: f.gross,
                voids: U64(f.voids),
                voided: f.voided,
                refunded: f.refunded,
                requested_by: STAFF.parse().unwrap(),
                approved_by: APPROVER.parse().unwrap(),
            }),
        );
        let (Ok((n, eligible)), Ok(prize)) = (
            self.state().eligible_digest(draw),
            self.state().draw_prize(draw),
        ) else {
            return;
        };
        let seed = raffle_core::draw::new_seed().unwrap();
        let frozen = self.push(
            at,
            Body::DrawFrozen(DrawFrozen {
                raffle: raffle.clone(),
                draw: draw.parse().unwrap(),
                n: U64(n),
                eligible_sha256: eligible,
                seed_sha256: Digest32(raffle_core::draw::seed_commitment(&seed)),
                prize,
            }),
        );
        if !frozen {
            return;
        }
        for k in 0..=redraws {
            let redraw = (k > 0).then(|| Redraw {
                reason: RedrawReason::WinnerIneligible,
                requested_by: STAFF.parse().unwrap(),
                approved_by: APPROVER.parse().unwrap(),
            });
            match self.state().performance(draw, &seed, &[], redraw) {
                Ok(p) => {
                    self.push(at, Body::DrawPerformed(p));
                }
                Err(_) => return,
            }
        }
    }

    fn claim(&mut self, draw: &str, at: Timestamp) {
        let Some(state) = self.state().draws.get(draw) else {
            return;
        };
        let (Some(w), Some(f)) = (&state.winner, &state.frozen) else {
            return;
        };
        let (sale, number, prize) = (w.sale.clone(), w.number, f.prize);
        let vn = self.sales.iter().find(|(s, _)| *s == sale).unwrap().1;
        let supervised_by = self
            .state()
            .revealed
            .contains_key(&sale)
            .then(|| APPROVER.parse().unwrap());
        let raffle = self.raffle.clone();
        self.push(
            at,
            Body::ClaimPaid(ClaimPaid {
                raffle,
                draw: draw.parse().unwrap(),
                sale,
                number: U64(number),
                validation_number: vn.to_text(),
                prize,
                paperwork: true,
                by: STAFF.parse().unwrap(),
                supervised_by,
            }),
        );
    }
}

fn config(plan: &Plan) -> RaffleConfig {
    let mut c = testkit::raffles::two_draws(t(0), t(10), t(20));
    c.draws[1].prize = Prize::Share {
        share_bps: plan.share_bps,
        cap: plan.cap.map(cad),
    };
    if !plan.early_bird {
        c.draws.remove(0);
    }
    c.wins = plan.wins;
    c.claims.window_days = 1;
    c
}

fn build(plan: &Plan) -> Log {
    let mut log = Log {
        ledger: Ledger::new(),
        entries: Vec::new(),
        refused: Vec::new(),
        raffle: raffle_core::ids::RaffleId::new_random(),
        sales: Vec::new(),
    };
    let config = config(plan);
    let raffle = log.raffle.clone();
    log.push(
        t(0),
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config: config.clone(),
            by: STAFF.parse().unwrap(),
        }),
    );
    log.push(
        t(0),
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: STAFF.parse().unwrap(),
            payment_account: Some(raffle_core::entry::Digest32([7; 32])),
        }),
    );
    let mut early_done = !plan.early_bird;
    for op in &plan.ops {
        let at = match op {
            Op::Sale { at, .. } | Op::Void { at, .. } => i64::from(*at),
        };
        if !early_done && at >= 10 {
            log.draw("early-bird", t(10), plan.redraws[0]);
            early_done = true;
        }
        match *op {
            Op::Sale {
                package, quantity, ..
            } => {
                let p = &config.packages[usize::from(package) % config.packages.len()];
                let sale = raffle_core::ids::SaleId::new_order();
                let vn = ValidationNumber::generate().unwrap();
                let count = u64::from(p.tickets) * u64::from(quantity);
                let first = log.state().next_number;
                let sold = log.push(
                    t(at),
                    Body::Sale(Sale {
                        raffle: raffle.clone(),
                        sale: sale.clone(),
                        package: p.id.clone(),
                        quantity: u32::from(quantity),
                        numbers: NumberRange {
                            first: U64(first),
                            count: U64(count),
                        },
                        price: Money::new(p.price.minor * u64::from(quantity), p.price.currency),
                        channel: Channel::Online,
                        rsu: None,
                        stamped: t(at),
                        validation: Digest32(vn.commitment(&raffle)),
                        device: None,
                    }),
                );
                if sold {
                    log.sales.push((sale, vn));
                }
            }
            Op::Void { which, refund, .. } => {
                if log.sales.is_empty() {
                    continue;
                }
                let sale = log.sales[usize::from(which) % log.sales.len()].0.clone();
                log.push(
                    t(at),
                    Body::SaleVoided(SaleVoided {
                        raffle: raffle.clone(),
                        sale,
                        reason: VoidReason::BuyerRequest,
                        refund,
                        requested_by: STAFF.parse().unwrap(),
                        approved_by: APPROVER.parse().unwrap(),
                    }),
                );
            }
        }
    }
    if !early_done {
        log.draw("early-bird", t(10), plan.redraws[0]);
    }
    log.push(
        t(20),
        Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }),
    );
    log.draw("main", t(21), plan.redraws[1]);
    if plan.early_bird && plan.claims[0] {
        log.claim("early-bird", t(22));
    }
    if plan.claims[1] {
        log.claim("main", t(23));
    }
    log
}

struct Mem(Vec<Vec<u8>>);

impl Lookup for Mem {
    fn entry(&self, index: u64) -> Result<Vec<u8>, String> {
        self.0
            .get(index as usize)
            .cloned()
            .ok_or_else(|| "no such entry".into())
    }
}

fn audit(entries: &[Entry]) -> Audit {
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    let mem = Mem(bytes.clone());
    let mut a = Audit::new(ORIGIN, Vec::new());
    for (i, b) in bytes.iter().enumerate() {
        a.apply(i as u64, b, &mem);
    }
    a
}

/// Where the ledger and the auditor disagree about `log`, if anywhere.
fn disagreement(log: &Log) -> Option<String> {
    let a = audit(&log.entries);
    if let Some(v) = a.violations.first() {
        return Some(format!(
            "the auditor rejects a log the ledger accepted: {v}"
        ));
    }
    for (before, e) in &log.refused {
        let mut entries = log.entries[..*before].to_vec();
        entries.push(e.clone());
        if audit(&entries).violations.is_empty() {
            return Some(format!(
                "the ledger refused a {} at leaf {before} that the auditor accepts",
                e.kind()
            ));
        }
    }
    let summary = a
        .summaries()
        .into_iter()
        .find(|s| s.id == log.raffle)
        .expect("the auditor's summary");
    let r = log.state();
    let sales = r.sales().count() as u64;
    let voids = r.sales().filter(|s| s.voided).count() as u64;
    if (
        summary.sales,
        summary.voids,
        summary.net_minor,
        summary.gross_minor,
    ) != (sales, voids, r.net.minor, r.gross.minor)
    {
        return Some(format!(
            "totals: auditor {} sales, {} voids, net {}, gross {}; ledger {sales}, {voids}, {}, {}",
            summary.sales,
            summary.voids,
            summary.net_minor,
            summary.gross_minor,
            r.net.minor,
            r.gross.minor
        ));
    }
    for d in &summary.draws {
        let state = r.draws.get(d.id.as_str()).cloned().unwrap_or_default();
        let ledger = (
            state.frozen.as_ref().map(|f| f.n),
            state.frozen.as_ref().map(|f| f.prize.minor),
            state.winner.as_ref().map(|w| w.number),
            state.claimed,
        );
        let auditor = (d.eligible, d.prize_minor, d.winner, d.claimed);
        if ledger != auditor {
            return Some(format!(
                "draw {}: ledger (eligible, prize, winner, claimed) {ledger:?}, auditor {auditor:?}",
                d.id
            ));
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_ledger_and_the_auditor_agree_on_random_raffles(plan in plans()) {
        let log = build(&plan);
        if let Some(why) = disagreement(&log) {
            prop_assert!(false, "{why}\n{plan:#?}");
        }
    }
}

/// Plans `mutant`, then looks for a random raffle on which the two
/// disagree; the first found, if any.
fn caught(mutant: Mutant) -> Option<String> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = plans();
    plant(Some(mutant));
    let found = (0..300).find_map(|_| {
        let plan = strategy.new_tree(&mut runner).unwrap().current();
        disagreement(&build(&plan))
    });
    plant(None);
    found
}

#[test]
fn a_bug_planted_in_the_ledger_or_the_auditor_is_caught() {
    for mutant in [
        Mutant::LedgerEligibleKeepsVoids,
        Mutant::LedgerRedrawRepeatsNumbers,
        Mutant::AuditEligibleKeepsVoids,
        Mutant::AuditRedrawRepeatsNumbers,
    ] {
        let why = caught(mutant).unwrap_or_else(|| panic!("{mutant:?} was not caught"));
        println!("{mutant:?}: {why}");
    }
}
