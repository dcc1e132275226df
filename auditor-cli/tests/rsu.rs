//! Sales units (schema version 4) as the auditor replays them. A log with
//! an enrolled unit, an allocation between online sales, chained RSU
//! sales, a head the unit presented, seals, a refused record, both draws
//! reconciled, frozen, drawn and claimed, and the unit's release passes
//! (the server's own ledger accepts every entry as the log is built). Each
//! forgery below, logged as an operator holding the log key could log it,
//! is reported at its leaf, naming the rule it breaks; where the server's
//! ledger judges the same rule, it refuses the forgery too.

use raffle_audit::audit::{Options, audit_log};
use raffle_audit::rules::{Audit, Lookup, RsuSummary, Violation};
use raffle_audit::source::Source;
use raffle_core::entry::*;
use raffle_core::ids::{RaffleId, RsuId, SaleId, StaffId};
use raffle_core::ledger::Ledger;
use raffle_core::rsu::{DeviceKey, record_hash, sale_id};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Currency, Money, Timestamp};
use std::collections::{BTreeMap, HashMap};
use transparency::NoteSigner;
use transparency::key::ALG_ED25519;
use transparency::store::{Appender, DirStorage};

const ORIGIN: &str = "example.org/log";
/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000_000;

fn cad(minor: u64) -> Money {
    Money::new(minor, Currency::CAD)
}

/// `ms` milliseconds after the sales start.
fn ms(ms: i64) -> Timestamp {
    Timestamp::from_micros(BASE + ms * 1000)
}

fn t(secs: i64) -> Timestamp {
    ms(secs * 1000)
}

/// A sales unit: signs its records and seals as a device does.
struct Unit {
    id: RsuId,
    key: DeviceKey,
}

impl Unit {
    fn new(id: &str, seed: u8) -> Unit {
        Unit {
            id: id.parse().unwrap(),
            key: DeviceKey::from_seed(&[seed; 32]),
        }
    }

    /// Record `seq` after `prev`: one of `package` (`p1`, `p3` or `p10`)
    /// from number `first`, sold at `time`, signed by the unit.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        raffle: &RaffleId,
        seq: u64,
        prev: [u8; 32],
        package: &str,
        first: u64,
        time: Timestamp,
        vn: &ValidationNumber,
    ) -> RsuRecord {
        let (count, price) = match package {
            "p1" => (1, 500),
            "p3" => (3, 1000),
            "p10" => (10, 2000),
            _ => panic!("package {package}"),
        };
        let mut r = RsuRecord {
            raffle: raffle.clone(),
            rsu: self.id.clone(),
            seq: U64(seq),
            prev: Digest32(prev),
            package: package.parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(first),
                count: U64(count),
            },
            price: cad(price),
            payment: PaymentMethod::Cash,
            validation: Digest32(vn.commitment(raffle)),
            device_time: time,
            operator: "s_5c2e8b1f0a7d3964".parse().unwrap(),
            signature: HexBytes(vec![]),
        };
        self.key.sign_record(ORIGIN, &mut r);
        r
    }

    fn seal(&self, raffle: &RaffleId, draw: &str, seq: u64, hash: [u8; 32], at: Timestamp) -> Body {
        let mut s = RsuSealed {
            raffle: raffle.clone(),
            draw: draw.parse().unwrap(),
            rsu: self.id.clone(),
            seq: U64(seq),
            hash: Digest32(hash),
            device_time: at,
            signature: HexBytes(vec![]),
        };
        self.key.sign_seal(ORIGIN, &mut s);
        Body::RsuSealed(s)
    }
}

/// A record logged as a sale, as the sequencer writes it.
fn sale_of(r: &RsuRecord, received: Timestamp) -> Body {
    Body::Sale(Sale {
        raffle: r.raffle.clone(),
        sale: sale_id(&r.rsu, r.seq.0),
        package: r.package.clone(),
        quantity: r.quantity,
        numbers: r.numbers,
        price: r.price,
        channel: Channel::Rsu,
        rsu: Some(r.rsu.clone()),
        stamped: r.device_time,
        validation: r.validation,
        device: Some(DeviceRecord {
            seq: r.seq,
            prev: r.prev,
            payment: r.payment,
            operator: r.operator.clone(),
            signature: r.signature.clone(),
            received,
        }),
    })
}

/// A record logged as refused.
fn refusal(r: &RsuRecord, received: Timestamp, reason: RejectReason) -> Body {
    Body::RsuRejected(Box::new(RsuRejected {
        record: r.clone(),
        received,
        reason,
    }))
}

/// The log, built entry by entry through the server's ledger.
struct Scenario {
    ledger: Ledger,
    entries: Vec<Entry>,
    raffle: RaffleId,
    staff: StaffId,
    approver: StaffId,
    unit: Unit,
    /// The unit's records in chain order (R1 is `records[0]`).
    records: Vec<RsuRecord>,
    /// The unit's head: sequence and hash.
    head: (u64, [u8; 32]),
    /// Every sale's validation number.
    vns: Vec<(SaleId, ValidationNumber)>,
    /// The leaf of each named entry.
    at: HashMap<&'static str, usize>,
    next_online: u64,
}

impl Scenario {
    fn push(&mut self, name: &'static str, time: Timestamp, body: Body) {
        let e = Entry::new(time, body);
        self.ledger
            .apply(&e)
            .unwrap_or_else(|err| panic!("{name} ({}): {err}", e.kind()));
        self.at.insert(name, self.entries.len());
        self.entries.push(e);
    }

    fn leaf(&self, name: &str) -> usize {
        self.at[name]
    }

    fn online_sale(&mut self, name: &'static str, secs: i64) {
        let sale = SaleId::new_order();
        let vn = ValidationNumber::generate().unwrap();
        let body = Body::Sale(Sale {
            raffle: self.raffle.clone(),
            sale: sale.clone(),
            package: "p3".parse().unwrap(),
            quantity: 1,
            numbers: NumberRange {
                first: U64(self.next_online),
                count: U64(3),
            },
            price: cad(1000),
            channel: Channel::Online,
            rsu: None,
            stamped: t(secs),
            validation: Digest32(vn.commitment(&self.raffle)),
            device: None,
        });
        self.push(name, t(secs), body);
        self.next_online += 3;
        self.vns.push((sale, vn));
    }

    /// The unit's next record.
    fn next_record(&mut self, package: &str, first: u64, time: Timestamp) -> RsuRecord {
        let vn = ValidationNumber::generate().unwrap();
        let r = self.unit.record(
            &self.raffle,
            self.head.0 + 1,
            self.head.1,
            package,
            first,
            time,
            &vn,
        );
        self.head = (r.seq.0, record_hash(ORIGIN, &r));
        self.vns.push((sale_id(&r.rsu, r.seq.0), vn));
        self.records.push(r.clone());
        r
    }

    fn hash(&self, seq: u64) -> [u8; 32] {
        record_hash(ORIGIN, &self.records[seq as usize - 1])
    }

    fn reconcile(&mut self, name: &'static str, draw: &str, at: Timestamp) {
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
        self.push(name, at, body);
    }

    fn draw(&mut self, draw: &str, at: Timestamp) {
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
        self.push("frozen", at, frozen);
        let p = self
            .ledger
            .raffle(&self.raffle)
            .unwrap()
            .performance(draw, &seed, &[], None)
            .unwrap();
        self.push("performed", at, Body::DrawPerformed(p));
    }

    fn claim(&mut self, draw: &str, at: Timestamp) {
        let r = self.ledger.raffle(&self.raffle).unwrap();
        let state = &r.draws[draw];
        let winner = state.winner.clone().unwrap();
        let prize = state.frozen.as_ref().unwrap().prize;
        let vn = &self.vns.iter().find(|(s, _)| *s == winner.sale).unwrap().1;
        let supervised_by = r
            .revealed
            .contains_key(&winner.sale)
            .then(|| self.approver.clone());
        let body = Body::ClaimPaid(ClaimPaid {
            raffle: self.raffle.clone(),
            draw: draw.parse().unwrap(),
            sale: winner.sale,
            number: U64(winner.number),
            validation_number: vn.to_text(),
            prize,
            paperwork: true,
            by: self.staff.clone(),
            supervised_by,
        });
        self.push("claimed", at, body);
    }
}

/// The whole valid log. With `unreconcilable`, the unit is declared
/// unreconcilable for the early bird instead of sealing for it.
fn scenario(unreconcilable: bool) -> Scenario {
    let mut s = Scenario {
        ledger: Ledger::for_log(ORIGIN),
        entries: Vec::new(),
        raffle: RaffleId::new_random(),
        staff: StaffId::new_random().unwrap(),
        approver: StaffId::new_random().unwrap(),
        unit: Unit::new("gate-1", 7),
        records: Vec::new(),
        head: (0, [0; 32]),
        vns: Vec::new(),
        at: HashMap::new(),
        next_online: 1,
    };
    let (raffle, staff, approver) = (s.raffle.clone(), s.staff.clone(), s.approver.clone());
    // Sales from t(0) to t(20); the early bird cut off at t(10).
    let config = testkit::raffles::two_draws(t(0), t(10), t(20));
    s.push(
        "created",
        t(0),
        Body::RaffleCreated(RaffleCreated {
            raffle: raffle.clone(),
            config,
            by: staff.clone(),
        }),
    );
    s.push(
        "opened",
        t(0),
        Body::RaffleOpened(RaffleOpened {
            raffle: raffle.clone(),
            by: staff.clone(),
            payment_account: None,
        }),
    );
    s.online_sale("online1", 1); // 1..3
    let key = Digest32(s.unit.key.public());
    s.push(
        "enrolled",
        t(1),
        Body::RsuEnrolled(RsuEnrolled {
            rsu: s.unit.id.clone(),
            key,
            requested_by: staff.clone(),
            approved_by: approver.clone(),
        }),
    );
    s.push(
        "allocated",
        t(1),
        Body::RsuAllocated(RsuAllocated {
            raffle: raffle.clone(),
            rsu: s.unit.id.clone(),
            numbers: NumberRange {
                first: U64(4),
                count: U64(50),
            },
            by: staff.clone(),
        }),
    );
    s.next_online = 54;
    s.online_sale("online2", 2); // 54..56, after the allocation
    let r1 = s.next_record("p1", 4, t(2));
    s.push("r1", t(3), sale_of(&r1, t(3)));
    let r2 = s.next_record("p3", 5, t(3));
    s.push("r2", t(4), sale_of(&r2, t(4)));
    // The unit presents its head at 3 before uploading record 3.
    let r3 = s.next_record("p1", 8, t(4));
    let h3 = s.hash(3);
    s.push(
        "seen",
        t(5),
        Body::RsuSeen(RsuSeen {
            rsu: s.unit.id.clone(),
            seq: U64(3),
            hash: Digest32(h3),
        }),
    );
    s.push("r3", t(5), sale_of(&r3, t(5)));
    s.online_sale("online3", 6); // 57..59
    if unreconcilable {
        s.push(
            "early-settled",
            t(11),
            Body::RsuUnreconcilable(RsuUnreconcilable {
                raffle: raffle.clone(),
                draw: "early-bird".parse().unwrap(),
                rsu: s.unit.id.clone(),
                uploaded: U64(3),
                reason: UnreconcilableReason::Lost,
                requested_by: staff.clone(),
                approved_by: approver.clone(),
            }),
        );
    } else {
        let seal = s.unit.seal(&raffle, "early-bird", 3, h3, ms(10_500));
        s.push("early-settled", t(11), seal);
    }
    s.reconcile("early-reconciled", "early-bird", t(11));
    s.draw("early-bird", t(11));
    let r4 = s.next_record("p3", 9, t(12));
    s.push("r4", t(13), sale_of(&r4, t(13)));
    s.online_sale("online4", 14); // 60..62
    s.push(
        "closed",
        t(20),
        Body::RaffleClosed(RaffleClosed {
            raffle: raffle.clone(),
            reason: CloseReason::EndTime,
            by: None,
        }),
    );
    // Sold before the end time, uploaded after the close.
    let r5 = s.next_record("p1", 12, t(19));
    s.push("r5", t(21), sale_of(&r5, t(21)));
    // Sold after the end time: refused, in the chain.
    let r6 = s.next_record("p1", 13, ms(20_001));
    s.push(
        "r6",
        t(21),
        refusal(&r6, t(21), RejectReason::OutsideSalesWindow),
    );
    let h5 = s.hash(5);
    let seal = s.unit.seal(&raffle, "main", 5, h5, ms(20_002));
    s.push("main-sealed", t(21), seal);
    s.reconcile("main-reconciled", "main", t(22));
    s.draw("main", t(22));
    s.push(
        "released",
        t(23),
        Body::RsuReleased(RsuReleased {
            raffle: raffle.clone(),
            rsu: s.unit.id.clone(),
            count: U64(50 - 9),
        }),
    );
    s.claim("early-bird", t(24));
    s.claim("main", t(24));
    // A stale record after the release, the raffle settled: refused.
    let r7 = s.next_record("p1", 14, ms(20_003));
    s.push("r7", t(25), refusal(&r7, t(25), RejectReason::Released));
    s
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

fn audit_bytes(bytes: &[Vec<u8>]) -> Audit {
    let mem = Mem(bytes.to_vec());
    let mut a = Audit::new(ORIGIN, Vec::new());
    for (i, b) in bytes.iter().enumerate() {
        a.apply(i as u64, b, &mem);
    }
    a
}

fn audit(entries: &[Entry]) -> Audit {
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    audit_bytes(&bytes)
}

fn replay(entries: &[Entry]) -> Ledger {
    let mut l = Ledger::for_log(ORIGIN);
    for e in entries {
        l.apply(e).unwrap();
    }
    l
}

/// The valid log up to leaf `at`, then `added`: the auditor reports one
/// violation, at the last entry added, in `section`, saying `want`. With
/// `server`, the server's ledger accepts the entries before the last and
/// refuses the last.
fn forged(
    s: &Scenario,
    at: usize,
    added: Vec<Entry>,
    section: &str,
    want: &str,
    server: bool,
) -> Violation {
    let mut l = s.entries[..at].to_vec();
    l.extend(added.iter().cloned());
    let a = audit(&l);
    assert_eq!(a.violations.len(), 1, "{want}: {:#?}", a.violations);
    let v = a.violations[0].clone();
    assert_eq!(v.index, (l.len() - 1) as u64, "{v}");
    assert_eq!(v.section, section, "{v}");
    assert!(v.message.contains(want), "wanted {want:?}: {v}");
    if server {
        let mut ledger = replay(&l[..l.len() - 1]);
        assert!(
            ledger.apply(l.last().unwrap()).is_err(),
            "the server's ledger accepts what the auditor reports: {v}"
        );
    }
    v
}

fn one(s: &Scenario, at: usize, time: Timestamp, body: Body, section: &str, want: &str) {
    forged(s, at, vec![Entry::new(time, body)], section, want, true);
}

#[test]
fn a_log_with_a_sales_unit_passes_and_is_summarised() {
    for unreconcilable in [false, true] {
        let s = scenario(unreconcilable);
        let a = audit(&s.entries);
        assert!(a.violations.is_empty(), "{:#?}", a.violations);
        let summary = &a.summaries()[0];
        assert_eq!(format!("{:?}", summary.status), "Settled");
        // 4 online sales and 5 RSU sales.
        assert_eq!((summary.sales, summary.numbers), (9, 12 + 9));
        assert_eq!(summary.gross_minor, 4000 + 3500);
        assert_eq!(
            summary.rsu_sales,
            BTreeMap::from([(
                "gate-1".to_string(),
                RsuSummary {
                    sales: 5,
                    numbers: 9,
                    gross_minor: 3500,
                    allocated: 50,
                    released: true,
                    reprints: 0,
                }
            )])
        );
        assert_eq!(
            summary.rsu_refused,
            BTreeMap::from([
                ("outside_sales_window".to_string(), 1),
                ("released".to_string(), 1)
            ])
        );
        // The eligible sets and prizes the auditor rebuilt are the
        // ledger's, RSU sales counted by their device times: the early
        // bird has its 3 online sales of 3 and the unit's 1 + 3 + 1.
        let r = s.ledger.raffle(&s.raffle).unwrap();
        for d in &summary.draws {
            let f = r.draws[d.id.as_str()].frozen.as_ref().unwrap();
            assert_eq!(
                (d.eligible, d.prize_minor),
                (Some(f.n), Some(f.prize.minor)),
                "{}",
                d.id
            );
            assert!(d.verified && d.claimed);
        }
        assert_eq!(summary.draws[0].eligible, Some(9 + 5));
    }
}

#[test]
fn the_formats_the_auditor_checks_are_the_units() {
    // A record or seal signed by another key, or altered after signing,
    // is not the unit's (GLI-31 6.1.2).
    let s = scenario(false);
    let r2 = s.records[1].clone();
    let mut stranger = r2.clone();
    DeviceKey::from_seed(&[99; 32]).sign_record(ORIGIN, &mut stranger);
    let at = s.leaf("r2");
    one(
        &s,
        at,
        t(4),
        sale_of(&stranger, t(4)),
        "GLI-31 6.1.2",
        "refuse it as bad_signature",
    );
    let Body::Sale(mut dearer) = sale_of(&r2, t(4)) else {
        panic!()
    };
    dearer.numbers.count = U64(10);
    dearer.package = "p10".parse().unwrap();
    dearer.price = cad(2000);
    one(
        &s,
        at,
        t(4),
        Body::Sale(dearer),
        "GLI-31 6.1.2",
        "refuse it as bad_signature",
    );
    // A sale id not derived from the unit and sequence.
    let Body::Sale(mut renamed) = sale_of(&r2, t(4)) else {
        panic!()
    };
    renamed.sale = SaleId::new_order();
    one(
        &s,
        at,
        t(4),
        Body::Sale(renamed),
        "GLI-31 3.2.1",
        "not the id",
    );
    // Received after it was sequenced.
    one(
        &s,
        at,
        t(4),
        sale_of(&r2, t(5)),
        "GLI-31 5.3",
        "after it was sequenced",
    );
    // A seal signed by another key.
    let at = s.leaf("early-settled");
    let Body::RsuSealed(mut seal) = s.entries[at].body.clone() else {
        panic!()
    };
    seal.signature = HexBytes(
        DeviceKey::from_seed(&[99; 32])
            .sign(&raffle_core::rsu::seal_message(ORIGIN, &seal))
            .to_vec(),
    );
    one(
        &s,
        at,
        t(11),
        Body::RsuSealed(seal),
        "GLI-31 6.1.2",
        "the seal is not signed",
    );
}

#[test]
fn a_record_outside_the_allocation_or_the_window_is_no_sale() {
    let s = scenario(false);
    let raffle = &s.raffle;
    let vn = ValidationNumber::generate().unwrap();
    let (h1, h3) = (s.hash(1), s.hash(3));
    let at = s.leaf("r2");
    // Numbers sold online, beyond the unit's range, straddling its end,
    // or already sold by the unit (GLI-31 3.2.1).
    for (package, first) in [("p3", 54), ("p1", 500), ("p3", 52), ("p1", 4)] {
        let r = s.unit.record(raffle, 2, h1, package, first, t(3), &vn);
        one(
            &s,
            at,
            t(4),
            sale_of(&r, t(4)),
            "GLI-31 3.2.1",
            "refuse it as outside_allocation",
        );
    }
    // Sold at the end time (GLI-31 2.2.2).
    let at = s.leaf("r4");
    let late = s.unit.record(raffle, 4, h3, "p3", 9, t(20), &vn);
    one(
        &s,
        at,
        t(20),
        sale_of(&late, t(20)),
        "GLI-31 2.2.2",
        "refuse it as outside_sales_window",
    );
    // Sold before the early-bird cutoff but after the unit's seal for it
    // (GLI-31 2.6.2).
    let after = s.unit.record(raffle, 4, h3, "p3", 9, t(9), &vn);
    one(
        &s,
        at,
        t(13),
        sale_of(&after, t(13)),
        "GLI-31 2.6.2",
        "refuse it as after_seal",
    );
    // Without a seal, the unit declared unreconcilable for the early
    // bird: the same record would count for a closed draw (GLI-31 2.6.1).
    let u = scenario(true);
    let closed = u.unit.record(&u.raffle, 4, u.hash(3), "p3", 9, t(9), &vn);
    one(
        &u,
        u.leaf("r4"),
        t(13),
        sale_of(&closed, t(13)),
        "GLI-31 2.6.1",
        "refuse it as draw_closed",
    );
    // A price that is not the package's (GLI-31 2.2.3).
    let mut cheap = s.unit.record(raffle, 4, h3, "p3", 9, t(12), &vn);
    cheap.price = cad(900);
    s.unit.key.sign_record(ORIGIN, &mut cheap);
    one(
        &s,
        at,
        t(13),
        sale_of(&cheap, t(13)),
        "GLI-31 2.2.3",
        "refuse it as package_mismatch",
    );
    // Made after the unit was disabled (GLI-31 5.4.2).
    let disabled = Entry::new(
        t(11),
        Body::RsuDisabled(RsuDisabled {
            rsu: s.unit.id.clone(),
            reason: DisableReason::Remote,
            by: Some(s.staff.clone()),
        }),
    );
    let r4 = Entry::new(t(13), sale_of(&s.records[3], t(13)));
    forged(
        &s,
        at,
        vec![disabled, r4],
        "GLI-31 5.4.2",
        "refuse it as disabled",
        true,
    );
}

#[test]
fn a_forked_or_reordered_chain_is_reported() {
    let s = scenario(false);
    let raffle = &s.raffle;
    let vn = ValidationNumber::generate().unwrap();
    let (h1, h2) = (s.hash(1), s.hash(2));
    // Two records with one sequence: record 2 again, other numbers.
    let twin = s.unit.record(raffle, 2, h1, "p1", 9, t(5), &vn);
    one(
        &s,
        s.leaf("online3"),
        t(6),
        sale_of(&twin, t(6)),
        "GLI-31 6.1.2",
        "refuse it as fork: sequence 2 is taken",
    );
    // Record 3 other than the head the unit presented at 3 (rsu.seen).
    let other3 = s.unit.record(raffle, 3, h2, "p1", 8, t(4), &vn);
    one(
        &s,
        s.leaf("r3"),
        t(5),
        sale_of(&other3, t(5)),
        "GLI-31 6.1.2",
        "refuse it as fork: record 3 is not the one the unit presented",
    );
    // A record naming another previous record.
    let astray = s.unit.record(raffle, 2, [5; 32], "p3", 5, t(3), &vn);
    one(
        &s,
        s.leaf("r2"),
        t(4),
        sale_of(&astray, t(4)),
        "GLI-31 6.1.2",
        "refuse it as fork: record 2 names a previous hash",
    );
    // Reordered: record 3 uploaded before record 2.
    one(
        &s,
        s.leaf("r2"),
        t(4),
        sale_of(&s.records[2], t(4)),
        "GLI-31 6.1.2",
        "refuse it as broken_chain",
    );
    // The same, in the whole log: records 2 and 3 swapped.
    let mut swapped = s.entries.clone();
    let (a, b) = (s.leaf("r2"), s.leaf("r3"));
    swapped[a] = Entry::new(t(4), sale_of(&s.records[2], t(4)));
    swapped[b] = Entry::new(t(5), sale_of(&s.records[1], t(5)));
    let v = &audit(&swapped).violations[0];
    assert_eq!((v.index, v.section), (a as u64, "GLI-31 6.1.2"), "{v}");
    assert!(v.message.contains("broken_chain"), "{v}");
    // A head contradicting the records logged, or going back.
    let at = s.leaf("online3");
    let seen = |seq: u64, hash: [u8; 32]| {
        Body::RsuSeen(RsuSeen {
            rsu: s.unit.id.clone(),
            seq: U64(seq),
            hash: Digest32(hash),
        })
    };
    one(&s, at, t(6), seen(3, h1), "GLI-31 6.1.2", "contradicts");
    one(
        &s,
        at,
        t(6),
        seen(2, h2),
        "GLI-31 6.1.2",
        "before the head at 3",
    );
    // A seal contradicting the sales logged: record 3, sold before the
    // cutoff, above a seal at 2.
    let at = s.leaf("early-settled");
    let seal = s.unit.seal(raffle, "early-bird", 2, h2, ms(10_500));
    one(
        &s,
        at,
        t(11),
        seal,
        "GLI-31 2.6.2",
        "contradicts its sale at 3",
    );
    // A seal before the cutoff by the unit's clock.
    let seal = s.unit.seal(raffle, "early-bird", 3, s.hash(3), t(9));
    one(&s, at, t(11), seal, "GLI-31 2.6.2", "before its cutoff");
}

#[test]
fn a_clock_running_backwards_or_far_ahead_is_reported() {
    let s = scenario(false);
    let vn = ValidationNumber::generate().unwrap();
    let h1 = s.hash(1);
    let at = s.leaf("r2");
    // Record 1 was sold at t(2).
    let back = s.unit.record(&s.raffle, 2, h1, "p3", 5, t(1), &vn);
    one(
        &s,
        at,
        t(4),
        sale_of(&back, t(4)),
        "GLI-31 6.1.4",
        "refuse it as clock: device time",
    );
    let ahead = s.unit.record(&s.raffle, 2, h1, "p3", 5, t(4 + 301), &vn);
    one(
        &s,
        at,
        t(4),
        sale_of(&ahead, t(4)),
        "GLI-31 6.1.4",
        "more than 300 s after",
    );
}

#[test]
fn a_draw_waits_for_every_unit() {
    let s = scenario(false);
    // Reconciled without the unit's seal (GLI-31 2.6.1).
    let reconciled = s.entries[s.leaf("early-reconciled")].clone();
    forged(
        &s,
        s.leaf("early-settled"),
        vec![reconciled],
        "GLI-31 2.6.1",
        "waits for sales unit \"gate-1\"",
        true,
    );
    // Sealed for the main draw at 5, but record 5 not yet uploaded.
    let seal = s.entries[s.leaf("main-sealed")].clone();
    let reconciled = s.entries[s.leaf("main-reconciled")].clone();
    forged(
        &s,
        s.leaf("r5"),
        vec![seal, reconciled],
        "GLI-31 2.6.1",
        "waits for sales unit \"gate-1\"",
        true,
    );
    // A declaration naming another head than the unit's.
    let u = scenario(true);
    let at = u.leaf("early-settled");
    let Body::RsuUnreconcilable(mut d) = u.entries[at].body.clone() else {
        panic!()
    };
    d.uploaded = U64(2);
    one(
        &u,
        at,
        t(11),
        Body::RsuUnreconcilable(d.clone()),
        "GLI-31 2.6.1",
        "its chain in the log is at 3",
    );
    d.uploaded = U64(3);
    d.approved_by = d.requested_by.clone();
    one(
        &u,
        at,
        t(11),
        Body::RsuUnreconcilable(d),
        "GLI-31 5.2.4",
        "approved by its own requester",
    );
    // A release before the last seal, or of other than the unsold numbers.
    let release = |count: u64| {
        Body::RsuReleased(RsuReleased {
            raffle: s.raffle.clone(),
            rsu: s.unit.id.clone(),
            count: U64(count),
        })
    };
    one(
        &s,
        s.leaf("main-sealed"),
        t(21),
        release(41),
        "GLI-31 2.6.2",
        "before it sealed for the last draw",
    );
    one(
        &s,
        s.leaf("released"),
        t(23),
        release(40),
        "GLI-31 2.6.2",
        "it has 41 unsold",
    );
}

#[test]
fn a_refusal_must_be_the_rules_own() {
    let s = scenario(false);
    let r2 = s.records[1].clone();
    let at = s.leaf("r2");
    // A valid record logged as refused, for a reason it does not have.
    for reason in [
        RejectReason::BadSignature,
        RejectReason::OutsideSalesWindow,
        RejectReason::Fork,
    ] {
        one(
            &s,
            at,
            t(4),
            refusal(&r2, t(4), reason),
            "GLI-31 6.1.4",
            &format!("refused as {}, but the rules give a sale", reason.as_str()),
        );
    }
    // A refused record for another reason than the rules give.
    let late = s.unit.record(
        &s.raffle,
        2,
        s.hash(1),
        "p3",
        5,
        ms(20_500),
        &ValidationNumber::generate().unwrap(),
    );
    one(
        &s,
        at,
        t(4),
        refusal(&late, t(4), RejectReason::Clock),
        "GLI-31 6.1.4",
        "refused as clock, but the rules give outside_sales_window",
    );
    // `validation_taken` holds only where the commitment was sold: the
    // server's ledger leaves that to its sequencer, the auditor checks it.
    forged(
        &s,
        at,
        vec![Entry::new(
            t(4),
            refusal(&r2, t(4), RejectReason::ValidationTaken),
        )],
        "GLI-31 6.1.4",
        "its validation commitment is new in the raffle",
        false,
    );
    let taken = &s.vns[0].1; // online1's
    let copy = s.unit.record(&s.raffle, 2, s.hash(1), "p3", 5, t(3), taken);
    let mut l = s.entries[..at].to_vec();
    l.push(Entry::new(
        t(4),
        refusal(&copy, t(4), RejectReason::ValidationTaken),
    ));
    let a = audit(&l);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.summaries()[0].rsu_refused["validation_taken"], 1);
    replay(&l);
    // `operator` rests on the operator lists, which the log does not hold
    // (they carry PIN hashes): the server's word, accepted on a record
    // otherwise a sale and counted; on any other record the rules' reason
    // must be given.
    let mut l = s.entries[..at].to_vec();
    l.push(Entry::new(t(4), refusal(&r2, t(4), RejectReason::Operator)));
    let a = audit(&l);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.summaries()[0].rsu_refused["operator"], 1);
    replay(&l);
    one(
        &s,
        at,
        t(4),
        refusal(&late, t(4), RejectReason::Operator),
        "GLI-31 6.1.4",
        "refused as operator, but the rules give outside_sales_window",
    );
    // Logged as a sale, that record repeats a validation number (2.3.2).
    forged(
        &s,
        at,
        vec![Entry::new(t(4), sale_of(&copy, t(4)))],
        "GLI-31 2.3.2",
        "is the sale's at leaf 2 already",
        false,
    );
    // A record refused outside the chain is logged once.
    let mut stranger = r2.clone();
    DeviceKey::from_seed(&[99; 32]).sign_record(ORIGIN, &mut stranger);
    let refused = Entry::new(t(4), refusal(&stranger, t(4), RejectReason::BadSignature));
    forged(
        &s,
        at,
        vec![refused.clone(), refused],
        "GLI-31 6.1.4",
        "logged a second time",
        true,
    );
}

#[test]
fn enrolment_and_allocation_follow_their_rules() {
    let s = scenario(false);
    let at = s.leaf("allocated");
    let enrol = |rsu: &str, key: [u8; 32], approver: &StaffId| {
        Body::RsuEnrolled(RsuEnrolled {
            rsu: rsu.parse().unwrap(),
            key: Digest32(key),
            requested_by: s.staff.clone(),
            approved_by: approver.clone(),
        })
    };
    let other = DeviceKey::from_seed(&[8; 32]).public();
    one(
        &s,
        at,
        t(1),
        enrol("gate-2", other, &s.staff),
        "GLI-31 5.2.4",
        "approved by its own requester",
    );
    one(
        &s,
        at,
        t(1),
        enrol("gate-1", other, &s.approver),
        "GLI-31 5.4.1",
        "enrolled a second time",
    );
    one(
        &s,
        at,
        t(1),
        enrol("gate-2", s.unit.key.public(), &s.approver),
        "GLI-31 6.1.2",
        "the key of sales unit \"gate-1\"",
    );
    one(
        &s,
        at,
        t(1),
        enrol("gate-2", [0; 32], &s.approver),
        "GLI-31 6.1.2",
        "not a usable Ed25519 public key",
    );
    // An allocation that is not the raffle's next numbers.
    let Body::RsuAllocated(mut a) = s.entries[at].body.clone() else {
        panic!()
    };
    a.numbers.first = U64(5);
    one(
        &s,
        at,
        t(1),
        Body::RsuAllocated(a),
        "GLI-31 3.2.1",
        "not at the raffle's next number 4",
    );
    // Online numbers inside the unit's allocation.
    let Body::Sale(mut online) = s.entries[s.leaf("online2")].body.clone() else {
        panic!()
    };
    online.numbers.first = U64(10);
    one(
        &s,
        s.leaf("online2"),
        t(2),
        Body::Sale(online),
        "GLI-31 3.2.1",
        "allocated to a sales unit (4..53)",
    );
    // A record of a unit with no allocation in the raffle.
    let stranger = Unit::new("gate-2", 8);
    let key = Digest32(stranger.key.public());
    let enrolled = Entry::new(
        t(2),
        Body::RsuEnrolled(RsuEnrolled {
            rsu: stranger.id.clone(),
            key,
            requested_by: s.staff.clone(),
            approved_by: s.approver.clone(),
        }),
    );
    let r = stranger.record(
        &s.raffle,
        1,
        [0; 32],
        "p1",
        20,
        t(2),
        &ValidationNumber::generate().unwrap(),
    );
    forged(
        &s,
        s.leaf("r1"),
        vec![enrolled, Entry::new(t(3), sale_of(&r, t(3)))],
        "GLI-31 3.2.1",
        "refuse it as not_allocated",
        true,
    );
}

#[test]
fn a_log_of_versions_3_and_4_is_read() {
    // An earlier build wrote the raffle's first entries (version 3); this
    // one the rest, from the unit's enrolment on.
    let s = scenario(false);
    let mut entries = s.entries.clone();
    let enrolled = s.leaf("enrolled");
    for e in &mut entries[..enrolled] {
        e.version = 3;
    }
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    assert!(
        bytes[..enrolled]
            .iter()
            .all(|b| b.starts_with(b"{\"v\":3,"))
    );
    assert!(
        bytes[enrolled..]
            .iter()
            .all(|b| b.starts_with(b"{\"v\":4,"))
    );
    let sale = String::from_utf8(bytes[s.leaf("online1")].clone()).unwrap();
    assert!(!sale.contains("\"device\""), "{sale}");
    let a = audit_bytes(&bytes);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.summaries()[0].rsu_sales["gate-1"].sales, 5);
    replay(&entries);
    // An rsu.* type at version 3 is unknown.
    let mut bad = bytes.clone();
    let text = String::from_utf8(bad[enrolled].clone()).unwrap();
    bad[enrolled] = text.replacen("{\"v\":4,", "{\"v\":3,", 1).into_bytes();
    let a = audit_bytes(&bad[..=enrolled]);
    assert_eq!(a.violations.len(), 1, "{:#?}", a.violations);
    assert_eq!(a.violations[0].section, "entry schema");
    assert!(a.violations[0].message.contains("unknown entry"));
}

/// The log written and signed as the server publishes it, then audited
/// from its files.
fn publish(entries: &[Entry], name: &str) -> (std::path::PathBuf, NoteSigner) {
    let dir = std::env::temp_dir().join(format!(
        "raffle-audit-rsu-{name}-{}-{}",
        std::process::id(),
        Timestamp::now().as_micros()
    ));
    let key = NoteSigner::generate(ORIGIN, ALG_ED25519).unwrap();
    let mut appender = Appender::create(DirStorage::new(&dir, false).unwrap());
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    appender.append(&bytes).unwrap();
    let note = appender.checkpoint(ORIGIN).sign(&key).unwrap();
    appender.publish_checkpoint(&note).unwrap();
    (dir, key)
}

#[test]
fn a_published_log_with_a_forged_rsu_sale_fails_its_audit() {
    let s = scenario(false);
    let (dir, key) = publish(&s.entries, "valid");
    let vkey = key.verifier();
    let opts = Options {
        vkey: &vkey,
        policy: None,
        state: None,
        trace: None,
        progress: false,
    };
    let source = Source::open(dir.to_str().unwrap()).unwrap();
    let outcome = audit_log(&source, &opts).unwrap();
    assert!(outcome.passed(), "{:#?}", outcome.audit.violations);
    let text = raffle_audit::report::text(&outcome);
    assert!(
        text.contains(
            "  sales unit gate-1: sales 5, draw numbers 9 of 50 allocated, the rest released; gross 35.00 CAD; reprints 0"
        ),
        "{text}"
    );
    assert!(
        text.contains("  device records refused: 2 (outside_sales_window 1, released 1)"),
        "{text}"
    );
    let json = raffle_audit::report::json(&outcome);
    assert_eq!(json["raffles"][0]["rsu_sales"]["gate-1"]["sales"], 5);
    std::fs::remove_dir_all(&dir).unwrap();

    // Record 2 re-signed by another key, logged and signed with the real
    // log key: the files verify, the rules do not.
    let mut entries = s.entries.clone();
    let mut stranger = s.records[1].clone();
    DeviceKey::from_seed(&[99; 32]).sign_record(ORIGIN, &mut stranger);
    let at = s.leaf("r2");
    entries[at] = Entry::new(t(4), sale_of(&stranger, t(4)));
    let (dir, key) = publish(&entries, "forged");
    let vkey = key.verifier();
    let opts = Options {
        vkey: &vkey,
        ..opts
    };
    let source = Source::open(dir.to_str().unwrap()).unwrap();
    let outcome = audit_log(&source, &opts).unwrap();
    assert!(!outcome.passed());
    let v = &outcome.audit.violations[0];
    assert_eq!((v.index, v.section), (at as u64, "GLI-31 6.1.2"), "{v}");
    assert!(v.message.contains("bad_signature"), "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_record_dated_before_its_numbers_beyond_a_disabling_or_logged_twice_is_reported() {
    let s = scenario(false);
    let raffle = &s.raffle;
    let vn = ValidationNumber::generate().unwrap();
    // Dated before its numbers were allocated (at t(1)): a unit cannot sell
    // what it did not hold (GLI-31 3.2.1).
    let early = s.unit.record(raffle, 1, [0; 32], "p1", 4, ms(500), &vn);
    one(
        &s,
        s.leaf("r1"),
        t(3),
        sale_of(&early, t(3)),
        "GLI-31 3.2.1",
        "refuse it as outside_allocation",
    );
    // Disabled at its head 2: record 3, though dated before the disabling,
    // is beyond the head it had shown (a stolen unit picks its own clock).
    let disabled = Entry::new(
        ms(4500),
        Body::RsuDisabled(RsuDisabled {
            rsu: s.unit.id.clone(),
            reason: DisableReason::Remote,
            by: Some(s.staff.clone()),
        }),
    );
    let r3 = Entry::new(ms(4600), sale_of(&s.records[2], ms(4600)));
    let v = forged(
        &s,
        s.leaf("r2") + 1,
        vec![disabled, r3],
        "GLI-31 5.4.2",
        "refuse it as disabled",
        true,
    );
    assert!(v.message.contains("beyond sequence 2"), "{v}");
    // A record in the chain already, logged again as a sale or as a fork.
    let after = s.leaf("r2") + 1;
    one(
        &s,
        after,
        ms(4600),
        sale_of(&s.records[1], ms(4600)),
        "GLI-31 6.1.4",
        "in the unit's chain already",
    );
    one(
        &s,
        after,
        ms(4600),
        refusal(&s.records[1], ms(4600), RejectReason::Fork),
        "GLI-31 6.1.4",
        "in the unit's chain already",
    );
}

#[test]
fn reprints_are_the_units_own_supervised_and_counted() {
    let s = scenario(false);
    // Just after r2 is logged.
    let at = s.leaf("r2") + 1;
    let r2 = s.records[1].clone();
    let op: StaffId = "s_5c2e8b1f0a7d3964".parse().unwrap();
    let sup: StaffId = "s_71d0c3e9a4b28f56".parse().unwrap();
    let reprint = |copy: u32, seq: u64, time: Timestamp, key: &DeviceKey| {
        let mut r = RsuReprinted {
            raffle: s.raffle.clone(),
            rsu: s.unit.id.clone(),
            seq: U64(seq),
            copy,
            operator: op.clone(),
            supervisor: sup.clone(),
            device_time: time,
            signature: HexBytes(vec![]),
            received: t(4),
        };
        key.sign_reprint(ORIGIN, &mut r);
        Body::RsuReprinted(r)
    };
    let after = Timestamp::from_micros(r2.device_time.as_micros() + 1);
    let mut l = s.entries[..at].to_vec();
    l.push(Entry::new(t(4), reprint(1, 2, after, &s.unit.key)));
    l.push(Entry::new(t(4), reprint(2, 2, after, &s.unit.key)));
    let a = audit(&l);
    assert!(a.violations.is_empty(), "{:#?}", a.violations);
    assert_eq!(a.summaries()[0].rsu_sales["gate-1"].reprints, 2);
    replay(&l);
    // A copy out of turn, another key's, of no sale, dated before the sale.
    one(
        &s,
        at,
        t(4),
        reprint(2, 2, after, &s.unit.key),
        "GLI-31 2.4",
        "copy 2 follows 0 reprints",
    );
    one(
        &s,
        at,
        t(4),
        reprint(1, 2, after, &DeviceKey::from_seed(&[5; 32])),
        "GLI-31 2.4",
        "the signature is not the unit's",
    );
    one(
        &s,
        at,
        t(4),
        reprint(1, 40, after, &s.unit.key),
        "GLI-31 2.4",
        "no such sale",
    );
    let before = Timestamp::from_micros(r2.device_time.as_micros() - 1);
    one(
        &s,
        at,
        t(4),
        reprint(1, 2, before, &s.unit.key),
        "GLI-31 2.4",
        "before the sale",
    );
    // At most three copies of a sale.
    let mut l = s.entries[..at].to_vec();
    for copy in 1..=3 {
        l.push(Entry::new(t(4), reprint(copy, 2, after, &s.unit.key)));
    }
    let mut ledger = replay(&l);
    let fourth = Entry::new(t(4), reprint(4, 2, after, &s.unit.key));
    assert!(ledger.apply(&fourth).is_err());
    l.push(fourth);
    let a = audit(&l);
    assert_eq!(a.violations.len(), 1, "{:#?}", a.violations);
    assert!(
        a.violations[0].message.contains("at most 3 reprints"),
        "{:#?}",
        a.violations
    );
    // Once a draw the sale is in is frozen, a second paper copy could
    // claim its prize: no reprint.
    one(
        &s,
        s.leaf("r4"),
        t(13),
        reprint(1, 2, after, &s.unit.key),
        "GLI-31 2.4",
        "after a draw it is in was frozen",
    );
}
