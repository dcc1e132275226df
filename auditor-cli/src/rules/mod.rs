//! The raffle rules, checked by replaying the log entry by entry: the
//! auditor's own code, written from `../shared/docs/architecture.md` and the
//! GLI-31 checklist, not the server's ledger, so that one bug cannot hide
//! itself.
//!
//! The checks are split by concept, each file stating the rules it
//! replays: [`lifecycle`], [`sales`], [`draws`], [`claims`], and [`rsu`]
//! for the sales units of schema version 4 (their formats are
//! [`crate::rsu`], the auditor's own too).
//!
//! Every finding is a [`Violation`] naming the leaf index, the raffle and
//! the GLI-31 section. An entry that breaks a rule is reported and not
//! applied (as the server would have refused it), so one fault gives one
//! finding rather than a cascade; the replay goes on to the end.
//!
//! Memory: per raffle still open, 56 bytes per sale ([`crate::sales`]:
//! draw numbers are ranges, so a sale of 100 numbers costs the same as a
//! sale of one; 12 of the 56 index its validation commitment), about 30
//! more per RSU sale. A raffle whose every prize is paid or forfeited,
//! every sale is past a reconciled draw, and every sales unit allocated
//! to it has released its numbers, can take no further sale: it is
//! *settled*, its per-sale state is dropped and only its summary is kept.
//! Memory therefore follows the raffles still open, never the length of
//! the log; but for the sales units, whose chains span raffles: 32 bytes
//! per device record (its hash, against which any later head is checked)
//! and 16 per RSU sale (against which a later seal is checked).

use crate::draw::{EligibleHasher, accepted, commitment, contribution_message, select};
use crate::sales::{SaleIndex, SaleRec, Sales, Sold};
use raffle_core::entry::{
    Body, CloseReason, DrawConfig, EarlyBirdDeduction, Entry, Prize, RaffleConfig, RedrawReason,
    UnclaimedRule, WinRule,
};
use raffle_core::mutants::{self, Mutant};
use raffle_core::validation::ValidationNumber;
use raffle_core::{Money, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use transparency::NoteVerifier;

mod claims;
mod draws;
mod lifecycle;
mod rsu;
mod sales;

pub use rsu::RsuSummary;

/// Findings kept in full; beyond this only the count grows.
pub const MAX_REPORTED: usize = 1000;

/// One broken rule.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Violation {
    /// Leaf index of the entry that broke it.
    pub index: u64,
    pub raffle: Option<String>,
    /// The GLI-31 section (or the architecture rule) it breaks.
    pub section: &'static str,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leaf {}", self.index)?;
        if let Some(r) = &self.raffle {
            write!(f, ", raffle {r}")?;
        }
        write!(f, " [{}]: {}", self.section, self.message)
    }
}

/// Reads back an earlier entry, verified against the audited checkpoint
/// (used to check a claimed validation number against its sale).
pub trait Lookup {
    fn entry(&self, index: u64) -> Result<Vec<u8>, String>;
}

/// Where a raffle is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Open,
    Closed,
    Settled,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Settled => "settled",
        }
    }
}

#[derive(Clone, Debug)]
struct Frozen {
    index: u64,
    leaf_hash: [u8; 32],
    n: u64,
    seed_sha256: [u8; 32],
    prize: Money,
    /// Earlier winners left out by the win rule, as they stood at the freeze.
    excluded_sales: Vec<u32>,
    excluded_numbers: Vec<u64>,
}

#[derive(Clone, Debug)]
struct Performed {
    seed: Vec<u8>,
    contribution: Vec<u8>,
    raw_used: u64,
    /// The numbers this draw has drawn so far, ascending. (The auditor
    /// keeps numbers, not positions in the frozen list as the server's
    /// ledger does: a redraw selects among the eligible numbers less these,
    /// so the two bookkeepings are written independently and must agree.)
    drawn: Vec<u64>,
    at: Timestamp,
}

#[derive(Clone, Debug)]
struct DrawAudit {
    config: DrawConfig,
    reconciled: bool,
    frozen: Option<Frozen>,
    performed: Option<Performed>,
    /// (number, sale position) of the current winner.
    winner: Option<(u64, u32)>,
    claimed: bool,
}

/// What the summary says about one draw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DrawSummary {
    pub id: String,
    pub name: String,
    pub eligible: Option<u64>,
    pub prize: Option<String>,
    pub prize_minor: Option<u64>,
    pub winner: Option<u64>,
    pub redraws: u32,
    /// Whether the contribution was verified as a policy witness's
    /// signature; `None` when no witness contributed or none was checked.
    pub witnessed: Option<bool>,
    pub claimed: bool,
    /// Every recorded value recomputed and equal.
    pub verified: bool,
}

/// What the summary says about one raffle.
#[derive(Clone, Debug, Serialize)]
pub struct RaffleSummary {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub licence: Option<String>,
    pub currency: String,
    pub status: Status,
    pub sales: u64,
    pub numbers: u64,
    pub voids: u64,
    pub gross_minor: u64,
    pub voided_minor: u64,
    pub refunded_minor: u64,
    pub net_minor: u64,
    pub draws: Vec<DrawSummary>,
    /// Sales per sales unit (schema version 4), by unit id; absent from
    /// the JSON report where the raffle has none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rsu_sales: BTreeMap<String, RsuSummary>,
    /// Device records refused (`rsu.rejected`), counted by reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rsu_refused: BTreeMap<String, u64>,
}

struct Raffle {
    config: RaffleConfig,
    status: Status,
    /// When sales were closed (`raffle.closed`): no unit sale made later.
    closed_at: Option<Timestamp>,
    sales: Sales,
    index: SaleIndex,
    /// Validation commitments (hex) → position of the sale holding each
    /// (GLI-31 2.3.2: never repeated in a raffle).
    commitments: SaleIndex,
    /// One past the highest draw number issued (sold online or allocated
    /// to a sales unit).
    next_free: u64,
    /// Draw numbers issued: sold online or allocated (the ticket limit).
    issued: u64,
    /// Ranges allocated to sales units (first, count), ascending.
    allocations: Vec<(u64, u64)>,
    /// Sales units holding an allocation they have not released: the
    /// raffle is not settled while one does.
    rsu_holding: u32,
    last_sequenced: i64,
    /// The latest device time of an RSU sale (microseconds).
    rsu_latest: i64,
    draws: Vec<DrawAudit>,
    /// Sales whose validation number a `claim.paid` has published.
    revealed: std::collections::HashSet<u32>,
    summary: RaffleSummary,
}

/// The replay: every raffle's state and the log's clock.
pub struct Audit {
    origin: String,
    witnesses: Vec<NoteVerifier>,
    raffles: HashMap<String, Raffle>,
    settled: BTreeMap<String, RaffleSummary>,
    /// Sales units by id: global, as a device's chain spans raffles.
    devices: HashMap<String, rsu::Device>,
    /// The draws of settled raffles that had sales units (a unit may
    /// still seal, or be declared unreconcilable, for one of them).
    rsu_settled: HashMap<String, Vec<DrawConfig>>,
    last_time: Option<Timestamp>,
    /// The newest schema version seen: an entry of an older one after it
    /// was written by a rolled-back or altered writer.
    last_version: u64,
    last_event: u64,
    pub entries: u64,
    pub violations: Vec<Violation>,
    pub violation_count: u64,
    pub software: Vec<(String, String, String)>,
    pub event_digests: u64,
    pub events_anchored: u64,
    /// With `trace` set to a raffle id, a step-by-step account of its draws.
    trace_raffle: Option<String>,
    pub trace: Vec<String>,
}

/// The sale id of the sale entry at `leaf`, read back from the log.
fn sale_id_at(lookup: &dyn Lookup, leaf: u64) -> Option<String> {
    let bytes = lookup.entry(leaf).ok()?;
    match Entry::parse(&bytes).ok()?.body {
        Body::Sale(s) => Some(s.sale.to_string()),
        _ => None,
    }
}

/// The validation commitment (hex) of the sale entry at `leaf`, read back.
fn commitment_at(lookup: &dyn Lookup, leaf: u64) -> Option<String> {
    let bytes = lookup.entry(leaf).ok()?;
    match Entry::parse(&bytes).ok()?.body {
        Body::Sale(s) => Some(hex::encode(s.validation.0)),
        _ => None,
    }
}

/// Makes a violation of the entry being checked.
type Cite<'a> = dyn Fn(&'static str, String) -> Box<Violation> + 'a;

/// GLI-31 5.2.4: what needs supervised access names a requester and a
/// different approver.
fn two_people(
    requested_by: &str,
    approved_by: &str,
    what: &str,
    v: &Cite,
) -> Result<(), Box<Violation>> {
    if requested_by == approved_by {
        return Err(v(
            "GLI-31 5.2.4",
            format!("the {what} is approved by its own requester"),
        ));
    }
    Ok(())
}

/// An entry being checked, and where it is: what a finding cites.
struct At<'a> {
    index: u64,
    time: Timestamp,
    bytes: &'a [u8],
    lookup: &'a dyn Lookup,
    raffle: Option<&'a str>,
}

impl At<'_> {
    /// A finding about this entry.
    fn v(&self, section: &'static str, message: String) -> Box<Violation> {
        Box::new(cite(self.index, self.raffle, section, message))
    }
}

fn cite(index: u64, raffle: Option<&str>, section: &'static str, message: String) -> Violation {
    Violation {
        index,
        raffle: raffle.map(str::to_string),
        section,
        message,
    }
}

impl Raffle {
    fn new(id: &str, config: RaffleConfig) -> Raffle {
        let summary = RaffleSummary {
            id: id.to_string(),
            name: config.name.clone(),
            organisation: config.organisation.clone(),
            licence: config.licence.clone(),
            currency: config.packages[0].price.currency.to_string(),
            status: Status::Draft,
            sales: 0,
            numbers: 0,
            voids: 0,
            gross_minor: 0,
            voided_minor: 0,
            refunded_minor: 0,
            net_minor: 0,
            draws: Vec::new(),
            rsu_sales: BTreeMap::new(),
            rsu_refused: BTreeMap::new(),
        };
        let mut r = Raffle {
            next_free: config.first_number.0,
            draws: Vec::new(),
            config,
            status: Status::Draft,
            closed_at: None,
            sales: Sales::default(),
            index: SaleIndex::default(),
            commitments: SaleIndex::default(),
            issued: 0,
            allocations: Vec::new(),
            rsu_holding: 0,
            last_sequenced: i64::MIN,
            rsu_latest: i64::MIN,
            revealed: Default::default(),
            summary,
        };
        r.reset_draws();
        r
    }

    fn reset_draws(&mut self) {
        self.draws = self
            .config
            .draws
            .iter()
            .map(|d| DrawAudit {
                config: d.clone(),
                reconciled: false,
                frozen: None,
                performed: None,
                winner: None,
                claimed: false,
            })
            .collect();
        self.summary.draws = self
            .config
            .draws
            .iter()
            .map(|d| DrawSummary {
                id: d.id.to_string(),
                name: d.name.clone(),
                ..DrawSummary::default()
            })
            .collect();
    }

    /// A sale's number of draw numbers (its package's tickets × quantity).
    fn count(&self, s: &SaleRec) -> u64 {
        u64::from(self.config.packages[usize::from(s.package)].tickets) * u64::from(s.quantity)
    }

    /// A sale's price in minor units.
    fn price(&self, s: &SaleRec) -> u64 {
        self.config.packages[usize::from(s.package)]
            .price
            .minor
            .saturating_mul(u64::from(s.quantity))
    }

    /// The position of draw `id` in the configuration.
    fn draw_index(&self, id: &str, v: &Cite) -> Result<usize, Box<Violation>> {
        self.draws
            .iter()
            .position(|d| d.config.id == id)
            .ok_or_else(|| v("lifecycle", format!("the raffle has no draw {id:?}")))
    }

    fn sale_pos(&self, id: &str) -> Option<u32> {
        self.index.get(id)
    }

    /// The sale holding `number`.
    fn sale_of_number(&self, number: u64) -> Option<u32> {
        self.sales.holding(number, |s| self.count(s))
    }

    /// The sale at `pos`.
    fn sale(&self, pos: u32) -> &SaleRec {
        self.sales.get(pos)
    }

    /// Whether nothing can follow: closed, every prize paid or forfeited
    /// (its claim window over where unclaimed prizes are forfeited), every
    /// sale covered by a reconciled draw, every sales unit's numbers
    /// released (a device's sale may arrive after the close).
    fn is_settled(&self, now: Timestamp) -> bool {
        if self.status != Status::Closed || self.draws.is_empty() {
            return false;
        }
        let last_cutoff = self
            .draws
            .iter()
            .map(|d| d.config.cutoff.as_micros())
            .max()
            .unwrap_or(i64::MIN);
        if self.last_sequenced.max(self.rsu_latest) >= last_cutoff || self.rsu_holding > 0 {
            return false;
        }
        self.draws.iter().all(|d| {
            d.claimed
                || (self.config.claims.unclaimed == UnclaimedRule::Forfeit
                    && d.performed
                        .as_ref()
                        .is_some_and(|p| now >= deadline(p.at, self.config.claims.window_days)))
        })
    }
}

fn deadline(from: Timestamp, days: u32) -> Timestamp {
    Timestamp::from_micros(
        from.as_micros()
            .saturating_add(i64::from(days) * 86_400_000_000),
    )
}

impl Audit {
    /// `origin` is the log's; `witnesses` are the witness policy's keys
    /// (empty: contributions are reported, not checked).
    pub fn new(origin: &str, witnesses: Vec<NoteVerifier>) -> Audit {
        Audit {
            origin: origin.to_string(),
            witnesses,
            raffles: HashMap::new(),
            settled: BTreeMap::new(),
            devices: HashMap::new(),
            rsu_settled: HashMap::new(),
            last_time: None,
            last_version: 0,
            last_event: 0,
            entries: 0,
            violations: Vec::new(),
            violation_count: 0,
            software: Vec::new(),
            event_digests: 0,
            events_anchored: 0,
            trace_raffle: None,
            trace: Vec::new(),
        }
    }

    /// Records a step-by-step account of one raffle's draws in [`Audit::trace`].
    pub fn trace(&mut self, raffle: &str) {
        self.trace_raffle = Some(raffle.to_string());
    }

    fn tracing(&self, raffle: &str) -> bool {
        self.trace_raffle.as_deref() == Some(raffle)
    }

    fn report(&mut self, v: Violation) {
        self.violation_count += 1;
        if self.violations.len() < MAX_REPORTED {
            if self.trace_raffle.is_some() && v.raffle == self.trace_raffle {
                self.trace.push(format!("VIOLATION {v}"));
            }
            self.violations.push(v);
        }
    }

    /// Every raffle's summary, open and settled, by id.
    pub fn summaries(&self) -> Vec<RaffleSummary> {
        let mut all: Vec<RaffleSummary> = self.settled.values().cloned().collect();
        all.extend(self.raffles.values().map(|r| {
            let mut s = r.summary.clone();
            s.status = r.status;
            s
        }));
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Raffles whose state is still held (not settled).
    pub fn open_raffles(&self) -> usize {
        self.raffles.len()
    }

    /// Checks and applies the entry at leaf `index`.
    pub fn apply(&mut self, index: u64, bytes: &[u8], lookup: &dyn Lookup) {
        self.entries += 1;
        let entry = match Entry::parse(bytes) {
            Ok(e) => e,
            Err(raffle_core::Error::UnknownEntry(what)) => {
                return self.report(cite(
                    index,
                    None,
                    "entry schema",
                    format!("unknown entry {what}: upgrade raffle-audit to read this log"),
                ));
            }
            Err(e) => {
                return self.report(cite(
                    index,
                    None,
                    "entry schema",
                    format!("malformed entry: {e}"),
                ));
            }
        };
        let time = entry.time;
        if let Some(last) = self.last_time
            && time < last
        {
            self.report(cite(
                index,
                entry.raffle(),
                "GLI-31 5.3",
                format!("entry time {time} goes back before the previous entry's {last}"),
            ));
        }
        self.last_time = Some(self.last_time.map_or(time, |l| l.max(time)));
        if entry.version < self.last_version {
            self.report(cite(
                index,
                entry.raffle(),
                "entry schema",
                format!(
                    "a version {} entry after a version {} one: a writer never goes back to an older schema",
                    entry.version, self.last_version
                ),
            ));
        }
        self.last_version = self.last_version.max(entry.version);
        if let Err(v) = self.check(index, bytes, &entry, lookup) {
            self.report(*v);
        }
        if index.is_multiple_of(4096) {
            self.settle_all(time);
        }
    }

    fn settle_all(&mut self, now: Timestamp) {
        let done: Vec<String> = self
            .raffles
            .iter()
            .filter(|(_, r)| r.is_settled(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            self.settle(&id);
        }
    }

    fn settle(&mut self, id: &str) {
        if let Some(r) = self.raffles.remove(id) {
            if !r.allocations.is_empty() {
                self.rsu_settled
                    .insert(id.to_string(), r.config.draws.clone());
            }
            let mut s = r.summary;
            s.status = Status::Settled;
            self.settled.insert(id.to_string(), s);
        }
    }

    fn raffle(&mut self, index: u64, id: &str) -> Result<&mut Raffle, Box<Violation>> {
        if self.settled.contains_key(id) {
            return Err(Box::new(cite(
                index,
                Some(id),
                "GLI-31 2.6.2",
                "the raffle is settled (closed, every prize paid or forfeited): no entry may follow"
                    .into(),
            )));
        }
        self.raffles.get_mut(id).ok_or_else(|| {
            Box::new(cite(
                index,
                Some(id),
                "lifecycle",
                "no raffle.created entry for this raffle precedes it".into(),
            ))
        })
    }

    fn check(
        &mut self,
        index: u64,
        bytes: &[u8],
        entry: &Entry,
        lookup: &dyn Lookup,
    ) -> Result<(), Box<Violation>> {
        let raffle_id = entry.raffle().map(str::to_string);
        let at = At {
            index,
            time: entry.time,
            bytes,
            lookup,
            raffle: raffle_id.as_deref(),
        };
        match &entry.body {
            Body::SoftwareStarted(e) => self.software_started(&at, e)?,
            Body::EventsDigest(e) => self.events_digest(&at, e)?,
            Body::RaffleCreated(e) => self.raffle_created(&at, e)?,
            Body::RaffleUpdated(e) => self.raffle_updated(&at, e)?,
            Body::RaffleOpened(e) => self.raffle_opened(&at, e)?,
            Body::Sale(e) => self.sale(&at, e)?,
            Body::SaleVoided(e) => self.sale_voided(&at, e)?,
            Body::RaffleClosed(e) => self.raffle_closed(&at, e)?,
            Body::ReconciliationAcknowledged(e) => self.reconciliation_acknowledged(&at, e)?,
            Body::DrawFrozen(e) => self.draw_frozen(&at, e)?,
            Body::DrawPerformed(e) => self.perform(at.index, at.time, e)?,
            Body::ClaimPaid(e) => self.claim_paid(&at, e)?,
            Body::RsuEnrolled(e) => self.rsu_enrolled(&at, e)?,
            Body::RsuEnabled(e) => self.rsu_enabled(&at, e)?,
            Body::RsuDisabled(e) => self.rsu_disabled(&at, e)?,
            Body::RsuAllocated(e) => self.rsu_allocated(&at, e)?,
            Body::RsuSeen(e) => self.rsu_seen(&at, e)?,
            Body::RsuSealed(e) => self.rsu_sealed(&at, e)?,
            Body::RsuReleased(e) => self.rsu_released(&at, e)?,
            Body::RsuUnreconcilable(e) => self.rsu_unreconcilable(&at, e)?,
            Body::RsuRejected(e) => self.rsu_rejected(&at, e)?,
            Body::RsuReprinted(e) => self.rsu_reprinted(&at, e)?,
        }
        Ok(())
    }

    /// Draws performed whose randomness no policy witness vouches for.
    pub fn unwitnessed_draws(&self) -> Vec<(String, String)> {
        self.summaries()
            .iter()
            .flat_map(|r| {
                r.draws
                    .iter()
                    .filter(|d| d.verified && d.witnessed != Some(true))
                    .map(|d| (r.id.clone(), d.id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
