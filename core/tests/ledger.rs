//! The raffle rules of the ledger: every lifecycle transition, allowed and
//! refused, and the GLI-31 sections they implement.

use raffle_core::draw::{DrawRng, new_seed, seed_commitment, select};
use raffle_core::entry::*;
use raffle_core::ledger::{Ledger, Status};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Currency, Error, Money, Refusal, Timestamp};

const STAFF: &str = "s_0000000000000001";
const APPROVER: &str = "s_0000000000000002";

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn cad(m: u64) -> Money {
    Money::new(m, Currency::CAD)
}

fn config() -> RaffleConfig {
    example_config()
}

struct World {
    ledger: Ledger,
    raffle: raffle_core::ids::RaffleId,
    now: Timestamp,
}

impl World {
    fn new() -> World {
        let mut w = World {
            ledger: Ledger::new(),
            raffle: raffle_core::ids::RaffleId::new_random(),
            now: t("2026-11-30T00:00:00.000000Z"),
        };
        let body = Body::RaffleCreated(RaffleCreated {
            raffle: w.raffle.clone(),
            config: config(),
            by: STAFF.parse().unwrap(),
        });
        w.apply(body).unwrap();
        w
    }

    fn at(&mut self, s: &str) -> &mut Self {
        self.now = t(s);
        self
    }

    fn apply(&mut self, body: Body) -> raffle_core::Result<()> {
        self.ledger.apply(&Entry::new(self.now, body))
    }

    fn open(&mut self) -> raffle_core::Result<()> {
        self.apply(Body::RaffleOpened(RaffleOpened {
            raffle: self.raffle.clone(),
            by: STAFF.parse().unwrap(),
            payment_account: None,
        }))
    }

    fn sell(
        &mut self,
        package: &str,
        quantity: u32,
    ) -> raffle_core::Result<raffle_core::ids::SaleId> {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let p = r
            .config
            .packages
            .iter()
            .find(|p| p.id == package)
            .unwrap()
            .clone();
        let sale = raffle_core::ids::SaleId::new_order();
        let vn = ValidationNumber::generate().unwrap();
        self.apply(Body::Sale(Sale {
            raffle: self.raffle.clone(),
            sale: sale.clone(),
            package: package.parse().unwrap(),
            quantity,
            numbers: NumberRange {
                first: U64(r.next_number),
                count: U64(u64::from(p.tickets) * u64::from(quantity)),
            },
            price: Money::new(p.price.minor * u64::from(quantity), Currency::CAD),
            channel: Channel::Online,
            rsu: None,
            stamped: self.now,
            validation: Digest32(vn.commitment(&self.raffle)),
            device: None,
        }))?;
        Ok(sale)
    }

    fn void(&mut self, sale: &str, by: &str, approver: &str) -> raffle_core::Result<()> {
        self.apply(Body::SaleVoided(SaleVoided {
            raffle: self.raffle.clone(),
            sale: sale.parse().unwrap(),
            reason: VoidReason::BuyerRequest,
            refund: true,
            requested_by: by.parse().unwrap(),
            approved_by: approver.parse().unwrap(),
        }))
    }

    fn reconcile(&mut self, draw: &str) -> raffle_core::Result<()> {
        let f = self
            .ledger
            .raffle(&self.raffle)
            .unwrap()
            .reconciliation_figures(draw)?;
        self.apply(Body::ReconciliationAcknowledged(
            ReconciliationAcknowledged {
                raffle: self.raffle.clone(),
                draw: draw.parse().unwrap(),
                sales: U64(f.sales),
                gross: f.gross,
                voids: U64(f.voids),
                voided: f.voided,
                refunded: f.refunded,
                requested_by: STAFF.parse().unwrap(),
                approved_by: APPROVER.parse().unwrap(),
            },
        ))
    }

    fn freeze(&mut self, draw: &str, seed: &[u8; 32]) -> raffle_core::Result<u64> {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let (n, hash) = r.eligible_digest(draw)?;
        let prize = r.draw_prize(draw)?;
        let index = self.ledger.size();
        self.apply(Body::DrawFrozen(DrawFrozen {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            n: U64(n),
            eligible_sha256: hash,
            seed_sha256: Digest32(seed_commitment(seed)),
            prize,
        }))?;
        Ok(index)
    }

    fn perform(
        &mut self,
        draw: &str,
        frozen: u64,
        seed: &[u8; 32],
    ) -> raffle_core::Result<DrawPerformed> {
        let p = self.perform_entry(draw, frozen, seed);
        self.apply(Body::DrawPerformed(p.clone()))?;
        Ok(p)
    }

    /// A first performance, computed the way the rules say (independently
    /// of `next_winner`).
    fn perform_entry(&self, draw: &str, frozen: u64, seed: &[u8; 32]) -> DrawPerformed {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let n = r.draws[draw].frozen.as_ref().map(|f| f.n).unwrap_or(1);
        let sel = select(&mut DrawRng::new(seed, b""), n).unwrap();
        let (winner, sale) = r.nth_eligible(draw, sel.index).unwrap();
        DrawPerformed {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            frozen: U64(frozen),
            seed: HexBytes(seed.to_vec()),
            contribution: HexBytes(vec![]),
            raw: sel.raw,
            index: U64(sel.index),
            winner: U64(winner),
            sale,
            redraw: None,
        }
    }

    fn status(&self) -> Status {
        self.ledger.raffle(&self.raffle).unwrap().status
    }
}

/// The refusal a rule answered `r` with.
fn refusal(r: raffle_core::Result<impl std::fmt::Debug>) -> Refusal {
    match r.expect_err("should be refused") {
        Error::Refused(refusal) => refusal,
        other => panic!("{other:?} is not a rule's refusal"),
    }
}

/// Asserts that `r` was refused by the rule of that (stable) code.
fn refused(r: raffle_core::Result<impl std::fmt::Debug>, code: &str) {
    let refusal = refusal(r);
    assert_eq!(refusal.code(), code, "{refusal:?}");
}

#[test]
fn lifecycle_transitions_allowed_and_refused() {
    let mut w = World::new();
    assert_eq!(w.status(), Status::Draft);
    // No sale in a draft (GLI-31 2.6.2).
    w.at("2026-12-01T15:00:00.000000Z");
    assert_eq!(
        refusal(w.sell("p1", 1)),
        Refusal::RaffleNotOnSale {
            raffle: w.raffle.to_string(),
            status: "draft".into()
        }
    );
    // The configuration may change while a draft...
    let old = config();
    let mut new = old.clone();
    new.packages[0].price = cad(600);
    w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
        raffle: w.raffle.clone(),
        old: old.clone(),
        new: new.clone(),
        by: STAFF.parse().unwrap(),
    })))
    .unwrap();
    // ...but only from its current value.
    refused(
        w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
            raffle: w.raffle.clone(),
            old: old.clone(),
            new: old.clone(),
            by: STAFF.parse().unwrap(),
        }))),
        "stale_configuration",
    );
    w.open().unwrap();
    assert_eq!(
        refusal(w.open()),
        Refusal::RaffleNotDraft {
            raffle: w.raffle.to_string(),
            status: "open".into()
        }
    );
    // GLI-31 2.2.3: frozen once open.
    refused(
        w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
            raffle: w.raffle.clone(),
            old: new.clone(),
            new: old,
            by: STAFF.parse().unwrap(),
        }))),
        "configuration_frozen",
    );
    w.sell("p1", 1).unwrap();
    // Closing at the end time before it is reached is refused; an operator may close early.
    refused(
        w.apply(Body::RaffleClosed(RaffleClosed {
            raffle: w.raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        })),
        "end_time_not_reached",
    );
    w.apply(Body::RaffleClosed(RaffleClosed {
        raffle: w.raffle.clone(),
        reason: CloseReason::Operator,
        by: Some(STAFF.parse().unwrap()),
    }))
    .unwrap();
    assert_eq!(w.status(), Status::Closed);
    assert_eq!(
        refusal(w.sell("p1", 1)),
        Refusal::RaffleNotOnSale {
            raffle: w.raffle.to_string(),
            status: "closed".into()
        }
    );
    refused(
        w.apply(Body::RaffleClosed(RaffleClosed {
            raffle: w.raffle.clone(),
            reason: CloseReason::Operator,
            by: None,
        })),
        "raffle_not_open",
    );
    // Entry times never go backwards.
    w.at("2026-12-01T14:59:00.000000Z");
    refused(
        w.apply(Body::SoftwareStarted(SoftwareStarted {
            program: "raffled".into(),
            version: "1".into(),
            sha256: Digest32([0; 32]),
        })),
        "entry_time_before_previous",
    );
}

#[test]
fn sales_follow_the_window_the_packages_and_the_ticket_maximum() {
    let mut w = World::new();
    w.at("2026-11-30T12:00:00.000000Z").open().unwrap();
    // GLI-31 2.2.2: not before the start.
    refused(w.sell("p1", 1), "outside_sales_window");
    w.at("2026-12-01T14:00:00.000000Z");
    let a = w.sell("p10", 2).unwrap();
    let b = w.sell("p3", 1).unwrap();
    let r = w.ledger.raffle(&w.raffle).unwrap();
    // GLI-31 3.2.1: consecutive, unique numbers.
    assert_eq!(
        (r.sale(&a).unwrap().first, r.sale(&a).unwrap().count),
        (1, 20)
    );
    assert_eq!(
        (r.sale(&b).unwrap().first, r.sale(&b).unwrap().count),
        (21, 3)
    );
    assert_eq!(r.gross, cad(5000));
    // A sale claiming other numbers or another price is refused.
    let mut bad = Sale {
        raffle: w.raffle.clone(),
        sale: raffle_core::ids::SaleId::new_order(),
        package: "p1".parse().unwrap(),
        quantity: 1,
        numbers: NumberRange {
            first: U64(5),
            count: U64(1),
        },
        price: cad(500),
        channel: Channel::Online,
        rsu: None,
        stamped: w.now,
        validation: Digest32([1; 32]),
        device: None,
    };
    assert_eq!(
        refusal(w.apply(Body::Sale(bad.clone()))),
        Refusal::NotNextNumber { next: 24, first: 5 }
    );
    bad.numbers.first = U64(24);
    bad.price = cad(400);
    refused(w.apply(Body::Sale(bad.clone())), "package_mismatch");
    bad.price = cad(500);
    bad.sale = a.clone();
    assert_eq!(
        refusal(w.apply(Body::Sale(bad))),
        Refusal::SaleExists {
            sale: a.to_string()
        }
    );
    // Not at or after the end time.
    w.at("2026-12-20T23:00:00.000000Z");
    refused(w.sell("p1", 1), "outside_sales_window");
}

#[test]
fn the_last_tickets_go_to_the_first_sequenced_and_no_further() {
    let mut w = World::new();
    let mut c = config();
    c.max_tickets = Some(U64(12));
    let old = config();
    w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
        raffle: w.raffle.clone(),
        old,
        new: c,
        by: STAFF.parse().unwrap(),
    })))
    .unwrap();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    w.sell("p10", 1).unwrap();
    assert_eq!(
        refusal(w.sell("p3", 1)),
        Refusal::NotEnoughTickets { left: 2 }
    );
    w.sell("p1", 1).unwrap();
    w.sell("p1", 1).unwrap();
    assert_eq!(
        refusal(w.sell("p1", 1)),
        Refusal::NotEnoughTickets { left: 0 }
    );
}

#[test]
fn voids_need_two_people_and_voided_numbers_never_win() {
    let mut w = World::new();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    let a = w.sell("p3", 1).unwrap();
    let b = w.sell("p1", 1).unwrap();
    // GLI-31 5.2.4: requester and approver differ.
    refused(w.void(&a, STAFF, STAFF), "void_needs_second_person");
    w.void(&a, STAFF, APPROVER).unwrap();
    assert_eq!(
        refusal(w.void(&a, STAFF, APPROVER)),
        Refusal::SaleAlreadyVoided {
            sale: a.to_string()
        }
    );
    refused(
        w.void(&raffle_core::ids::SaleId::new_order(), STAFF, APPROVER),
        "no_sale",
    );
    // A voided number is never resold: the next sale gets number 5.
    let c = w.sell("p1", 1).unwrap();
    assert_eq!(
        w.ledger.raffle(&w.raffle).unwrap().sale(&c).unwrap().first,
        5
    );
    // GLI-31 2.6.3: voided numbers are not eligible.
    w.at("2026-12-10T23:00:00.000000Z");
    assert_eq!(
        w.ledger
            .raffle(&w.raffle)
            .unwrap()
            .eligible_numbers("early-bird")
            .unwrap(),
        vec![4, 5]
    );
    let _ = b;
}

#[test]
fn a_draw_needs_reconciliation_and_follows_from_its_seed() {
    let mut w = World::new();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    let mut sales = Vec::new();
    for _ in 0..50 {
        sales.push(w.sell("p3", 1).unwrap());
    }
    w.void(&sales[7], STAFF, APPROVER).unwrap();
    let seed = new_seed().unwrap();
    // Not before the cutoff, nor before reconciliation (GLI-31 2.6.1, 2.6.3).
    refused(w.reconcile("early-bird"), "cutoff_not_passed");
    w.at("2026-12-10T23:00:00.000000Z");
    refused(w.freeze("early-bird", &seed), "draw_not_reconciled");
    w.reconcile("early-bird").unwrap();
    refused(w.reconcile("early-bird"), "draw_already_reconciled");
    // Voids of a reconciled draw's sales are refused.
    assert_eq!(
        refusal(w.void(&sales[8], STAFF, APPROVER)),
        Refusal::VoidAfterReconciliation {
            draw: "early-bird".into()
        }
    );
    let frozen = w.freeze("early-bird", &seed).unwrap();
    refused(w.freeze("early-bird", &seed), "draw_already_frozen");
    // A seed that does not match its commitment, or a winner that does not follow, is refused.
    let other = new_seed().unwrap();
    refused(
        w.perform("early-bird", frozen, &other),
        "seed_commitment_mismatch",
    );
    let p = w.perform("early-bird", frozen, &seed).unwrap();
    assert!(!(22..=24).contains(&p.winner.0), "voided numbers never win");
    refused(
        w.perform("early-bird", frozen, &seed),
        "draw_already_performed",
    );
    // Number-once rule: the early-bird winner is out of the main draw.
    w.at("2026-12-20T23:00:00.000000Z");
    let main = w
        .ledger
        .raffle(&w.raffle)
        .unwrap()
        .eligible_numbers("main")
        .unwrap();
    assert_eq!(main.len(), 146);
    assert!(!main.contains(&p.winner.0));
    // The main prize: half of net sales (49 × $10), minus the $1,000 early bird (from the main prize).
    assert_eq!(
        w.ledger
            .raffle(&w.raffle)
            .unwrap()
            .draw_prize("main")
            .unwrap(),
        cad(0)
    );
    // Claims: the winning sale only, once, for the frozen prize (GLI-31 2.7.1).
    let claim = |sale: &str, number: u64| {
        Body::ClaimPaid(ClaimPaid {
            raffle: w.raffle.clone(),
            draw: "early-bird".parse().unwrap(),
            sale: sale.parse().unwrap(),
            number: U64(number),
            validation_number: ValidationNumber::generate().unwrap().to_text(),
            prize: cad(100_000),
            paperwork: false,
            by: STAFF.parse().unwrap(),
            supervised_by: None,
        })
    };
    let wrong = claim(&sales[0], p.winner.0 + 1);
    let right = claim(&p.sale, p.winner.0);
    refused(w.apply(wrong), "not_the_winning_ticket");
    w.apply(right.clone()).unwrap();
    refused(w.apply(right), "prize_already_paid");
}

#[test]
fn the_prize_is_half_the_net_sales_capped() {
    let mut w = World::new();
    let old = config();
    let mut c = old.clone();
    c.draws.remove(0);
    c.draws[0].prize = Prize::Share {
        share_bps: 5000,
        cap: Some(cad(2_000)),
    };
    w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
        raffle: w.raffle.clone(),
        old,
        new: c,
        by: STAFF.parse().unwrap(),
    })))
    .unwrap();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    let a = w.sell("p10", 1).unwrap(); // $20
    w.sell("p3", 1).unwrap(); // $10
    w.sell("p1", 1).unwrap(); // $5
    let jackpot = |w: &World| w.ledger.raffle(&w.raffle).unwrap().jackpot();
    assert_eq!(jackpot(&w), cad(1_750));
    w.sell("p10", 1).unwrap();
    assert_eq!(jackpot(&w), cad(2_000), "capped (GLI-31 2.2.1)");
    w.void(&a, STAFF, APPROVER).unwrap();
    assert_eq!(jackpot(&w), cad(1_750), "voids are not sales");
}

impl World {
    /// The next performance of a frozen draw as the ledger computes it, with `redraw`.
    fn redraw_entry(&self, draw: &str, redraw: Option<Redraw>) -> DrawPerformed {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let d = &r.draws[draw];
        let p = d.performed.as_ref().unwrap();
        let next = r.next_winner(draw, &p.seed, &p.contribution).unwrap();
        DrawPerformed {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            frozen: U64(d.frozen.as_ref().unwrap().index),
            seed: HexBytes(p.seed.clone()),
            contribution: HexBytes(p.contribution.clone()),
            raw: next.raw,
            index: U64(next.index),
            winner: U64(next.number),
            sale: next.sale,
            redraw,
        }
    }

    fn claim(&self, draw: &str, paperwork: bool) -> Body {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let d = &r.draws[draw];
        let w = d.winner.as_ref().unwrap();
        Body::ClaimPaid(ClaimPaid {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            sale: w.sale.clone(),
            number: U64(w.number),
            validation_number: ValidationNumber::generate().unwrap().to_text(),
            prize: d.frozen.as_ref().unwrap().prize,
            paperwork,
            by: STAFF.parse().unwrap(),
            supervised_by: None,
        })
    }
}

fn redraw(reason: RedrawReason) -> Option<Redraw> {
    Some(Redraw {
        reason,
        requested_by: STAFF.parse().unwrap(),
        approved_by: APPROVER.parse().unwrap(),
    })
}

/// GLI-31 2.6.4 and 2.7.1: a drawn number is set aside only for a listed
/// reason with two people; a redraw continues the same stream and never
/// draws a number twice; claims close with the window; large prizes need
/// paperwork; a redraw of an earlier draw leaves a frozen later draw alone.
#[test]
fn redraws_claim_windows_and_paperwork() {
    let mut w = World::new();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    for _ in 0..4 {
        w.sell("p1", 1).unwrap();
    }
    w.at("2026-12-10T23:00:00.000000Z");
    w.reconcile("early-bird").unwrap();
    let seed = new_seed().unwrap();
    let frozen = w.freeze("early-bird", &seed).unwrap();
    // No redraw before the draw is performed.
    let early = DrawPerformed {
        redraw: redraw(RedrawReason::WinnerIneligible),
        ..w.perform_entry("early-bird", frozen, &seed)
    };
    refused(
        w.apply(Body::DrawPerformed(early)),
        "redraw_before_performed",
    );
    w.at("2026-12-11T16:00:00.000000Z");
    let first = w.perform("early-bird", frozen, &seed).unwrap();

    // Unclaimed: not while the claim window (30 days) is open.
    w.at("2027-01-10T15:59:59.999999Z");
    let e = w.redraw_entry("early-bird", redraw(RedrawReason::Unclaimed));
    refused(w.apply(Body::DrawPerformed(e)), "claim_window_open");
    // Winner ineligible: needs two different people.
    let mut e = w.redraw_entry("early-bird", redraw(RedrawReason::WinnerIneligible));
    e.redraw.as_mut().unwrap().approved_by = STAFF.parse().unwrap();
    refused(
        w.apply(Body::DrawPerformed(e)),
        "redraw_needs_second_person",
    );
    // A redraw that starts the stream over (the same winner again) is refused.
    let mut e = w.redraw_entry("early-bird", redraw(RedrawReason::WinnerIneligible));
    let replay = DrawPerformed {
        raw: first.raw.clone(),
        index: first.index,
        winner: first.winner,
        sale: first.sale.clone(),
        ..e.clone()
    };
    refused(w.apply(Body::DrawPerformed(replay)), "draw_not_from_seed");
    // The redraw continues the stream where the first performance stopped.
    let mut rng = DrawRng::new(&seed, b"");
    for _ in 0..first.raw.len() {
        rng.next_raw();
    }
    assert_eq!(e.raw[0], rng.next_raw());
    w.apply(Body::DrawPerformed(e.clone())).unwrap();
    assert_ne!(e.winner, first.winner, "a number is drawn once per draw");
    // A second redraw draws a third number.
    let second = e.clone();
    e = w.redraw_entry("early-bird", redraw(RedrawReason::WinnerIneligible));
    w.apply(Body::DrawPerformed(e.clone())).unwrap();
    let drawn = [first.winner.0, second.winner.0, e.winner.0];
    assert!(drawn[0] != drawn[2] && drawn[1] != drawn[2], "{drawn:?}");

    // The claim window restarts at the latest performance; after it closes
    // the prize cannot be paid, and an unclaimed redraw is allowed.
    w.at("2027-01-10T16:00:00.000000Z");
    let late_claim = w.claim("early-bird", true);
    w.at("2027-02-09T16:00:00.000000Z");
    refused(w.apply(late_claim), "claim_window_closed");
    let e = w.redraw_entry("early-bird", redraw(RedrawReason::Unclaimed));
    w.apply(Body::DrawPerformed(e.clone())).unwrap();
    assert!(!drawn.contains(&e.winner.0));
    // Four numbers sold, four drawn: none is left.
    let r = w.ledger.raffle(&w.raffle).unwrap();
    let p = r.draws["early-bird"].performed.as_ref().unwrap();
    refused(
        r.next_winner("early-bird", &p.seed, &p.contribution),
        "no_eligible_numbers_left",
    );
    // A claim within the new window is paid.
    w.at("2027-02-10T10:00:00.000000Z");
    w.apply(w.claim("early-bird", false)).unwrap();

    // Paperwork: the main draw's 50/50 prize; the threshold set to $1.
    let mut w = World::new();
    let old = config();
    let mut c = old.clone();
    c.draws.remove(0);
    c.claims.paperwork_over = Some(cad(100));
    c.claims.unclaimed = UnclaimedRule::Forfeit;
    w.apply(Body::RaffleUpdated(Box::new(RaffleUpdated {
        raffle: w.raffle.clone(),
        old,
        new: c,
        by: STAFF.parse().unwrap(),
    })))
    .unwrap();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    for _ in 0..4 {
        w.sell("p3", 1).unwrap();
    }
    w.at("2026-12-20T23:00:00.000000Z");
    w.reconcile("main").unwrap();
    let seed = new_seed().unwrap();
    let frozen = w.freeze("main", &seed).unwrap();
    w.perform("main", frozen, &seed).unwrap();
    refused(w.apply(w.claim("main", false)), "paperwork_required");
    // This raffle forfeits unclaimed prizes: no redraw for that reason.
    w.at("2027-01-30T00:00:00.000000Z");
    let e = w.redraw_entry("main", redraw(RedrawReason::Unclaimed));
    refused(
        w.apply(Body::DrawPerformed(e)),
        "unclaimed_prizes_forfeited",
    );
    w.at("2027-01-19T00:00:00.000000Z");
    w.apply(w.claim("main", true)).unwrap();
    let e = w.redraw_entry("main", redraw(RedrawReason::WinnerIneligible));
    refused(w.apply(Body::DrawPerformed(e)), "redraw_after_paid");
}

/// A frozen draw's eligible set does not move when an earlier draw is redrawn.
#[test]
fn a_redraw_of_an_earlier_draw_leaves_a_frozen_later_draw_alone() {
    let mut w = World::new();
    w.at("2026-12-01T14:00:00.000000Z").open().unwrap();
    for _ in 0..20 {
        w.sell("p1", 1).unwrap();
    }
    w.at("2026-12-10T23:00:00.000000Z");
    w.reconcile("early-bird").unwrap();
    let seed = new_seed().unwrap();
    let frozen = w.freeze("early-bird", &seed).unwrap();
    w.perform("early-bird", frozen, &seed).unwrap();
    w.at("2026-12-20T23:00:00.000000Z");
    w.reconcile("main").unwrap();
    let main_seed = new_seed().unwrap();
    let main_frozen = w.freeze("main", &main_seed).unwrap();
    let before = w
        .ledger
        .raffle(&w.raffle)
        .unwrap()
        .eligible_digest("main")
        .unwrap();
    let e = w.redraw_entry("early-bird", redraw(RedrawReason::WinnerIneligible));
    w.apply(Body::DrawPerformed(e)).unwrap();
    let after = w
        .ledger
        .raffle(&w.raffle)
        .unwrap()
        .eligible_digest("main")
        .unwrap();
    assert_eq!(before, after);
    w.perform("main", main_frozen, &main_seed).unwrap();
}
