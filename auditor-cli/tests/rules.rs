//! The auditor's rule replay, rule by rule: a valid log (checked by the
//! server's own ledger as it is built) passes; each change below breaks one
//! rule and is named with its GLI-31 section. Fast and in memory; the
//! end-to-end tests (`tamper.rs`, `witness.rs`) use the real `raffled`.

use raffle_audit::rules::{Audit, Lookup};
use raffle_core::entry::*;
use raffle_core::ledger::Ledger;
use raffle_core::validation::ValidationNumber;
use raffle_core::{Currency, Error, Money, Refusal, Timestamp};
use transparency::NoteSigner;
use transparency::key::ALG_COSIGNATURE_V1;

const ORIGIN: &str = "example.org/log";
const DAY: i64 = 86_400_000_000;

fn cad(minor: u64) -> Money {
    Money::new(minor, Currency::CAD)
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_micros(
        Timestamp::parse("2026-01-01T00:00:00.000000Z")
            .unwrap()
            .as_micros()
            + secs * 1_000_000,
    )
}

/// A raffle built entry by entry, each checked by the server's ledger.
struct Builder {
    ledger: Ledger,
    entries: Vec<Entry>,
    raffle: raffle_core::ids::RaffleId,
    staff: raffle_core::ids::StaffId,
    approver: raffle_core::ids::StaffId,
    sales: Vec<(raffle_core::ids::SaleId, ValidationNumber)>,
    next: u64,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            ledger: Ledger::new(),
            entries: Vec::new(),
            raffle: raffle_core::ids::RaffleId::new_random(),
            staff: raffle_core::ids::StaffId::new_random().unwrap(),
            approver: raffle_core::ids::StaffId::new_random().unwrap(),
            sales: Vec::new(),
            next: 1,
        }
    }

    fn push(&mut self, time: Timestamp, body: Body) {
        let e = Entry::new(time, body);
        self.ledger
            .apply(&e)
            .unwrap_or_else(|err| panic!("{}: {err}", e.kind()));
        self.entries.push(e);
    }

    fn config() -> RaffleConfig {
        let mut c = testkit::raffles::two_draws(t(0), t(10), t(20));
        c.claims.window_days = 1;
        c.claims.paperwork_over = Some(cad(1500));
        c
    }

    fn sale(&mut self, at: i64) {
        let sale = raffle_core::ids::SaleId::new_order();
        let vn = ValidationNumber::generate().unwrap();
        let body = Body::Sale(Sale {
            raffle: self.raffle.clone(),
            sale: sale.clone(),
            package: "p3".parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(self.next),
                count: U64(3),
            },
            price: cad(1000),
            channel: Channel::Online,
            rsu: None,
            stamped: t(at),
            validation: Digest32(vn.commitment(&self.raffle)),
            device: None,
        });
        self.push(t(at), body);
        self.next += 3;
        self.sales.push((sale, vn));
    }

    fn reconcile(&mut self, draw: &str, at: i64) {
        let f = self
            .ledger
            .raffle(&self.raffle)
            .unwrap()
            .reconciliation_figures(draw)
            .unwrap();
        let body = Body::ReconciliationAcknowledged(ReconciliationAcknowledged {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            sales: U64(f.sales),
            gross: f.gross,
            voids: U64(f.voids),
            voided: f.voided,
            refunded: f.refunded,
            requested_by: self.staff.clone(),
            approved_by: self.approver.clone(),
        });
        self.push(t(at), body);
    }

    /// Freezes and performs `draw` with `contribution(frozen index, leaf hash)`.
    fn draw(&mut self, draw: &str, at: i64, contribution: impl Fn(u64, [u8; 32]) -> Vec<u8>) {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let (n, eligible) = r.eligible_digest(draw).unwrap();
        let prize = r.draw_prize(draw).unwrap();
        let seed = raffle_core::draw::new_seed().unwrap();
        let frozen = Body::DrawFrozen(DrawFrozen {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            n: U64(n),
            eligible_sha256: eligible,
            seed_sha256: Digest32(raffle_core::draw::seed_commitment(&seed)),
            prize,
        });
        self.push(t(at), frozen);
        let index = self.entries.len() as u64 - 1;
        let leaf =
            *transparency::leaf_hash(&self.entries.last().unwrap().to_bytes().unwrap()).as_bytes();
        let c = contribution(index, leaf);
        let p = self
            .ledger
            .raffle(&self.raffle)
            .unwrap()
            .performance(draw, &seed, &c, None)
            .unwrap();
        self.push(t(at), Body::DrawPerformed(p));
    }

    fn winner(&self, draw: &str) -> (raffle_core::ids::SaleId, u64) {
        self.entries
            .iter()
            .rev()
            .find_map(|e| match &e.body {
                Body::DrawPerformed(p) if p.draw == draw => Some((p.sale.clone(), p.winner.0)),
                _ => None,
            })
            .unwrap()
    }

    fn claim(&mut self, draw: &str, at_micros: Timestamp) {
        let body = self.claim_body(draw);
        self.push(at_micros, body);
    }

    fn claim_body(&self, draw: &str) -> Body {
        let (sale, number) = self.winner(draw);
        let vn = &self.sales.iter().find(|(s, _)| *s == sale).unwrap().1;
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let prize = r.draws[draw].frozen.as_ref().unwrap().prize;
        // Where the sale won before, its number is public: supervised.
        let supervised_by = r
            .revealed
            .contains_key(&sale)
            .then(|| self.approver.clone());
        Body::ClaimPaid(ClaimPaid {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            sale,
            number: U64(number),
            validation_number: vn.to_text(),
            prize,
            paperwork: prize.minor > 1500,
            by: self.staff.clone(),
            supervised_by,
        })
    }
}

/// A whole valid raffle: early bird and main draw, a void, both claims.
fn valid(contribution: impl Fn(u64, [u8; 32]) -> Vec<u8> + Copy) -> Builder {
    let mut b = Builder::new();
    b.push(
        t(0),
        Body::SoftwareStarted(SoftwareStarted {
            program: "raffled".into(),
            version: "0.1.0".into(),
            sha256: Digest32([1; 32]),
        }),
    );
    let config = Builder::config();
    let (raffle, staff) = (b.raffle.clone(), b.staff.clone());
    b.push(
        t(0),
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config,
            by: staff.clone(),
        }),
    );
    b.push(
        t(0),
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff.clone(),
            payment_account: None,
        }),
    );
    for at in 1..=4 {
        b.sale(at);
    }
    let voided = b.sales[0].0.clone();
    b.push(
        t(5),
        Body::SaleVoided(SaleVoided {
            raffle: raffle.clone(),
            sale: voided,
            reason: VoidReason::BuyerRequest,
            refund: true,
            requested_by: staff.clone(),
            approved_by: b.approver.clone(),
        }),
    );
    b.reconcile("early-bird", 11);
    b.draw("early-bird", 11, contribution);
    b.sale(12);
    b.sale(13);
    b.push(
        t(20),
        Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }),
    );
    b.reconcile("main", 21);
    b.draw("main", 21, contribution);
    b.claim("early-bird", t(22));
    b.claim("main", t(23));
    b.push(
        t(24),
        Body::EventsDigest(EventsDigest {
            first: U64(1),
            last: U64(9),
            count: U64(9),
            sha256: Digest32([2; 32]),
        }),
    );
    b
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

fn audit_with(entries: &[Entry], witnesses: Vec<transparency::NoteVerifier>) -> Audit {
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    let mem = Mem(bytes.clone());
    let mut a = Audit::new(ORIGIN, witnesses);
    for (i, b) in bytes.iter().enumerate() {
        a.apply(i as u64, b, &mem);
    }
    a
}

fn audit(entries: &[Entry]) -> Audit {
    audit_with(entries, Vec::new())
}

fn no_contribution(_: u64, _: [u8; 32]) -> Vec<u8> {
    Vec::new()
}

fn expect(entries: &[Entry], section: &str, want: &str) {
    let a = audit(entries);
    let v = a
        .violations
        .iter()
        .find(|v| v.message.contains(want))
        .unwrap_or_else(|| panic!("no violation saying {want:?}: {:#?}", a.violations));
    assert_eq!(v.section, section, "{v}");
}

fn index_of(entries: &[Entry], kind: &str) -> usize {
    entries.iter().position(|e| e.kind() == kind).unwrap()
}

#[test]
fn a_valid_raffle_passes_and_is_summarised() {
    let b = valid(no_contribution);
    let a = audit(&b.entries);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    let s = &a.summaries()[0];
    assert_eq!((s.sales, s.voids, s.numbers), (6, 1, 18));
    assert_eq!(
        (s.gross_minor, s.net_minor, s.refunded_minor),
        (6000, 5000, 1000)
    );
    assert_eq!(s.draws[0].prize_minor, Some(500));
    // GLI-31 2.2.1: 50% of the 50.00 net, less the 5.00 early bird.
    assert_eq!(s.draws[1].prize_minor, Some(2000));
    assert!(s.draws.iter().all(|d| d.verified && d.claimed));
    assert_eq!(format!("{:?}", s.status), "Settled", "every prize paid");
    assert_eq!(a.unwitnessed_draws().len(), 2);
}

#[test]
fn each_lifecycle_and_sales_rule_is_named() {
    let b = valid(no_contribution);
    let base = &b.entries;
    let opened = index_of(base, "raffle.opened");

    // GLI-31 2.2.3: no configuration change once open.
    let mut l = base.clone();
    let Body::RaffleCreated(c) = &base[1].body else {
        panic!()
    };
    let mut new = c.config.clone();
    new.packages[1].price = cad(900);
    l.insert(
        opened + 1,
        Entry::new(
            base[opened].time,
            Body::RaffleUpdated(Box::new(RaffleUpdated {
                raffle: b.raffle.clone(),
                old: c.config.clone(),
                new,
                by: b.staff.clone(),
            })),
        ),
    );
    expect(
        &l,
        "GLI-31 2.2.3",
        "configuration changed after the raffle opened",
    );

    // GLI-31 5.3: entry times never go backwards.
    let mut l = base.clone();
    l[opened + 2].time = t(0);
    expect(&l, "GLI-31 5.3", "goes back before the previous entry");

    // GLI-31 2.2.2: a sale stamped outside the sales window.
    let mut l = base.clone();
    if let Body::Sale(s) = &mut l[opened + 1].body {
        s.stamped = Timestamp::from_micros(t(0).as_micros() - 1);
    }
    expect(&l, "GLI-31 2.2.2", "outside the sales window");

    // GLI-31 2.6.2: closed for its end time before the end time, and a sale
    // sequenced after the end time without a close.
    let closed = index_of(base, "raffle.closed");
    let mut l = base.clone();
    l[closed].time = t(19);
    for e in &mut l[closed + 1..] {
        e.time = t(19).max(e.time);
    }
    expect(&l, "GLI-31 2.6.2", "before the end time");
    let mut l = base[..closed].to_vec();
    let mut late = base[opened + 1].clone();
    late.time = t(20);
    if let Body::Sale(s) = &mut late.body {
        s.sale = raffle_core::ids::SaleId::new_order();
        s.numbers.first = U64(100);
    }
    l.push(late);
    expect(&l, "GLI-31 2.6.2", "after the sales end");

    // A package priced otherwise than the configuration says.
    let mut l = base.clone();
    if let Body::Sale(s) = &mut l[opened + 1].body {
        s.price = cad(999);
    }
    expect(&l, "GLI-31 2.2.3", "package \"p3\" is 3 numbers for 1000");

    // A raffle created twice.
    let mut l = base.clone();
    l.insert(2, base[1].clone());
    expect(&l, "lifecycle", "created a second time");
}

#[test]
fn voids_and_reconciliation_need_two_people_and_hold_their_figures() {
    let b = valid(no_contribution);
    let base = &b.entries;
    let voided = index_of(base, "sale.voided");
    // GLI-31 5.2.4: the requester does not approve.
    let mut l = base.clone();
    if let Body::SaleVoided(v) = &mut l[voided].body {
        v.approved_by = v.requested_by.clone();
    }
    expect(&l, "GLI-31 5.2.4", "approved by its own requester");
    // GLI-31 2.3.3: a void of a sale never sold.
    let mut l = base.clone();
    if let Body::SaleVoided(v) = &mut l[voided].body {
        v.sale = raffle_core::ids::SaleId::new_order();
    }
    expect(&l, "GLI-31 2.3.3", "which this raffle never sold");
    // GLI-31 2.6.3: nothing affecting a draw after its reconciliation.
    let reconciled = index_of(base, "reconciliation.acknowledged");
    let mut l = base.clone();
    let mut void = l[voided].clone();
    void.time = l[reconciled].time;
    if let Body::SaleVoided(v) = &mut void.body {
        v.sale = b.sales[1].0.clone();
    }
    l.insert(reconciled + 1, void);
    expect(
        &l,
        "GLI-31 2.6.3",
        "after draw \"early-bird\" was reconciled",
    );
    // GLI-31 2.6.1: the acknowledged figures are the log's.
    let mut l = base.clone();
    if let Body::ReconciliationAcknowledged(r) = &mut l[reconciled].body {
        r.refunded = cad(0);
    }
    expect(&l, "GLI-31 2.6.1", "are not the log's");
}

#[test]
fn claims_redraws_and_events_follow_their_rules() {
    let b = valid(no_contribution);
    let base = &b.entries;
    let claims: Vec<usize> = base
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind() == "claim.paid")
        .map(|(i, _)| i)
        .collect();
    // GLI-31 2.7.1: the validation number paid is the winning ticket's.
    let mut l = base.clone();
    if let Body::ClaimPaid(c) = &mut l[claims[0]].body {
        c.validation_number = ValidationNumber::generate().unwrap().to_text();
    }
    expect(&l, "GLI-31 2.7.1", "not the winning ticket's");
    // GLI-31 2.7.1: over the threshold, only with the paperwork.
    let mut l = base.clone();
    if let Body::ClaimPaid(c) = &mut l[claims[1]].body {
        c.paperwork = false;
    }
    expect(&l, "GLI-31 2.7.1", "without the winner's paperwork");
    // GLI-31 2.7.1: within the claim window.
    let mut l = base.clone();
    l[claims[1]].time = Timestamp::from_micros(t(21).as_micros() + DAY);
    let late = l[claims[1]].time;
    for e in &mut l[claims[1] + 1..] {
        e.time = late;
    }
    expect(&l, "GLI-31 2.7.1", "after the claim window closed");
    // 5.6.2: event digests in sequence.
    let mut l = base.clone();
    let digest = l.last().unwrap().clone();
    l.push(digest);
    expect(&l, "GLI-31 5.6.2", "not after event 9");

    // GLI-31 2.6.4: a redraw for an unclaimed prize only after the window,
    // with two people; then it draws a new number from the same stream.
    let mut unclaimed = base[..claims[1]].to_vec();
    let mut ledger = Ledger::new();
    for e in &unclaimed {
        ledger.apply(e).unwrap();
    }
    let Body::DrawPerformed(first) = &unclaimed[claims[0] - 1].body else {
        panic!("main draw.performed")
    };
    let redraw = |by: &str| Redraw {
        reason: RedrawReason::Unclaimed,
        requested_by: b.staff.clone(),
        approved_by: by.parse().unwrap(),
    };
    let after = Timestamp::from_micros(t(21).as_micros() + DAY + 1);
    let again = ledger
        .raffle(&b.raffle)
        .unwrap()
        .performance(
            "main",
            &first.seed.0,
            &first.contribution.0,
            Some(redraw(&b.approver)),
        )
        .unwrap();
    let mut ok = unclaimed.clone();
    ok.push(Entry::new(after, Body::DrawPerformed(again.clone())));
    let a = audit(&ok);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.summaries()[0].draws[1].redraws, 1);
    let mut early = unclaimed.clone();
    early.push(Entry::new(t(30), Body::DrawPerformed(again.clone())));
    expect(&early, "GLI-31 2.6.4", "before the claim window ends");
    let mut alone = again.clone();
    alone.redraw = Some(redraw(&b.staff));
    unclaimed.push(Entry::new(after, Body::DrawPerformed(alone)));
    expect(
        &unclaimed,
        "GLI-31 5.2.4",
        "the redraw is approved by its own requester",
    );
    // After the prize was paid: no redraw.
    let mut paid = base.clone();
    let mut late = again.clone();
    late.redraw = Some(redraw(&b.approver));
    paid.push(Entry::new(after, Body::DrawPerformed(late)));
    expect(&paid, "GLI-31 2.6.2", "the raffle is settled");
}

/// One sale, any number may win every draw: the same sale wins the early
/// bird and the main draw. Returns the log up to the main draw performed,
/// the early-bird claim paid in between (it publishes the sale's number).
fn one_sale_wins_twice() -> Builder {
    let mut b = Builder::new();
    let mut config = Builder::config();
    config.wins = WinRule::Unlimited;
    config.early_bird = EarlyBirdDeduction::FromProceeds;
    let (raffle, staff) = (b.raffle.clone(), b.staff.clone());
    b.push(
        t(0),
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config,
            by: staff.clone(),
        }),
    );
    b.push(
        t(0),
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff,
            payment_account: None,
        }),
    );
    b.sale(1);
    b.reconcile("early-bird", 11);
    b.draw("early-bird", 11, no_contribution);
    b.claim("early-bird", t(12));
    b.push(
        t(20),
        Body::RaffleClosed(RaffleClosed {
            raffle,
            reason: CloseReason::EndTime,
            by: None,
        }),
    );
    b.reconcile("main", 21);
    b.draw("main", 21, no_contribution);
    b
}

#[test]
fn a_published_validation_number_claims_no_second_win_in_a_log_of_both_versions() {
    let mut b = one_sale_wins_twice();
    assert_eq!(
        b.winner("early-bird").0,
        b.winner("main").0,
        "one sale won both"
    );
    // Everything so far as an earlier build wrote it: schema version 1.
    for e in &mut b.entries {
        e.version = 1;
    }
    assert!(
        b.entries
            .iter()
            .all(|e| e.to_bytes().unwrap().starts_with(b"{\"v\":1,"))
    );
    let Body::ClaimPaid(mut claim) = b.claim_body("main") else {
        panic!()
    };
    assert_eq!(claim.supervised_by.as_ref(), Some(&b.approver));
    claim.supervised_by = None;
    let plain = Entry::new(t(22), Body::ClaimPaid(claim.clone()));
    // The server's ledger refuses it as the auditor does.
    let err = b.ledger.apply(&plain).unwrap_err();
    assert_eq!(
        err,
        Error::Refused(Refusal::ValidationNumberPublished {
            sale: claim.sale.to_string()
        }),
        "{err}"
    );
    let with = |version: u64, supervisor: Option<&str>| {
        let mut c = claim.clone();
        c.supervised_by = supervisor.map(|s| s.parse().unwrap());
        let mut l = b.entries.clone();
        l.push(Entry::at_version(version, plain.time, Body::ClaimPaid(c)));
        l
    };
    // Version 2, unsupervised: the number anyone can read in the log pays nothing.
    expect(&with(2, None), "GLI-31 2.7.1", "without a supervised claim");
    // Version 1 has no supervised claims: the same rule holds (the server's
    // ledger replays such a historical entry; the auditor reports it).
    expect(&with(1, None), "GLI-31 2.7.1", "without a supervised claim");
    // Versions never go down.
    let mut back = with(2, Some(&b.approver.clone()));
    let digest = Body::EventsDigest(EventsDigest {
        first: U64(1),
        last: U64(1),
        count: U64(1),
        sha256: Digest32([3; 32]),
    });
    back.push(Entry::at_version(1, t(23), digest));
    expect(
        &back,
        "entry schema",
        "a version 1 entry after a version 2 one",
    );
    // Supervised by the payer themselves: one person is not two.
    let staff = b.staff.clone();
    expect(
        &with(2, Some(&staff)),
        "GLI-31 5.2.4",
        "approved by its own payer",
    );
    // Supervised by a second person: valid, in a log mixing versions 1 and 2.
    let approver = b.approver.clone();
    let good = with(2, Some(&approver));
    let a = audit(&good);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.entries, good.len() as u64);
    let versions: Vec<u64> = good
        .iter()
        .map(|e| Entry::parse(&e.to_bytes().unwrap()).unwrap().version)
        .collect();
    assert_eq!(versions.iter().filter(|&&v| v == 1).count(), good.len() - 1);
    assert_eq!(versions.last(), Some(&2));
    // The server's ledger replays the same log.
    let mut replay = Ledger::new();
    for e in &good {
        replay.apply(e).unwrap();
    }
}

#[test]
fn a_log_mixing_schema_versions_1_2_and_3_is_read() {
    // An earlier build wrote the raffle's first entries (version 1), a
    // later one its middle (version 2), this one the rest (version 3).
    let mut b = one_sale_wins_twice();
    let n = b.entries.len();
    for (i, e) in b.entries.iter_mut().enumerate() {
        e.version = if i < n / 3 {
            1
        } else if i < 2 * n / 3 {
            2
        } else {
            3
        };
    }
    let versions: Vec<u64> = b
        .entries
        .iter()
        .map(|e| Entry::parse(&e.to_bytes().unwrap()).unwrap().version)
        .collect();
    assert!(versions.contains(&1) && versions.contains(&2) && versions.contains(&3));
    // A second raffle opened by this build names its payment account.
    let mut entries = b.entries.clone();
    let Some(Body::RaffleCreated(created)) = entries
        .iter()
        .map(|e| &e.body)
        .find(|b| matches!(b, Body::RaffleCreated(_)))
        .cloned()
    else {
        panic!()
    };
    let second = raffle_core::ids::RaffleId::new_random();
    let mut again = created.clone();
    again.raffle = second.clone();
    let last = entries.last().unwrap().time;
    // Its sales and draws a day after the first raffle's.
    let later = |t: raffle_core::Timestamp| {
        raffle_core::Timestamp::from_micros(t.as_micros() + 86_400_000_000)
    };
    let c = &mut again.config;
    c.sales_start = later(c.sales_start);
    c.sales_end = later(c.sales_end);
    for d in &mut c.draws {
        d.cutoff = later(d.cutoff);
        d.draw_at = later(d.draw_at);
    }
    entries.push(Entry::new(last, Body::RaffleCreated(again)));
    entries.push(Entry::new(
        last,
        Body::RaffleOpened(RaffleOpened {
            raffle: second,
            by: b.staff.clone(),
            payment_account: Some(Digest32([9; 32])),
        }),
    ));
    let a = audit(&entries);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.entries, entries.len() as u64);
    // payment_account does not exist before version 3.
    let mut old = entries.last().unwrap().clone();
    old.version = 2;
    assert!(
        old.to_bytes()
            .unwrap_err()
            .to_string()
            .contains("version 3")
    );
}

#[test]
fn a_policy_witness_contribution_is_checked() {
    let witness = NoteSigner::generate("regulator.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let sign = |index: u64, leaf: [u8; 32]| {
        witness
            .sign_raw(&raffle_core::draw::contribution_message(
                ORIGIN, index, &leaf,
            ))
            .to_vec()
    };
    let b = valid(sign);
    let a = audit_with(&b.entries, vec![witness.verifier()]);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert!(a.unwitnessed_draws().is_empty());
    assert!(
        a.summaries()[0]
            .draws
            .iter()
            .all(|d| d.witnessed == Some(true))
    );
    // Another witness's signature, or none, fails the policy (GLI-31 4.4.2).
    let stranger = NoteSigner::generate("other.example/witness", ALG_COSIGNATURE_V1).unwrap();
    let a = audit_with(&b.entries, vec![stranger.verifier()]);
    assert!(
        a.violations
            .iter()
            .any(|v| v.message.contains("not a policy witness's signature"))
    );
    let unsigned = valid(no_contribution);
    let a = audit_with(&unsigned.entries, vec![witness.verifier()]);
    assert!(
        a.violations
            .iter()
            .any(|v| v.section == "GLI-31 4.4.2"
                && v.message.contains("without a witness contribution")),
        "{:#?}",
        a.violations
    );
    // Without a policy the witnessed draws are reported, not failed.
    let a = audit(&b.entries);
    assert!(a.violations.is_empty());
}

/// One change to a valid log: an entry's numeric field set to `value`, or
/// entries swapped, repeated or dropped.
fn mutate(entries: &mut Vec<Entry>, at: usize, what: u8, value: u64) {
    let n = entries.len();
    let at = at % n;
    match what % 12 {
        0 => entries.swap(at, (at + value as usize) % n),
        1 => {
            let e = entries[at].clone();
            entries.insert((at + value as usize) % n, e);
        }
        2 => {
            entries.remove(at);
        }
        3 => entries[at].time = Timestamp::from_micros((value % (1 << 52)) as i64),
        field => match &mut entries[at].body {
            Body::Sale(s) => match field % 3 {
                0 => s.numbers.first = U64(value),
                1 => s.numbers.count = U64(value),
                _ => s.quantity = value as u32,
            },
            Body::DrawFrozen(f) => match field % 3 {
                0 => f.n = U64(value),
                1 => f.prize.minor = value,
                _ => f.seed_sha256.0[0] = value as u8,
            },
            Body::DrawPerformed(p) => match field % 4 {
                0 => p.index = U64(value),
                1 => p.winner = U64(value),
                2 => p.raw[0] = value,
                _ => p.frozen = U64(value),
            },
            Body::ReconciliationAcknowledged(r) => r.sales = U64(value),
            Body::ClaimPaid(c) => c.number = U64(value),
            Body::EventsDigest(d) => {
                d.first = U64(value);
                d.last = U64(value.saturating_add(3));
                d.count = U64(4);
            }
            _ => {}
        },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever a malicious operator logs, the replay ends with findings,
    /// never a panic (the bytes are re-encoded; entries the schema refuses
    /// are themselves findings).
    #[test]
    fn any_changed_log_is_judged_without_panicking(
        changes in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>(), proptest::prelude::any::<u64>()), 1..4)
    ) {
        let mut entries = valid(no_contribution).entries;
        for (at, what, value) in changes {
            mutate(&mut entries, at, what, value);
        }
        let bytes: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| e.to_bytes().unwrap_or_else(|_| b"{\"v\":1,\"type\":\"sale\"}".to_vec()))
            .collect();
        let mem = Mem(bytes.clone());
        let mut a = Audit::new(ORIGIN, Vec::new());
        for (i, b) in bytes.iter().enumerate() {
            a.apply(i as u64, b, &mem);
        }
        let _ = a.summaries();
    }
}
