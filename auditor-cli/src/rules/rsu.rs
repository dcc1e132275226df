//! Sales units (RSUs, schema version 4) as the auditor replays them,
//! written from `docs/entry-schema.md` ("Sales units"), with the formats
//! of [`crate::rsu`]:
//!
//! - a unit is enrolled by two people (GLI-31 5.2.4, 6.1.3), each id and
//!   each key once, with a usable Ed25519 key (6.1.2); enabled again only
//!   by two people, disabled only while enabled (5.4.2);
//! - allocations: to an enabled unit that has not released the raffle, of
//!   an open raffle's next numbers (3.2.1), within the ticket limit; they
//!   advance the raffle's next number, so online sales go on after them;
//! - the chain: every record is signed by the unit's key and names the
//!   hash of the one before; every head presented (`rsu.seen`,
//!   `rsu.sealed`) fixes the history up to it, and no later record or
//!   head may contradict it (6.1.2);
//! - the verdict on a chained record, in the documented order:
//!   `not_allocated`, `released`, `package_mismatch`,
//!   `outside_allocation`, `clock`, `outside_sales_window`, `disabled`,
//!   `after_seal`, `draw_closed`; a sale only when none applies and its
//!   validation commitment is new in the raffle (2.3.2). An RSU `sale`
//!   must be one; an `rsu.rejected` must give exactly the verdict's
//!   reason (or `validation_taken`, for a record otherwise a sale whose
//!   commitment was sold in the raffle already; or `operator`, for a
//!   record otherwise a sale whose operator was on no list the server
//!   gave the unit: the lists carry PIN hashes and are not logged, so this
//!   one reason is the server's word, and the summary counts it). A chained refusal
//!   advances the unit's head; an unchained one is logged once;
//! - seals: signed by the unit, at or after the cutoff by its clock, once
//!   per draw, agreeing with its history and with its sales logged (those
//!   up to the seal before the cutoff, those after it not) (2.6.2);
//! - a release only once sealed for the raffle's last draw and uploaded up
//!   to that seal, of exactly the unsold numbers; an unreconcilable
//!   declaration by two people, naming the unit's head, once per draw;
//! - the draw gate: a draw is reconciled only once every unit allocated
//!   to the raffle has sealed for it and uploaded up to the seal, or was
//!   declared unreconcilable for it (2.6.1).
//!
//! A unit's state is global, as its chain spans raffles.

use super::*;
use crate::rsu::{self as format_, GENESIS};
use crate::sales::RsuSaleRec;
use ed25519_dalek::VerifyingKey;
use raffle_core::entry::{
    RejectReason, RsuAllocated, RsuDisabled, RsuEnabled, RsuEnrolled, RsuRecord, RsuRejected,
    RsuReleased, RsuReprinted, RsuSealed, RsuSeen, RsuUnreconcilable, Sale,
};
use std::collections::HashSet;

/// A chain head: a record's sequence and hash (0 and zeros: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    seq: u64,
    hash: [u8; 32],
}

/// A sales unit as the log has shown it.
pub(super) struct Device {
    key: VerifyingKey,
    key_bytes: [u8; 32],
    enabled: bool,
    /// The time of the `rsu.disabled` in force.
    disabled_at: Option<Timestamp>,
    /// While disabled, the last sequence it may still upload: the larger
    /// of its head and the head it had presented when disabled.
    disabled_after: Option<u64>,
    /// Its last record in the log, accepted or refused in the chain.
    head: Head,
    /// hashes[i]: the hash of record i + 1.
    hashes: Vec<[u8; 32]>,
    /// Heads it presented beyond `head`.
    promised: BTreeMap<u64, [u8; 32]>,
    /// The sequence of the latest head `rsu.seen` logged.
    seen: u64,
    /// The device time of its latest accepted sale.
    last_time: Option<Timestamp>,
    raffles: HashMap<String, DeviceRaffle>,
    /// Hashes of refused records outside the chain (each logged once).
    unchained: HashSet<[u8; 32]>,
    /// Reprints logged per sale, by the sale's sequence.
    reprints: HashMap<u64, u32>,
}

/// A unit's part in one raffle.
#[derive(Default)]
struct DeviceRaffle {
    /// Allocated ranges (first, count), ascending.
    ranges: Vec<(u64, u64)>,
    /// When each range was allocated: none is sold before.
    allocated_at: Vec<Timestamp>,
    /// Its next unsold number: numbers below are sold or skipped.
    cursor: u64,
    allocated: u64,
    sold: u64,
    /// Its accepted sales: (sequence, device time), in chain order.
    sales: Vec<(u64, Timestamp)>,
    /// Its seal per draw.
    seals: HashMap<String, Head>,
    /// Draws it was declared unreconcilable for, with its head then.
    unreconcilable: HashMap<String, u64>,
    released: bool,
}

impl DeviceRaffle {
    /// Whether a draw need not wait for the unit: sealed for it and
    /// uploaded up to the seal (`head`), or declared unreconcilable.
    fn settled_for(&self, draw: &str, head: Head) -> bool {
        self.unreconcilable.contains_key(draw)
            || self.seals.get(draw).is_some_and(|s| head.seq >= s.seq)
    }
}

/// What the summary says about one sales unit in a raffle.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RsuSummary {
    /// Its sales accepted, their draw numbers and gross.
    pub sales: u64,
    pub numbers: u64,
    pub gross_minor: u64,
    /// Draw numbers allocated to it.
    pub allocated: u64,
    /// Whether it has released its unsold numbers.
    pub released: bool,
    /// Tickets it printed again (GLI-31 2.4).
    pub reprints: u64,
}

impl Device {
    /// The hash of record `seq` (zeros for 0), if it is in the log.
    fn hash_at(&self, seq: u64) -> Option<[u8; 32]> {
        if seq == 0 {
            return Some(GENESIS);
        }
        self.hashes.get(usize::try_from(seq - 1).ok()?).copied()
    }

    /// Whether a head agrees with the records logged and every head
    /// presented before.
    fn agrees(&self, head: Head) -> bool {
        if head.seq <= self.head.seq {
            return self.hash_at(head.seq) == Some(head.hash);
        }
        self.promised.get(&head.seq).is_none_or(|h| *h == head.hash)
    }

    /// Record `head.seq + 1`, of hash `hash`, joins the chain.
    fn advance(&mut self, hash: [u8; 32]) {
        self.head = Head {
            seq: self.head.seq + 1,
            hash,
        };
        self.hashes.push(hash);
        let seq = self.head.seq;
        self.promised.retain(|&s, _| s > seq);
    }
}

/// Whether a refusal leaves the record in the unit's chain: only a sale
/// rule refused it, its signature and place are right.
fn chained(reason: RejectReason) -> bool {
    !matches!(
        reason,
        RejectReason::BadSignature | RejectReason::BrokenChain | RejectReason::Fork
    )
}

/// The GLI-31 section a refusal reason stands for.
fn section(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::BadSignature | RejectReason::BrokenChain | RejectReason::Fork => {
            "GLI-31 6.1.2"
        }
        RejectReason::NotAllocated | RejectReason::OutsideAllocation => "GLI-31 3.2.1",
        RejectReason::PackageMismatch => "GLI-31 2.2.3",
        RejectReason::Clock => "GLI-31 6.1.4",
        RejectReason::OutsideSalesWindow => "GLI-31 2.2.2",
        RejectReason::Released | RejectReason::AfterSeal => "GLI-31 2.6.2",
        RejectReason::Disabled => "GLI-31 5.4.2",
        RejectReason::DrawClosed => "GLI-31 2.6.1",
        RejectReason::ValidationTaken => "GLI-31 2.3.2",
        RejectReason::Operator => "GLI-31 3.2.2",
    }
}

/// A refusal: its reason and what the log shows.
type Refused = (RejectReason, String);

/// How a record received at `received` must be logged: `Ok` as a sale
/// (but for its validation commitment, judged by the caller), `Err` as
/// refused. `raffle` is the record's raffle while its state is held; a
/// settled raffle's units have all released it.
fn verdict(
    origin: &str,
    d: &Device,
    r: &RsuRecord,
    received: Timestamp,
    raffle: Option<&Raffle>,
) -> Result<(), Refused> {
    use RejectReason as R;
    let (seq, head) = (r.seq.0, d.head);
    // The chain (GLI-31 6.1.2).
    if !format_::verify(&d.key, &format_::sale_message(origin, r), &r.signature.0) {
        return Err((
            R::BadSignature,
            format!(
                "record {seq} is not signed by the key sales unit {} was enrolled with",
                r.rsu
            ),
        ));
    }
    if seq <= head.seq {
        return Err((
            R::Fork,
            format!(
                "sequence {seq} is taken: the unit's chain in the log is at {}",
                head.seq
            ),
        ));
    }
    if seq == head.seq + 1 && r.prev.0 != head.hash {
        return Err((
            R::Fork,
            format!(
                "record {seq} names a previous hash {}, not record {}'s",
                hex::encode(r.prev.0),
                head.seq
            ),
        ));
    }
    if seq > head.seq + 1 {
        return Err((
            R::BrokenChain,
            format!(
                "record {seq} skips ahead of the unit's chain, which is at {}",
                head.seq
            ),
        ));
    }
    let hash = format_::record_hash(origin, r);
    if d.promised.get(&seq).is_some_and(|h| *h != hash) {
        return Err((
            R::Fork,
            format!("record {seq} is not the one the unit presented at that sequence"),
        ));
    }
    // The sale rules, in the documented order.
    let dr = d.raffles.get(r.raffle.as_str());
    if dr.is_some_and(|dr| dr.released) {
        return Err((
            R::Released,
            "the unit has released its numbers of this raffle".into(),
        ));
    }
    let (Some(raffle), Some(dr)) = (raffle, dr) else {
        return Err((
            R::NotAllocated,
            "the unit has no numbers of this raffle".into(),
        ));
    };
    let c = &raffle.config;
    let package = c.packages.iter().find(|p| p.id == r.package);
    let fits = package.is_some_and(|p| {
        let q = u128::from(r.quantity);
        u128::from(p.tickets) * q == u128::from(r.numbers.count.0)
            && u128::from(p.price.minor) * q == u128::from(r.price.minor)
            && p.price.currency == r.price.currency
    });
    if !fits || r.quantity == 0 {
        return Err((
            R::PackageMismatch,
            format!(
                "{} × package {:?} is not {} numbers for {}",
                r.quantity, r.package, r.numbers.count.0, r.price
            ),
        ));
    }
    let (first, count) = (r.numbers.first.0, r.numbers.count.0);
    let inside = first.checked_add(count).is_some_and(|end| {
        dr.ranges
            .iter()
            .zip(&dr.allocated_at)
            .any(|(&(f, n), &when)| {
                first >= f && end <= f.saturating_add(n) && r.device_time >= when
            })
    });
    if first < dr.cursor || !inside {
        return Err((
            R::OutsideAllocation,
            format!(
                "numbers {first}..{} are not inside one range allocated before device time {} at or after the unit's next unsold number {}",
                first.saturating_add(count).saturating_sub(1),
                r.device_time,
                dr.cursor
            ),
        ));
    }
    let t = r.device_time;
    if let Some(last) = d.last_time
        && t < last
    {
        return Err((
            R::Clock,
            format!("device time {t} goes back before its previous sale's {last}"),
        ));
    }
    let latest = format_::latest_device_time(received);
    if t > latest {
        return Err((
            R::Clock,
            format!(
                "device time {t} is more than 300 s after the record was received at {received}"
            ),
        ));
    }
    if t < c.sales_start || t >= c.sales_end || raffle.closed_at.is_some_and(|closed| t >= closed) {
        return Err((
            R::OutsideSalesWindow,
            format!(
                "device time {t} is outside the sales window {} to {} (or after sales were closed)",
                c.sales_start, c.sales_end
            ),
        ));
    }
    if let Some(off) = d.disabled_at
        && t >= off
    {
        return Err((
            R::Disabled,
            format!("device time {t} is at or after the unit was disabled, at {off}"),
        ));
    }
    if let Some(last) = d.disabled_after
        && seq > last
    {
        return Err((
            R::Disabled,
            format!("record {seq} is beyond sequence {last}, the unit's head when it was disabled"),
        ));
    }
    for draw in &c.draws {
        let before = t < draw.cutoff;
        if let Some(seal) = dr.seals.get(draw.id.as_str())
            && (seq <= seal.seq) != before
        {
            return Err((
                R::AfterSeal,
                format!(
                    "record {seq} (device time {t}) contradicts the unit's seal at {} for draw {:?}, cut off at {}",
                    seal.seq, draw.id, draw.cutoff
                ),
            ));
        }
    }
    for (i, draw) in c.draws.iter().enumerate() {
        let closed = raffle.draws[i].reconciled || dr.unreconcilable.contains_key(draw.id.as_str());
        if t < draw.cutoff && closed {
            return Err((
                R::DrawClosed,
                format!(
                    "it would count for draw {:?}, already reconciled or declared unreconcilable for the unit",
                    draw.id
                ),
            ));
        }
    }
    Ok(())
}

/// A record already in the unit's chain is never logged again, as a sale
/// or as a refusal.
fn in_chain(origin: &str, d: &Device, r: &RsuRecord, v: &Cite) -> Result<(), Box<Violation>> {
    if d.hash_at(r.seq.0) == Some(format_::record_hash(origin, r)) {
        return Err(v(
            "GLI-31 6.1.4",
            format!(
                "sales unit {:?}'s record {} is logged again: it is in the unit's chain already",
                r.rsu, r.seq.0
            ),
        ));
    }
    Ok(())
}

fn no_device(rsu: &str, v: &Cite) -> Box<Violation> {
    v("GLI-31 6.1.3", format!("no sales unit {rsu:?} is enrolled"))
}

fn not_allocated(rsu: &str, v: &Cite) -> Box<Violation> {
    v(
        "GLI-31 3.2.1",
        format!("sales unit {rsu:?} has no numbers of this raffle"),
    )
}

impl Audit {
    /// The cutoff of `draw` of a raffle whose sales units may still seal:
    /// held, or settled with units.
    fn rsu_cutoff(
        &self,
        index: u64,
        raffle: &str,
        draw: &str,
        v: &Cite,
    ) -> Result<Timestamp, Box<Violation>> {
        let draws = match (self.raffles.get(raffle), self.rsu_settled.get(raffle)) {
            (Some(r), _) => &r.config.draws,
            (None, Some(draws)) => draws,
            (None, None) if self.settled.contains_key(raffle) => {
                return Err(Box::new(cite(
                    index,
                    Some(raffle),
                    "GLI-31 2.6.2",
                    "the raffle is settled (closed, every prize paid or forfeited): no entry may follow"
                        .into(),
                )));
            }
            (None, None) => {
                return Err(v(
                    "lifecycle",
                    "no raffle.created entry for this raffle precedes it".into(),
                ));
            }
        };
        draws
            .iter()
            .find(|d| d.id == draw)
            .map(|d| d.cutoff)
            .ok_or_else(|| v("lifecycle", format!("the raffle has no draw {draw:?}")))
    }

    /// GLI-31 2.6.1: a draw waits for every unit allocated to the raffle.
    pub(super) fn rsu_gate(
        &self,
        raffle: &str,
        draw: &str,
        v: &Cite,
    ) -> Result<(), Box<Violation>> {
        let mut waiting: Vec<&str> = self
            .devices
            .iter()
            .filter(|(_, d)| {
                d.raffles
                    .get(raffle)
                    .is_some_and(|dr| !dr.settled_for(draw, d.head))
            })
            .map(|(id, _)| id.as_str())
            .collect();
        waiting.sort_unstable();
        match waiting.first() {
            None => Ok(()),
            Some(rsu) => Err(v(
                "GLI-31 2.6.1",
                format!(
                    "draw {draw:?} is reconciled while it waits for sales unit {rsu:?}{}: it has neither sealed for the cutoff and uploaded up to its seal, nor been declared unreconcilable",
                    if waiting.len() > 1 {
                        format!(" and {} more", waiting.len() - 1)
                    } else {
                        String::new()
                    }
                ),
            )),
        }
    }

    pub(super) fn rsu_enrolled(
        &mut self,
        at: &At<'_>,
        e: &RsuEnrolled,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        two_people(
            &e.requested_by,
            &e.approved_by,
            "enrolment of a sales unit",
            &v,
        )?;
        if self.devices.contains_key(e.rsu.as_str()) {
            return Err(v(
                "GLI-31 5.4.1",
                format!("sales unit {:?} is enrolled a second time", e.rsu),
            ));
        }
        let Some(key) = format_::usable_key(&e.key.0) else {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "sales unit {:?} is enrolled with {}, not a usable Ed25519 public key",
                    e.rsu,
                    hex::encode(e.key.0)
                ),
            ));
        };
        if let Some((other, _)) = self.devices.iter().find(|(_, d)| d.key_bytes == e.key.0) {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "sales unit {:?} is enrolled with the key of sales unit {other:?}",
                    e.rsu
                ),
            ));
        }
        self.devices.insert(
            e.rsu.to_string(),
            Device {
                key,
                key_bytes: e.key.0,
                enabled: true,
                disabled_at: None,
                disabled_after: None,
                head: Head {
                    seq: 0,
                    hash: GENESIS,
                },
                hashes: Vec::new(),
                promised: BTreeMap::new(),
                seen: 0,
                last_time: None,
                raffles: HashMap::new(),
                unchained: HashSet::new(),
                reprints: HashMap::new(),
            },
        );
        Ok(())
    }

    pub(super) fn rsu_enabled(
        &mut self,
        at: &At<'_>,
        e: &RsuEnabled,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        two_people(
            &e.requested_by,
            &e.approved_by,
            "enabling of a sales unit",
            &v,
        )?;
        let d = self
            .devices
            .get_mut(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        if d.enabled {
            return Err(v(
                "GLI-31 5.4.2",
                format!("sales unit {:?} is enabled, and enabled again", e.rsu),
            ));
        }
        d.enabled = true;
        d.disabled_at = None;
        d.disabled_after = None;
        Ok(())
    }

    pub(super) fn rsu_disabled(
        &mut self,
        at: &At<'_>,
        e: &RsuDisabled,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let d = self
            .devices
            .get_mut(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        if !d.enabled {
            return Err(v(
                "GLI-31 5.4.2",
                format!("sales unit {:?} is disabled, and disabled again", e.rsu),
            ));
        }
        d.enabled = false;
        d.disabled_at = Some(at.time);
        d.disabled_after = Some(d.head.seq.max(d.seen));
        Ok(())
    }

    pub(super) fn rsu_allocated(
        &mut self,
        at: &At<'_>,
        e: &RsuAllocated,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let d = self
            .devices
            .get(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        if !d.enabled {
            return Err(v(
                "GLI-31 5.4.2",
                format!("numbers allocated to the disabled sales unit {:?}", e.rsu),
            ));
        }
        let known = d.raffles.get(e.raffle.as_str());
        if known.is_some_and(|dr| dr.released) {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "numbers allocated to sales unit {:?}, which released its numbers of this raffle",
                    e.rsu
                ),
            ));
        }
        let first_time = known.is_none();
        let r = self.raffle(at.index, &e.raffle)?;
        match r.status {
            Status::Open => {}
            Status::Draft => {
                return Err(v(
                    "GLI-31 2.2.2",
                    "numbers allocated before the raffle opened".into(),
                ));
            }
            _ => {
                return Err(v(
                    "GLI-31 2.6.2",
                    "numbers allocated after raffle.closed".into(),
                ));
            }
        }
        let (first, count) = (e.numbers.first.0, e.numbers.count.0);
        if first != r.next_free {
            return Err(v(
                "GLI-31 3.2.1",
                format!(
                    "the allocation starts at {first}, not at the raffle's next number {}",
                    r.next_free
                ),
            ));
        }
        if let Some(max) = r.config.max_tickets
            && r.issued.saturating_add(count) > max.0
        {
            return Err(v(
                "GLI-31 2.2.3",
                format!(
                    "the allocation issues more than the raffle's {} tickets",
                    max.0
                ),
            ));
        }
        r.next_free = first.saturating_add(count);
        r.issued = r.issued.saturating_add(count);
        r.allocations.push((first, count));
        if first_time {
            r.rsu_holding += 1;
        }
        r.summary
            .rsu_sales
            .entry(e.rsu.to_string())
            .or_default()
            .allocated += count;
        let dr = self
            .devices
            .get_mut(e.rsu.as_str())
            .expect("checked")
            .raffles
            .entry(e.raffle.to_string())
            .or_default();
        if dr.ranges.is_empty() {
            dr.cursor = first;
        }
        dr.ranges.push((first, count));
        dr.allocated_at.push(at.time);
        dr.allocated += count;
        Ok(())
    }

    pub(super) fn rsu_seen(&mut self, at: &At<'_>, e: &RsuSeen) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let d = self
            .devices
            .get_mut(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        let head = Head {
            seq: e.seq.0,
            hash: e.hash.0,
        };
        if head.seq < d.seen {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "sales unit {:?} presents its head at {}, before the head at {} it presented earlier",
                    e.rsu, head.seq, d.seen
                ),
            ));
        }
        if !d.agrees(head) {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "sales unit {:?} presents a head at {} ({}) that contradicts its records or an earlier head: a fork",
                    e.rsu,
                    head.seq,
                    hex::encode(head.hash)
                ),
            ));
        }
        if head.seq > d.head.seq {
            d.promised.insert(head.seq, head.hash);
        }
        d.seen = head.seq;
        Ok(())
    }

    pub(super) fn rsu_sealed(&mut self, at: &At<'_>, e: &RsuSealed) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let cutoff = self.rsu_cutoff(at.index, &e.raffle, &e.draw, &v)?;
        let d = self
            .devices
            .get(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        let dr = d
            .raffles
            .get(e.raffle.as_str())
            .ok_or_else(|| not_allocated(&e.rsu, &v))?;
        if !format_::verify(
            &d.key,
            &format_::seal_message(&self.origin, e),
            &e.signature.0,
        ) {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "the seal is not signed by the key sales unit {:?} was enrolled with",
                    e.rsu
                ),
            ));
        }
        if dr.seals.contains_key(e.draw.as_str()) {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?} seals for draw {:?} a second time",
                    e.rsu, e.draw
                ),
            ));
        }
        if e.device_time < cutoff || format_::latest_device_time(at.time) < cutoff {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?} seals for draw {:?} at device time {} (logged at {}), before its cutoff {cutoff}",
                    e.rsu, e.draw, e.device_time, at.time
                ),
            ));
        }
        let head = Head {
            seq: e.seq.0,
            hash: e.hash.0,
        };
        if !d.agrees(head) {
            return Err(v(
                "GLI-31 6.1.2",
                format!(
                    "sales unit {:?} seals at {} ({}), which contradicts its records or an earlier head: a fork",
                    e.rsu,
                    head.seq,
                    hex::encode(head.hash)
                ),
            ));
        }
        if let Some(&(seq, t)) = dr
            .sales
            .iter()
            .find(|&&(seq, t)| (seq <= head.seq) != (t < cutoff))
        {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?}'s seal at {} for draw {:?} contradicts its sale at {seq} (device time {t}; cutoff {cutoff})",
                    e.rsu, head.seq, e.draw
                ),
            ));
        }
        let d = self.devices.get_mut(e.rsu.as_str()).expect("checked");
        if head.seq > d.head.seq {
            d.promised.insert(head.seq, head.hash);
        }
        d.raffles
            .get_mut(e.raffle.as_str())
            .expect("checked")
            .seals
            .insert(e.draw.to_string(), head);
        Ok(())
    }

    pub(super) fn rsu_released(
        &mut self,
        at: &At<'_>,
        e: &RsuReleased,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        self.raffle(at.index, &e.raffle)?;
        let r = self.raffles.get(e.raffle.as_str()).expect("checked");
        let last = r.config.draws.last().map(|d| d.id.to_string());
        let d = self
            .devices
            .get(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        let dr = d
            .raffles
            .get(e.raffle.as_str())
            .ok_or_else(|| not_allocated(&e.rsu, &v))?;
        if dr.released {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?} releases its numbers of the raffle a second time",
                    e.rsu
                ),
            ));
        }
        let last = last.unwrap_or_default();
        let uploaded = dr.seals.get(&last).is_some_and(|s| d.head.seq >= s.seq);
        if !uploaded {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?} releases its numbers before it sealed for the last draw {last:?} and uploaded up to its seal",
                    e.rsu
                ),
            ));
        }
        let unsold = dr.allocated - dr.sold;
        if e.count.0 != unsold {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "sales unit {:?} releases {} numbers; it has {unsold} unsold ({} allocated, {} sold)",
                    e.rsu, e.count.0, dr.allocated, dr.sold
                ),
            ));
        }
        self.devices
            .get_mut(e.rsu.as_str())
            .expect("checked")
            .raffles
            .get_mut(e.raffle.as_str())
            .expect("checked")
            .released = true;
        let r = self.raffles.get_mut(e.raffle.as_str()).expect("checked");
        r.rsu_holding = r.rsu_holding.saturating_sub(1);
        r.summary
            .rsu_sales
            .entry(e.rsu.to_string())
            .or_default()
            .released = true;
        if r.is_settled(at.time) {
            self.settle(&e.raffle);
        }
        Ok(())
    }

    pub(super) fn rsu_unreconcilable(
        &mut self,
        at: &At<'_>,
        e: &RsuUnreconcilable,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        two_people(
            &e.requested_by,
            &e.approved_by,
            "declaration of an unreconcilable sales unit",
            &v,
        )?;
        self.rsu_cutoff(at.index, &e.raffle, &e.draw, &v)?;
        let d = self
            .devices
            .get_mut(e.rsu.as_str())
            .ok_or_else(|| no_device(&e.rsu, &v))?;
        let head = d.head;
        let dr = d
            .raffles
            .get_mut(e.raffle.as_str())
            .ok_or_else(|| not_allocated(&e.rsu, &v))?;
        if dr.settled_for(&e.draw, head) {
            return Err(v(
                "GLI-31 2.6.1",
                format!(
                    "sales unit {:?} is declared unreconcilable for draw {:?}, for which it has sealed and uploaded, or was declared already",
                    e.rsu, e.draw
                ),
            ));
        }
        if e.uploaded.0 != head.seq {
            return Err(v(
                "GLI-31 2.6.1",
                format!(
                    "the declaration names sales unit {:?}'s head as {}; its chain in the log is at {}",
                    e.rsu, e.uploaded.0, head.seq
                ),
            ));
        }
        dr.unreconcilable.insert(e.draw.to_string(), head.seq);
        Ok(())
    }

    /// A `sale` with a device record: the unit's next record, a sale by
    /// every rule (GLI-31 6.1.2, 6.1.4).
    pub(super) fn rsu_sale(&mut self, at: &At<'_>, e: &Sale) -> Result<(), Box<Violation>> {
        let index = at.index;
        let lookup = at.lookup;
        let v = |section: &'static str, message: String| at.v(section, message);
        let (Some(record), Some(device)) = (format_::record_of_sale(e), e.device.as_ref()) else {
            return Err(v(
                "entry schema",
                "an RSU sale names its sales unit and carries its device record".into(),
            ));
        };
        let rsu = record.rsu.to_string();
        let seq = record.seq.0;
        let id = format_::sale_id(&rsu, seq);
        if e.sale.as_str() != id {
            return Err(v(
                "GLI-31 3.2.1",
                format!(
                    "RSU sale {} is not the id {id} derived from sales unit {rsu:?} and sequence {seq}",
                    e.sale
                ),
            ));
        }
        if device.received > at.time {
            return Err(v(
                "GLI-31 5.3",
                format!(
                    "the record is received at {}, after it was sequenced at {}",
                    device.received, at.time
                ),
            ));
        }
        self.raffle(index, &e.raffle)?;
        let d = self
            .devices
            .get(rsu.as_str())
            .ok_or_else(|| no_device(&rsu, &v))?;
        in_chain(&self.origin, d, &record, &v)?;
        let r = self.raffles.get(e.raffle.as_str()).expect("checked");
        if let Err((reason, why)) = verdict(&self.origin, d, &record, device.received, Some(r)) {
            return Err(v(
                section(reason),
                format!(
                    "sales unit {rsu:?}'s record {seq} is logged as a sale, but the rules refuse it as {}: {why}",
                    reason.as_str()
                ),
            ));
        }
        let commitment = hex::encode(e.validation.0);
        r.check_new_commitment(&commitment, lookup, &v)?;
        if let Some(p) = r.sale_pos(&e.sale)
            && sale_id_at(lookup, r.sale(p).leaf).is_none_or(|earlier| earlier == e.sale)
        {
            return Err(v(
                "GLI-31 3.2.1",
                format!(
                    "sale {} is sold twice (first at leaf {})",
                    e.sale,
                    r.sale(p).leaf
                ),
            ));
        }
        let package = r
            .config
            .packages
            .iter()
            .position(|p| p.id == e.package)
            .expect("the verdict found it");
        let hash = format_::record_hash(&self.origin, &record);
        let (first, count) = (e.numbers.first.0, e.numbers.count.0);
        let r = self.raffles.get_mut(e.raffle.as_str()).expect("checked");
        let position = r.sales.next_rsu();
        r.index_sale(&e.sale, &commitment, position, lookup, &v)?;
        r.sales.push_rsu(RsuSaleRec {
            sale: SaleRec {
                first,
                sequenced: at.time.as_micros(),
                leaf: index,
                quantity: e.quantity,
                package: package as u16,
                voided: false,
                refunded: false,
            },
            device_time: e.stamped.as_micros(),
        });
        r.rsu_latest = r.rsu_latest.max(e.stamped.as_micros());
        let s = &mut r.summary;
        s.sales += 1;
        s.numbers = s.numbers.saturating_add(count);
        s.gross_minor = s.gross_minor.saturating_add(e.price.minor);
        s.net_minor = s.net_minor.saturating_add(e.price.minor);
        let unit = s.rsu_sales.entry(rsu.clone()).or_default();
        unit.sales += 1;
        unit.numbers = unit.numbers.saturating_add(count);
        unit.gross_minor = unit.gross_minor.saturating_add(e.price.minor);
        let d = self.devices.get_mut(rsu.as_str()).expect("checked");
        d.advance(hash);
        d.last_time = Some(e.stamped);
        let dr = d
            .raffles
            .get_mut(e.raffle.as_str())
            .expect("the verdict found it");
        dr.cursor = first + count;
        dr.sold += count;
        dr.sales.push((seq, e.stamped));
        Ok(())
    }

    /// A reprint (GLI-31 2.4): signed by the unit, of one of its sales in
    /// the log and not voided, the next copy, by two operators, dated at or
    /// after the sale and not ahead of its receipt, received before it is
    /// logged.
    pub(super) fn rsu_reprinted(
        &mut self,
        at: &At<'_>,
        e: &RsuReprinted,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let (rsu, seq) = (e.rsu.as_str(), e.seq.0);
        let no = |why: String| {
            v(
                "GLI-31 2.4",
                format!("sales unit {rsu:?}'s reprint of record {seq}: {why}"),
            )
        };
        if e.received > at.time {
            return Err(no(format!(
                "received at {}, after it was logged",
                e.received
            )));
        }
        let d = self.devices.get(rsu).ok_or_else(|| no_device(rsu, &v))?;
        if !format_::verify(
            &d.key,
            &format_::reprint_message(&self.origin, e),
            &e.signature.0,
        ) {
            return Err(no("the signature is not the unit's".into()));
        }
        if e.operator == e.supervisor {
            return Err(no("not supervised by a second operator".into()));
        }
        if d.disabled_at.is_some_and(|t| e.device_time >= t) {
            return Err(no("the unit was disabled before it".into()));
        }
        if e.copy > format_::MAX_REPRINTS {
            return Err(no(format!(
                "at most {} reprints of a sale",
                format_::MAX_REPRINTS
            )));
        }
        let sold_at = d
            .raffles
            .get(e.raffle.as_str())
            .and_then(|dr| {
                dr.sales
                    .binary_search_by_key(&seq, |&(s, _)| s)
                    .ok()
                    .map(|i| dr.sales[i].1)
            })
            .ok_or_else(|| no("the unit has no such sale in the raffle".into()))?;
        if e.device_time < sold_at || e.device_time > format_::latest_device_time(e.received) {
            return Err(no(format!(
                "its device time {} is before the sale ({sold_at}) or ahead of its receipt",
                e.device_time
            )));
        }
        let copies = d.reprints.get(&seq).copied().unwrap_or(0);
        if e.copy != copies + 1 {
            return Err(no(format!("copy {} follows {copies} reprints", e.copy)));
        }
        let sale = format_::sale_id(rsu, seq);
        let r = self.raffle(at.index, e.raffle.as_str())?;
        let voided = r
            .sale_pos(&sale)
            .is_some_and(|i| r.sales.sold(i).sale.voided);
        if voided {
            return Err(v(
                "GLI-31 2.4",
                format!("sales unit {rsu:?} reprinted record {seq}, a voided sale"),
            ));
        }
        // A second paper copy after a draw it is in was frozen could claim
        // its prize.
        let sold_micros = sold_at.as_micros();
        if r.draws
            .iter()
            .any(|d| d.frozen.is_some() && sold_micros < d.config.cutoff.as_micros())
        {
            return Err(v(
                "GLI-31 2.4",
                format!(
                    "sales unit {rsu:?} reprinted record {seq} after a draw it is in was frozen"
                ),
            ));
        }
        r.summary
            .rsu_sales
            .entry(rsu.to_string())
            .or_default()
            .reprints += 1;
        self.devices
            .get_mut(rsu)
            .expect("checked")
            .reprints
            .insert(seq, e.copy);
        Ok(())
    }

    /// A refused record: the reason is the verdict's, and it is logged in
    /// its place (GLI-31 6.1.4: never a silent gap).
    pub(super) fn rsu_rejected(
        &mut self,
        at: &At<'_>,
        e: &RsuRejected,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        let record = &e.record;
        let (rsu, seq, raffle) = (record.rsu.as_str(), record.seq.0, record.raffle.as_str());
        if e.received > at.time {
            return Err(v(
                "GLI-31 5.3",
                format!(
                    "the record is received at {}, after it was sequenced at {}",
                    e.received, at.time
                ),
            ));
        }
        let d = self.devices.get(rsu).ok_or_else(|| no_device(rsu, &v))?;
        in_chain(&self.origin, d, record, &v)?;
        let r = self.raffles.get(raffle);
        let founded = match verdict(&self.origin, d, record, e.received, r) {
            Err((reason, _)) if reason == e.reason => Ok(()),
            Err((reason, why)) => Err(format!("{}: {why}", reason.as_str())),
            // The server's word (the summary counts these).
            Ok(()) if e.reason == RejectReason::Operator => Ok(()),
            Ok(()) if e.reason == RejectReason::ValidationTaken => {
                let hex = hex::encode(record.validation.0);
                match r.and_then(|r| r.commitment_taken(&hex, at.lookup)) {
                    Some(_) => Ok(()),
                    None => Err("a sale: its validation commitment is new in the raffle".into()),
                }
            }
            Ok(()) => Err("a sale".into()),
        };
        if let Err(given) = founded {
            return Err(v(
                "GLI-31 6.1.4",
                format!(
                    "sales unit {rsu:?}'s record {seq} is refused as {}, but the rules give {given}",
                    e.reason.as_str()
                ),
            ));
        }
        let hash = format_::record_hash(&self.origin, record);
        let chained = chained(e.reason);
        if !chained && d.unchained.contains(&hash) {
            return Err(v(
                "GLI-31 6.1.4",
                format!("sales unit {rsu:?}'s refused record {seq} is logged a second time"),
            ));
        }
        let d = self.devices.get_mut(rsu).expect("checked");
        if chained {
            d.advance(hash);
        } else {
            d.unchained.insert(hash);
        }
        let reason = e.reason.as_str().to_string();
        if let Some(r) = self.raffles.get_mut(raffle) {
            *r.summary.rsu_refused.entry(reason).or_default() += 1;
        } else if let Some(s) = self.settled.get_mut(raffle) {
            *s.rsu_refused.entry(reason).or_default() += 1;
        }
        Ok(())
    }
}
