//! The raffle rules, as a state machine over log entries.
//!
//! [`Ledger::apply`] checks one entry against every rule of the
//! architecture page and GLI-31 and, only if all hold, changes the state.
//! The sequencer calls it for every candidate entry, in the order it assigns
//! leaf indices, so the log order is the order in which the rules were
//! enforced; rolling the database forward from the published log calls it
//! for every published entry. (The auditor has its own, separate checks.)
//!
//! The rules are split by concept, each file stating the rules it enforces:
//! [`lifecycle`], [`sales`], [`draws`], [`claims`], [`rsu`].
//!
//! State is kept per raffle: its configuration and status, its sales in
//! number order (draw numbers are issued consecutively, so a sale is a
//! range), and each draw's reconciliation, freeze, result and claim.

use crate::chunked::ChunkedVec;
use crate::draw::{DrawRng, eligible_hash, seed_commitment, select};
use crate::entry::{
    Body, CloseReason, Digest32, DrawConfig, DrawPerformed, EarlyBirdDeduction, Entry, HexBytes,
    Prize, RaffleConfig, Redraw, RedrawReason, U64, UnclaimedRule, WinRule,
};
use crate::ids::{DrawId, RaffleId, RsuId, SaleId};
use crate::mutants::{self, Mutant};
use crate::prize::fifty_fifty_prize;
use crate::{Error, Money, Refusal, Result, Timestamp};
use std::collections::{BTreeMap, HashMap};

mod claims;
mod draws;
mod lifecycle;
mod rsu;
mod sales;

pub use rsu::{Device, DeviceRaffle, Rejection};

/// Where a raffle is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Draft,
    Open,
    Closed,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// The end of a claim window that opened at `from` (GLI-31 2.7.1).
pub fn claim_deadline(from: Timestamp, window_days: u32) -> Timestamp {
    Timestamp::from_micros(
        from.as_micros()
            .saturating_add(i64::from(window_days) * 86_400_000_000),
    )
}

/// One sale as the rules need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleRecord {
    pub id: SaleId,
    pub first: u64,
    pub count: u64,
    pub price: Money,
    /// When the sale was sequenced (its entry's time).
    pub sequenced: Timestamp,
    pub voided: bool,
    pub refunded: bool,
    /// Paid in cash at a sales unit (its float and drop, GLI-31 2.8.1 d).
    pub cash: bool,
    /// The RSU that sold it; `None` online.
    pub rsu: Option<RsuId>,
    /// An RSU sale's device time: it counts for a draw whose cutoff is
    /// later, if it was sequenced before that draw's freeze.
    pub device_time: Option<Timestamp>,
    /// Its leaf index.
    pub index: u64,
}

impl SaleRecord {
    /// Whether the sale counts for a draw with this cutoff, frozen at leaf
    /// `frozen` (if it is): an online sale when it was sequenced before the
    /// cutoff, an RSU sale when its device time is before the cutoff and
    /// it was sequenced before the freeze (architecture page, "Sales units").
    pub fn counts_for(&self, cutoff: Timestamp, frozen: Option<u64>) -> bool {
        match self.device_time {
            None => self.sequenced < cutoff,
            Some(t) => t < cutoff && frozen.is_none_or(|f| self.index < f),
        }
    }
}

/// Where a sale is kept: online sales in the order they were issued
/// (their numbers ascend), RSU sales by first number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SalePos {
    Online(usize),
    Rsu(u64),
}

/// A draw's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrawState {
    pub reconciled: bool,
    /// Leaf index, eligible count and hash, seed commitment and prize of `draw.frozen`.
    pub frozen: Option<Frozen>,
    /// The current winner (the latest performance's).
    pub winner: Option<Winner>,
    /// What the performances so far fixed, once the draw is performed.
    pub performed: Option<Performed>,
    pub claimed: bool,
}

/// What a draw's performances fixed: the generator (seed and contribution,
/// the same for its redraws), how much of its stream they consumed, and
/// which eligible positions they drew (never drawn again in this draw).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Performed {
    pub seed: Vec<u8>,
    pub contribution: Vec<u8>,
    pub raw_used: u64,
    /// Positions in the frozen eligible list drawn so far, ascending.
    pub drawn: Vec<u64>,
    /// When the latest performance was logged: its claim window starts there.
    pub at: Timestamp,
}

/// The next winner of a draw, as its generator gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawn {
    /// Every raw value consumed; the last one was accepted.
    pub raw: Vec<u64>,
    /// The accepted index, among the eligible numbers not drawn before in
    /// this draw (on a first performance, all of them).
    pub index: u64,
    /// Its position in the frozen eligible list.
    pub position: u64,
    pub number: u64,
    pub sale: SaleId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub index: u64,
    pub n: u64,
    pub eligible_sha256: Digest32,
    pub seed_sha256: Digest32,
    pub prize: Money,
    /// The exclusions as they stood at the freeze (earlier draws' winners,
    /// as the win rule says): a later redraw of an earlier draw does not
    /// change an eligible set already fixed.
    excluded_sales: Vec<SaleId>,
    excluded_numbers: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Winner {
    pub number: u64,
    pub sale: SaleId,
}

/// What a reconciliation acknowledges for one draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconciliationFigures {
    pub sales: u64,
    pub gross: Money,
    pub voids: u64,
    pub voided: Money,
    pub refunded: Money,
}

/// Everything the rules know about one raffle.
#[derive(Clone, Debug)]
pub struct RaffleState {
    pub id: RaffleId,
    pub config: RaffleConfig,
    pub status: Status,
    pub closed_at: Option<Timestamp>,
    /// The next draw number to issue.
    pub next_number: u64,
    /// Online sales in number order (in chunks: appending never moves
    /// them). Numbers allocated to RSUs are gaps in it.
    online: ChunkedVec<SaleRecord>,
    /// RSU sales by first number (they arrive out of number order).
    rsu_sales: BTreeMap<u64, SaleRecord>,
    /// The latest device time of an RSU sale (the live prize's shortcut).
    rsu_latest: Option<Timestamp>,
    /// A B-tree, not a hash map: a hash map doubles and rehashes every key
    /// at once while the sequencer holds the ledger (164 ms at a million
    /// sales), a B-tree grows a node at a time.
    sale_by_id: BTreeMap<SaleId, SalePos>,
    pub draws: HashMap<DrawId, DrawState>,
    /// Sales whose validation number a `claim.paid` has published, with
    /// that number: it authorises no further claim (GLI-31 2.7.1).
    pub revealed: HashMap<SaleId, String>,
    /// Sum of the prices of non-voided sales.
    pub net: Money,
    pub gross: Money,
    /// The SHA-256 of the payment account card sales are paid into, from
    /// `raffle.opened` (schema version 3).
    pub payment_account: Option<[u8; 32]>,
}

impl RaffleState {
    pub fn sold_numbers(&self) -> u64 {
        self.next_number - self.config.first_number.0
    }

    pub fn sale(&self, id: &str) -> Option<&SaleRecord> {
        match *self.sale_by_id.get(id)? {
            SalePos::Online(i) => self.online.get(i),
            SalePos::Rsu(first) => self.rsu_sales.get(&first),
        }
    }

    fn sale_mut(&mut self, id: &str) -> Option<&mut SaleRecord> {
        match *self.sale_by_id.get(id)? {
            SalePos::Online(i) => self.online.get_mut(i),
            SalePos::Rsu(first) => self.rsu_sales.get_mut(&first),
        }
    }

    /// Every sale, in number order (online and RSU sales merged).
    pub fn sales(&self) -> impl Iterator<Item = &SaleRecord> + '_ {
        let mut online = self.online.iter().peekable();
        let mut rsu = self.rsu_sales.values().peekable();
        std::iter::from_fn(move || match (online.peek(), rsu.peek()) {
            (Some(a), Some(b)) if b.first < a.first => rsu.next(),
            (Some(_), _) => online.next(),
            (None, _) => rsu.next(),
        })
    }

    /// How many sales there are.
    pub fn sale_count(&self) -> usize {
        self.online.len() + self.rsu_sales.len()
    }

    pub fn draw_config(&self, draw: &str) -> Result<&DrawConfig> {
        self.config
            .draws
            .iter()
            .find(|d| d.id == draw)
            .ok_or_else(|| {
                refused(Refusal::RaffleHasNoDraw {
                    raffle: self.id.to_string(),
                    draw: draw.to_string(),
                })
            })
    }

    /// The sale holding a draw number.
    pub fn sale_of_number(&self, number: u64) -> Option<&SaleRecord> {
        let i = self.online.partition_point(|s| s.first + s.count <= number);
        if let Some(s) = self.online.get(i).filter(|s| s.first <= number) {
            return Some(s);
        }
        self.rsu_sales
            .range(..=number)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| number < s.first + s.count)
    }
}

fn refused(refusal: Refusal) -> Error {
    Error::Refused(refusal)
}

fn no_raffle(raffle: &str) -> Refusal {
    Refusal::NoRaffle {
        raffle: raffle.to_string(),
    }
}

fn no_draw(draw: &str) -> Refusal {
    Refusal::NoDraw {
        draw: draw.to_string(),
    }
}

fn not_frozen(draw: &str) -> Refusal {
    Refusal::DrawNotFrozen {
        draw: draw.to_string(),
    }
}

/// The whole ledger: every raffle, and the log's clock.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    raffles: HashMap<RaffleId, RaffleState>,
    /// Number of entries applied (the next leaf index).
    size: u64,
    last_time: Option<Timestamp>,
    /// Last event id anchored by an `events.digest` entry.
    last_event: u64,
    /// The schema version of the latest entry: versions never go down.
    last_version: u64,
    /// Sales units, by id (their chains span raffles).
    devices: HashMap<RsuId, Device>,
    /// The log's origin: device signatures name it.
    origin: String,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// The ledger of the log named `origin` (needed to check device
    /// signatures: with none, every device record is refused).
    pub fn for_log(origin: &str) -> Ledger {
        Ledger {
            origin: origin.to_string(),
            ..Ledger::default()
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Entries applied so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn last_time(&self) -> Option<Timestamp> {
        self.last_time
    }

    pub fn raffle(&self, id: &str) -> Option<&RaffleState> {
        self.raffles.get(id)
    }

    pub fn raffles(&self) -> impl Iterator<Item = &RaffleState> {
        self.raffles.values()
    }

    /// A raffle and one of its draws, or the reason there is none.
    fn draw_state(&self, raffle: &str, draw: &str) -> Result<(&RaffleState, &DrawState)> {
        let r = self
            .raffles
            .get(raffle)
            .ok_or_else(|| refused(no_raffle(raffle)))?;
        let d = r.draws.get(draw).ok_or_else(|| refused(no_draw(draw)))?;
        Ok((r, d))
    }

    fn raffle_mut(&mut self, id: &str) -> Result<&mut RaffleState> {
        self.raffles
            .get_mut(id)
            .ok_or_else(|| refused(no_raffle(id)))
    }

    /// Checks `entry` as the entry at the next leaf index and applies it.
    /// On error nothing changes.
    pub fn apply(&mut self, entry: &Entry) -> Result<()> {
        if let Some(last) = self.last_time
            && entry.time < last
        {
            return Err(refused(Refusal::EntryTimeBeforePrevious {
                time: entry.time.to_string(),
                previous: last.to_string(),
            }));
        }
        if entry.version < self.last_version {
            return Err(refused(Refusal::EntryVersionWentDown {
                version: entry.version,
                previous: self.last_version,
            }));
        }
        let time = entry.time;
        match &entry.body {
            Body::SoftwareStarted(_) => {}
            Body::EventsDigest(e) => self.events_digest(e)?,
            Body::RaffleCreated(e) => self.raffle_created(e)?,
            Body::RaffleUpdated(e) => self.raffle_updated(e)?,
            Body::RaffleOpened(e) => self.raffle_opened(entry, e)?,
            Body::Sale(e) => self.sale(entry, e)?,
            Body::SaleVoided(e) => self.sale_voided(e)?,
            Body::RaffleClosed(e) => self.raffle_closed(entry, e)?,
            Body::ReconciliationAcknowledged(e) => self.reconciliation_acknowledged(entry, e)?,
            Body::DrawFrozen(e) => self.draw_frozen(e)?,
            Body::DrawPerformed(e) => self.draw_performed(entry, e)?,
            Body::ClaimPaid(e) => self.claim_paid(entry, e)?,
            Body::RsuEnrolled(e) => self.rsu_enrolled(e)?,
            Body::RsuEnabled(e) => self.rsu_enabled(e)?,
            Body::RsuDisabled(e) => self.rsu_disabled(entry, e)?,
            Body::RsuAllocated(e) => self.rsu_allocated(entry, e)?,
            Body::RsuSeen(e) => self.rsu_seen(e)?,
            Body::RsuSealed(e) => self.rsu_sealed(entry, e)?,
            Body::RsuReleased(e) => self.rsu_released(e)?,
            Body::RsuUnreconcilable(e) => self.rsu_unreconcilable(e)?,
            Body::RsuRejected(e) => self.rsu_rejected(entry, e)?,
            Body::RsuReprinted(e) => self.rsu_reprinted(entry, e)?,
        }
        self.size += 1;
        self.last_time = Some(time);
        self.last_version = entry.version;
        Ok(())
    }
}
