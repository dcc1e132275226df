//! Sales units (RSUs): enrolment and status (GLI-31 6.1.3, 5.4.2), number
//! allocations (3.2.1), the device chain of signed sale records (6.1.2,
//! 6.1.4), seals and the per-draw gate (2.6.1, 2.6.2), and refused records
//! (never a silent gap).
//!
//! The rules, as the architecture page states them:
//! - a device's records are signed by its enrolled key and chained by
//!   sequence and previous hash ([`crate::rsu`]); a record that is not
//!   ([`RejectReason::chained`] false) leaves the chain where it was; one
//!   that is but breaks a sale rule is still part of the chain;
//! - every `rsu.seen` and `rsu.sealed` head fixes the device's history up
//!   to it: a later record at that sequence with another hash is a fork;
//! - a device sells only its allocated numbers, in allocation order, each
//!   once (allocations take the raffle's next numbers, so no number is
//!   sold by two channels);
//! - device time never goes back between accepted sales, is at most
//!   [`crate::rsu::MAX_CLOCK_SKEW_MICROS`] after the server received the
//!   record, and is inside the sales window (`raffle.closed` ends online
//!   sales only);
//! - an RSU sale counts for a draw when its device time is before the
//!   cutoff and it is sequenced before the draw's freeze; a draw is
//!   reconciled only once every device allocated to the raffle sealed for
//!   its cutoff and uploaded up to the seal, or was declared
//!   unreconcilable by two people; a record that would count for a
//!   reconciled draw, or one its device was declared unreconcilable for,
//!   is refused.
//!
//! [`Ledger::rsu_verdict`] is the one judgement of a record: the sequencer
//! uses it to log a record as a sale or as `rsu.rejected`, and applying
//! either entry checks it again.

use super::*;
use crate::entry::{
    Channel, PaymentMethod, RejectReason, RsuAllocated, RsuDisabled, RsuEnabled, RsuEnrolled,
    RsuRecord, RsuRejected, RsuReleased, RsuReprinted, RsuSealed, RsuSeen, RsuUnreconcilable, Sale,
};
use crate::rsu::{self, Head};
use std::collections::{BTreeMap, HashSet};

/// A sales unit as the log knows it.
#[derive(Clone, Debug)]
pub struct Device {
    pub key: [u8; 32],
    pub enabled: bool,
    /// The time of the `rsu.disabled` in force, if disabled.
    pub disabled_at: Option<Timestamp>,
    /// While disabled, the last sequence it may still upload: the larger of
    /// its head in the log and the latest head it presented when it was
    /// disabled. Its device clock is its own, so a stolen unit cannot date
    /// new sales before the disabling: anything beyond is refused.
    pub disabled_after: Option<u64>,
    /// The last record of its chain in the log (accepted or rejected).
    pub head: Head,
    /// hashes[i] is the hash of record i + 1.
    hashes: Vec<[u8; 32]>,
    /// Heads it presented beyond `head` (`rsu.seen`, `rsu.sealed`).
    promised: BTreeMap<u64, [u8; 32]>,
    /// The latest head it presented.
    pub seen: Head,
    /// The device time of its latest accepted sale.
    pub last_time: Option<Timestamp>,
    pub raffles: HashMap<RaffleId, DeviceRaffle>,
    /// Records refused at sync, in log order.
    pub rejected: Vec<Rejection>,
    /// Hashes of refused records outside the chain (logged once).
    unchained: HashSet<[u8; 32]>,
    /// Reprints per sale, by the sale's sequence (GLI-31 2.4).
    pub reprints: HashMap<u64, u32>,
}

/// A refused record, listed for refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub raffle: RaffleId,
    pub seq: u64,
    /// The record's hash: a record refused out of order and accepted
    /// later is in the chain, and owes no refund.
    pub hash: [u8; 32],
    pub reason: RejectReason,
    pub price: Money,
    pub index: u64,
}

impl Rejection {
    /// Whether a buyer may be owed a refund: the record is not in the chain.
    pub fn owes_refund(&self, device: &Device) -> bool {
        device.hash_at(self.seq) != Some(self.hash)
    }
}

/// A device's part in one raffle.
#[derive(Clone, Debug, Default)]
pub struct DeviceRaffle {
    /// Allocated ranges (first, count), ascending.
    pub ranges: Vec<(u64, u64)>,
    /// When each range was allocated (its entry's time): no number is
    /// sold before the unit had it.
    pub allocated_at: Vec<Timestamp>,
    /// Numbers below this are sold or skipped.
    pub cursor: u64,
    pub allocated: u64,
    pub sold_numbers: u64,
    /// Its accepted sales: (sequence, device time), in chain order.
    pub sales: Vec<(u64, Timestamp)>,
    /// Gross of its accepted sales, in minor units.
    pub gross: u64,
    /// Its seal per draw.
    pub seals: HashMap<DrawId, Head>,
    /// Draws it was declared unreconcilable for, with its head then.
    pub unreconcilable: HashMap<DrawId, u64>,
    pub released: bool,
    /// Tickets it printed again (GLI-31 2.4).
    pub reprints: u64,
}

impl DeviceRaffle {
    /// Whether a draw may stop waiting for this device: sealed and uploaded
    /// up to the seal, or declared unreconcilable.
    pub fn settled_for(&self, draw: &str, head: Head) -> bool {
        self.unreconcilable.contains_key(draw)
            || self.seals.get(draw).is_some_and(|s| head.seq >= s.seq)
    }

    fn unsold(&self) -> u64 {
        self.allocated - self.sold_numbers
    }
}

impl Device {
    /// The hash of record `seq` (zeros for 0), if it is in the log.
    pub fn hash_at(&self, seq: u64) -> Option<[u8; 32]> {
        if seq == 0 {
            return Some(rsu::GENESIS);
        }
        self.hashes.get(usize::try_from(seq - 1).ok()?).copied()
    }

    /// Whether `head` agrees with the history in the log and every head
    /// presented before.
    fn agrees(&self, head: Head) -> bool {
        if head.seq <= self.head.seq {
            return self.hash_at(head.seq) == Some(head.hash);
        }
        self.promised.get(&head.seq).is_none_or(|h| *h == head.hash)
    }

    /// Whether the device may present `head` at a contact (`rsu.seen`):
    /// it agrees with its history and does not go back.
    pub fn accepts_head(&self, head: Head) -> bool {
        self.agrees(head) && head.seq >= self.seen.seq
    }

    fn advance(&mut self, hash: [u8; 32]) {
        self.head = Head {
            seq: self.head.seq + 1,
            hash,
        };
        self.hashes.push(hash);
        self.promised.retain(|&seq, _| seq > self.head.seq);
    }
}

fn no_device(rsu: &str) -> Error {
    refused(Refusal::RsuUnknown {
        rsu: rsu.to_string(),
    })
}

impl Ledger {
    pub fn device(&self, rsu: &str) -> Option<&Device> {
        self.devices.get(rsu)
    }

    pub fn devices(&self) -> impl Iterator<Item = (&RsuId, &Device)> {
        self.devices.iter()
    }

    fn device_mut(&mut self, rsu: &str) -> Result<&mut Device> {
        self.devices.get_mut(rsu).ok_or_else(|| no_device(rsu))
    }

    /// The devices a draw still waits for (GLI-31 2.6.1, 2.6.2).
    pub fn rsu_waiting(&self, raffle: &str, draw: &str) -> Vec<RsuId> {
        let mut waiting: Vec<RsuId> = self
            .devices
            .iter()
            .filter(|(_, d)| {
                d.raffles
                    .get(raffle)
                    .is_some_and(|dr| !dr.settled_for(draw, d.head))
            })
            .map(|(id, _)| id.clone())
            .collect();
        waiting.sort();
        waiting
    }

    /// Refuses while a draw waits for a device.
    pub(super) fn rsu_gate(&self, raffle: &str, draw: &str) -> Result<()> {
        match self.rsu_waiting(raffle, draw).first() {
            None => Ok(()),
            Some(rsu) => Err(refused(Refusal::RsuNotUploaded {
                rsu: rsu.to_string(),
                draw: draw.to_string(),
            })),
        }
    }

    pub(super) fn rsu_enrolled(&mut self, e: &RsuEnrolled) -> Result<()> {
        if e.requested_by == e.approved_by {
            return Err(refused(Refusal::RsuNeedsSecondPerson {}));
        }
        if self.devices.contains_key(&e.rsu) {
            return Err(refused(Refusal::RsuExists {
                rsu: e.rsu.to_string(),
            }));
        }
        rsu::check_key(&e.key.0)?;
        if self.devices.values().any(|d| d.key == e.key.0) {
            return Err(refused(Refusal::RsuKeyInUse {}));
        }
        self.devices.insert(
            e.rsu.clone(),
            Device {
                key: e.key.0,
                enabled: true,
                disabled_at: None,
                disabled_after: None,
                head: Head::EMPTY,
                hashes: Vec::new(),
                promised: BTreeMap::new(),
                seen: Head::EMPTY,
                last_time: None,
                raffles: HashMap::new(),
                rejected: Vec::new(),
                unchained: HashSet::new(),
                reprints: HashMap::new(),
            },
        );
        Ok(())
    }

    pub(super) fn rsu_enabled(&mut self, e: &RsuEnabled) -> Result<()> {
        if e.requested_by == e.approved_by {
            return Err(refused(Refusal::RsuNeedsSecondPerson {}));
        }
        let d = self.device_mut(&e.rsu)?;
        if d.enabled {
            return Err(refused(Refusal::RsuStatusUnchanged {
                rsu: e.rsu.to_string(),
                status: "enabled".into(),
            }));
        }
        // Two people accept the unit's journal as it is from here.
        d.enabled = true;
        d.disabled_at = None;
        d.disabled_after = None;
        Ok(())
    }

    pub(super) fn rsu_disabled(&mut self, entry: &Entry, e: &RsuDisabled) -> Result<()> {
        let d = self.device_mut(&e.rsu)?;
        if !d.enabled {
            return Err(refused(Refusal::RsuStatusUnchanged {
                rsu: e.rsu.to_string(),
                status: "disabled".into(),
            }));
        }
        d.enabled = false;
        d.disabled_at = Some(entry.time);
        d.disabled_after = Some(d.head.seq.max(d.seen.seq));
        Ok(())
    }

    pub(super) fn rsu_allocated(&mut self, entry: &Entry, e: &RsuAllocated) -> Result<()> {
        let d = self.devices.get(&e.rsu).ok_or_else(|| no_device(&e.rsu))?;
        if !d.enabled {
            return Err(refused(Refusal::RsuDisabled {
                rsu: e.rsu.to_string(),
            }));
        }
        if d.raffles.get(&e.raffle).is_some_and(|dr| dr.released) {
            return Err(refused(Refusal::RsuReleased {
                rsu: e.rsu.to_string(),
            }));
        }
        let r = self
            .raffles
            .get_mut(&e.raffle)
            .ok_or_else(|| refused(no_raffle(&e.raffle)))?;
        if r.status != Status::Open {
            return Err(refused(Refusal::RaffleNotOnSale {
                raffle: e.raffle.to_string(),
                status: r.status.as_str().to_string(),
            }));
        }
        // GLI-31 3.2.1: the raffle's next numbers, so no number is sold twice.
        let count = e.numbers.count.0;
        r.check_next_numbers(e.numbers.first.0, count)?;
        r.next_number += count;
        let dr = self
            .devices
            .get_mut(&e.rsu)
            .expect("checked")
            .raffles
            .entry(e.raffle.clone())
            .or_default();
        if dr.ranges.is_empty() {
            dr.cursor = e.numbers.first.0;
        }
        dr.ranges.push((e.numbers.first.0, count));
        dr.allocated_at.push(entry.time);
        dr.allocated += count;
        Ok(())
    }

    pub(super) fn rsu_seen(&mut self, e: &RsuSeen) -> Result<()> {
        let d = self.device_mut(&e.rsu)?;
        let head = Head {
            seq: e.seq.0,
            hash: e.hash.0,
        };
        if !d.agrees(head) || head.seq < d.seen.seq {
            return Err(refused(Refusal::RsuHeadForked {
                rsu: e.rsu.to_string(),
                seq: e.seq.0,
            }));
        }
        if head.seq > d.head.seq {
            d.promised.insert(head.seq, head.hash);
        }
        d.seen = head;
        Ok(())
    }

    pub(super) fn rsu_sealed(&mut self, entry: &Entry, e: &RsuSealed) -> Result<()> {
        let origin = self.origin.clone();
        let r = self
            .raffles
            .get(&e.raffle)
            .ok_or_else(|| refused(no_raffle(&e.raffle)))?;
        let cutoff = r.draw_config(&e.draw)?.cutoff;
        let d = self.devices.get(&e.rsu).ok_or_else(|| no_device(&e.rsu))?;
        let dr = d.raffles.get(&e.raffle).ok_or_else(|| {
            refused(Refusal::RsuNotAllocated {
                rsu: e.rsu.to_string(),
            })
        })?;
        if !rsu::verify(&d.key, &rsu::seal_message(&origin, e), &e.signature.0) {
            return Err(refused(Refusal::RsuBadSignature {
                rsu: e.rsu.to_string(),
            }));
        }
        if dr.seals.contains_key(&e.draw) {
            return Err(refused(Refusal::RsuAlreadySealed {
                rsu: e.rsu.to_string(),
                draw: e.draw.to_string(),
            }));
        }
        // The device seals once its own clock has passed the cutoff, and
        // the log's clock has too (within the allowed skew): a unit cannot
        // seal early and so turn its own later sales into refusals.
        if e.device_time < cutoff || rsu::latest_device_time(entry.time) < cutoff {
            return Err(refused(Refusal::RsuSealBeforeCutoff {
                rsu: e.rsu.to_string(),
                draw: e.draw.to_string(),
            }));
        }
        let head = Head {
            seq: e.seq.0,
            hash: e.hash.0,
        };
        if !d.agrees(head) {
            return Err(refused(Refusal::RsuHeadForked {
                rsu: e.rsu.to_string(),
                seq: e.seq.0,
            }));
        }
        // Its sales already in the log agree with the seal: those up to it
        // before the cutoff, those after it not.
        if dr
            .sales
            .iter()
            .any(|&(seq, t)| (seq <= head.seq) != (t < cutoff))
        {
            return Err(refused(Refusal::RsuSealContradicted {
                rsu: e.rsu.to_string(),
                draw: e.draw.to_string(),
            }));
        }
        let d = self.devices.get_mut(&e.rsu).expect("checked");
        if head.seq > d.head.seq {
            d.promised.insert(head.seq, head.hash);
        }
        d.raffles
            .get_mut(&e.raffle)
            .expect("checked")
            .seals
            .insert(e.draw.clone(), head);
        Ok(())
    }

    pub(super) fn rsu_released(&mut self, e: &RsuReleased) -> Result<()> {
        let r = self
            .raffles
            .get(&e.raffle)
            .ok_or_else(|| refused(no_raffle(&e.raffle)))?;
        let last = r.config.draws.last().map(|d| d.id.clone());
        let d = self
            .devices
            .get_mut(&e.rsu)
            .ok_or_else(|| no_device(&e.rsu))?;
        let head = d.head;
        let dr = d.raffles.get_mut(&e.raffle).ok_or_else(|| {
            refused(Refusal::RsuNotAllocated {
                rsu: e.rsu.to_string(),
            })
        })?;
        if dr.released {
            return Err(refused(Refusal::RsuReleased {
                rsu: e.rsu.to_string(),
            }));
        }
        // GLI-31 2.6.2: only once it showed every sale uploaded.
        let last = last.expect("a raffle has a draw");
        if dr.seals.get(&last).is_none_or(|s| head.seq < s.seq) {
            return Err(refused(Refusal::RsuNotUploaded {
                rsu: e.rsu.to_string(),
                draw: last.to_string(),
            }));
        }
        if e.count.0 != dr.unsold() {
            return Err(refused(Refusal::RsuReleaseCountMismatch {
                count: dr.unsold(),
            }));
        }
        dr.released = true;
        Ok(())
    }

    pub(super) fn rsu_unreconcilable(&mut self, e: &RsuUnreconcilable) -> Result<()> {
        if e.requested_by == e.approved_by {
            return Err(refused(Refusal::RsuNeedsSecondPerson {}));
        }
        let r = self
            .raffles
            .get(&e.raffle)
            .ok_or_else(|| refused(no_raffle(&e.raffle)))?;
        r.draw_config(&e.draw)?;
        let d = self
            .devices
            .get_mut(&e.rsu)
            .ok_or_else(|| no_device(&e.rsu))?;
        let head = d.head;
        let dr = d.raffles.get_mut(&e.raffle).ok_or_else(|| {
            refused(Refusal::RsuNotAllocated {
                rsu: e.rsu.to_string(),
            })
        })?;
        if dr.settled_for(&e.draw, head) {
            return Err(refused(Refusal::RsuAlreadyReconcilable {
                rsu: e.rsu.to_string(),
                draw: e.draw.to_string(),
            }));
        }
        if e.uploaded.0 != head.seq {
            return Err(refused(Refusal::RsuHeadMismatch {
                rsu: e.rsu.to_string(),
                seq: head.seq,
            }));
        }
        dr.unreconcilable.insert(e.draw.clone(), head.seq);
        Ok(())
    }

    /// How a device record received at `received` is logged: `None` as a
    /// sale, `Some(reason)` as `rsu.rejected`. An error when it is not
    /// logged at all (an unknown device, a record in the chain already).
    pub fn rsu_verdict(&self, r: &RsuRecord, received: Timestamp) -> Result<Option<RejectReason>> {
        let d = self.devices.get(&r.rsu).ok_or_else(|| no_device(&r.rsu))?;
        // GLI-31 6.1.2: the device's own signature, over this log's message.
        if !rsu::verify(&d.key, &rsu::sale_message(&self.origin, r), &r.signature.0) {
            return Ok(Some(RejectReason::BadSignature));
        }
        let seq = r.seq.0;
        // Sent again (a retried or concurrent sync): it is in the chain
        // already, and is logged neither as a sale nor as a fork.
        let hash = rsu::record_hash(&self.origin, r);
        if d.hash_at(seq) == Some(hash) {
            return Err(refused(Refusal::RsuRecordInChain { seq }));
        }
        if seq <= d.head.seq || (seq == d.head.seq + 1 && r.prev.0 != d.head.hash) {
            return Ok(Some(RejectReason::Fork));
        }
        if seq > d.head.seq + 1 {
            return Ok(Some(RejectReason::BrokenChain));
        }
        if d.promised.get(&seq).is_some_and(|h| *h != hash) {
            return Ok(Some(RejectReason::Fork));
        }
        // Chained: what follows are the sale rules.
        let (Some(raffle), Some(dr)) = (self.raffles.get(&r.raffle), d.raffles.get(&r.raffle))
        else {
            return Ok(Some(RejectReason::NotAllocated));
        };
        if dr.released {
            return Ok(Some(RejectReason::Released));
        }
        let package = raffle.config.packages.iter().find(|p| p.id == r.package);
        let fits = package.is_some_and(|p| {
            u64::from(p.tickets).checked_mul(u64::from(r.quantity)) == Some(r.numbers.count.0)
                && p.price.minor.checked_mul(u64::from(r.quantity)) == Some(r.price.minor)
                && p.price.currency == r.price.currency
        });
        if !fits || r.quantity == 0 {
            return Ok(Some(RejectReason::PackageMismatch));
        }
        // GLI-31 3.2.1: its next allocated numbers, within one range, sold
        // after the range was allocated.
        let (first, count) = (r.numbers.first.0, r.numbers.count.0);
        let inside = dr
            .ranges
            .iter()
            .zip(&dr.allocated_at)
            .any(|(&(f, c), &at)| {
                first >= f
                    && first.checked_add(count).is_some_and(|end| end <= f + c)
                    && r.device_time >= at
            });
        if first < dr.cursor || !inside {
            return Ok(Some(RejectReason::OutsideAllocation));
        }
        if d.last_time.is_some_and(|t| r.device_time < t)
            || r.device_time > rsu::latest_device_time(received)
        {
            return Ok(Some(RejectReason::Clock));
        }
        // GLI-31 2.2.2, 2.6.2: made inside the sales window, and before an
        // operator's early close.
        if r.device_time < raffle.config.sales_start
            || r.device_time >= raffle.config.sales_end
            || raffle.closed_at.is_some_and(|c| r.device_time >= c)
        {
            return Ok(Some(RejectReason::OutsideSalesWindow));
        }
        if d.disabled_at.is_some_and(|t| r.device_time >= t)
            || d.disabled_after.is_some_and(|last| seq > last)
        {
            return Ok(Some(RejectReason::Disabled));
        }
        // Every seal first, then the closed draws (the documented order).
        for draw in &raffle.config.draws {
            if let Some(seal) = dr.seals.get(&draw.id)
                && (seq <= seal.seq) != (r.device_time < draw.cutoff)
            {
                return Ok(Some(RejectReason::AfterSeal));
            }
        }
        for draw in &raffle.config.draws {
            let closed = raffle.draws.get(&draw.id).is_some_and(|s| s.reconciled)
                || dr.unreconcilable.contains_key(&draw.id);
            if r.device_time < draw.cutoff && closed {
                return Ok(Some(RejectReason::DrawClosed));
            }
        }
        Ok(None)
    }

    /// A `sale` entry of an RSU: its record is the device's next, and every
    /// sale rule holds.
    pub(super) fn rsu_sale(&mut self, entry: &Entry, e: &Sale) -> Result<()> {
        let index = self.size;
        let device = e.device.as_ref().expect("an RSU sale");
        let record = rsu::record_of_sale(e)
            .ok_or_else(|| Error::invalid("sale", "an RSU sale names its RSU and device record"))?;
        if e.channel != Channel::Rsu || e.sale != rsu::sale_id(&record.rsu, device.seq.0) {
            return Err(refused(Refusal::RsuSaleIdMismatch {}));
        }
        if device.received > entry.time {
            return Err(refused(Refusal::RsuReceivedLater {}));
        }
        if let Some(reason) = self.rsu_verdict(&record, device.received)? {
            return Err(refused(Refusal::RsuRecordRefused {
                reason: reason.as_str().to_string(),
            }));
        }
        let hash = rsu::record_hash(&self.origin, &record);
        let r = self
            .raffles
            .get_mut(&e.raffle)
            .expect("checked by the verdict");
        if r.sale_by_id.contains_key(&e.sale) {
            return Err(refused(Refusal::SaleExists {
                sale: e.sale.to_string(),
            }));
        }
        let gross = r.gross.checked_add(&e.price)?;
        let net = r.net.checked_add(&e.price)?;
        r.gross = gross;
        r.net = net;
        r.rsu_latest = Some(r.rsu_latest.map_or(e.stamped, |t| t.max(e.stamped)));
        let first = e.numbers.first.0;
        r.sale_by_id.insert(e.sale.clone(), SalePos::Rsu(first));
        r.rsu_sales.insert(
            first,
            SaleRecord {
                id: e.sale.clone(),
                first,
                count: e.numbers.count.0,
                price: e.price,
                sequenced: entry.time,
                voided: false,
                refunded: false,
                cash: device.payment == PaymentMethod::Cash,
                rsu: Some(record.rsu.clone()),
                device_time: Some(e.stamped),
                index,
            },
        );
        let d = self.devices.get_mut(&record.rsu).expect("checked");
        d.advance(hash);
        d.last_time = Some(e.stamped);
        let dr = d.raffles.get_mut(&e.raffle).expect("checked");
        dr.cursor = first + e.numbers.count.0;
        dr.sold_numbers += e.numbers.count.0;
        dr.gross = dr.gross.saturating_add(e.price.minor);
        dr.sales.push((device.seq.0, e.stamped));
        Ok(())
    }

    /// A refused record: the reason must be the verdict's (a taken
    /// validation number and an unlisted operator are judged by the
    /// sequencer, which sees every sold commitment and the operator lists,
    /// so they may stand on a record otherwise valid).
    pub(super) fn rsu_rejected(&mut self, entry: &Entry, e: &RsuRejected) -> Result<()> {
        let index = self.size;
        if e.received > entry.time {
            return Err(refused(Refusal::RsuReceivedLater {}));
        }
        let verdict = self.rsu_verdict(&e.record, e.received)?;
        let founded = verdict == Some(e.reason)
            || (verdict.is_none()
                && matches!(
                    e.reason,
                    RejectReason::ValidationTaken | RejectReason::Operator
                ));
        if !founded {
            return Err(refused(Refusal::RsuRejectionUnfounded {
                reason: e.reason.as_str().to_string(),
            }));
        }
        let hash = rsu::record_hash(&self.origin, &e.record);
        let d = self.devices.get_mut(&e.record.rsu).expect("checked");
        if e.reason.chained() {
            d.advance(hash);
        } else if !d.unchained.insert(hash) {
            return Err(refused(Refusal::RsuRecordAlreadyRefused {
                seq: e.record.seq.0,
            }));
        }
        d.rejected.push(Rejection {
            raffle: e.record.raffle.clone(),
            seq: e.record.seq.0,
            hash,
            reason: e.reason,
            price: e.record.price,
            index,
        });
        Ok(())
    }

    /// A reprint (GLI-31 2.4): signed by the device, of one of its sales
    /// in the log and not voided, the next copy of it, supervised by a
    /// second operator, dated after the sale and not ahead of its receipt.
    pub(super) fn rsu_reprinted(&mut self, entry: &Entry, e: &RsuReprinted) -> Result<()> {
        let no = |why: &str| {
            refused(Refusal::RsuReprintRefused {
                reason: why.to_string(),
            })
        };
        if e.received > entry.time {
            return Err(refused(Refusal::RsuReceivedLater {}));
        }
        let d = self.devices.get(&e.rsu).ok_or_else(|| {
            refused(Refusal::RsuUnknown {
                rsu: e.rsu.to_string(),
            })
        })?;
        if !rsu::verify(
            &d.key,
            &rsu::reprint_message(&self.origin, e),
            &e.signature.0,
        ) {
            return Err(no("the signature is not the unit's"));
        }
        if d.disabled_at.is_some_and(|t| e.device_time >= t) {
            return Err(no("the unit was disabled before it"));
        }
        let sale = rsu::sale_id(&e.rsu, e.seq.0);
        let raffle = self.raffles.get(&e.raffle);
        let s = raffle
            .and_then(|r| r.sale(sale.as_str()))
            .ok_or_else(|| no("the unit has no such sale in the log"))?;
        if s.voided {
            return Err(no("the sale is voided"));
        }
        if s.device_time.is_some_and(|t| e.device_time < t)
            || e.device_time > rsu::latest_device_time(e.received)
        {
            return Err(no(
                "its device time is before the sale or ahead of its receipt",
            ));
        }
        // Once a draw it takes part in is frozen, a second paper copy
        // could claim its prize: no more reprints.
        let r = raffle.expect("found above");
        let in_frozen_draw = r.config.draws.iter().any(|d| {
            r.draws.get(&d.id).is_some_and(|st| st.frozen.is_some()) && s.counts_for(d.cutoff, None)
        });
        if in_frozen_draw {
            return Err(no("a draw the sale is in is frozen"));
        }
        let copies = d.reprints.get(&e.seq.0).copied().unwrap_or(0);
        if e.copy > rsu::MAX_REPRINTS {
            return Err(no(&format!(
                "at most {} reprints of a sale",
                rsu::MAX_REPRINTS
            )));
        }
        if e.copy != copies + 1 {
            return Err(no(&format!(
                "the sale has {copies} reprints: this must be copy {}",
                copies + 1
            )));
        }
        let d = self.devices.get_mut(&e.rsu).expect("checked");
        d.reprints.insert(e.seq.0, e.copy);
        if let Some(dr) = d.raffles.get_mut(&e.raffle) {
            dr.reprints += 1;
        }
        Ok(())
    }

    /// Whether a refused record outside the chain was logged already (the
    /// sequencer logs each once, however often a device sends it).
    pub fn rsu_already_refused(&self, r: &RsuRecord) -> bool {
        self.devices
            .get(&r.rsu)
            .is_some_and(|d| d.unchained.contains(&rsu::record_hash(&self.origin, r)))
    }
}
