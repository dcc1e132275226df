//! The raffle rules, checked by replaying the log entry by entry: the
//! auditor's own code, written from `../shared/docs/architecture.md` and the
//! GLI-31 checklist, not the server's ledger, so that one bug cannot hide
//! itself.
//!
//! Every finding is a [`Violation`] naming the leaf index, the raffle and
//! the GLI-31 section. An entry that breaks a rule is reported and not
//! applied (as the server would have refused it), so one fault gives one
//! finding rather than a cascade; the replay goes on to the end.
//!
//! Memory: per raffle still open, 44 bytes per sale ([`crate::sales`]:
//! draw numbers are ranges, so a sale of 100 numbers costs the same as a
//! sale of one). A raffle whose every prize is paid or
//! forfeited, and every sale is past a reconciled draw, can take no further
//! entry: it is *settled*, its per-sale state is dropped and only its
//! summary is kept. Memory therefore follows the raffles still open, never
//! the length of the log.

use crate::draw::{EligibleHasher, accepted, commitment, contribution_message, select};
use crate::sales::{SaleIndex, SaleList, SaleRec};
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
}

struct Raffle {
    config: RaffleConfig,
    status: Status,
    sales: SaleList,
    index: SaleIndex,
    /// One past the highest draw number issued.
    next_free: u64,
    last_sequenced: i64,
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
        Body::Sale(s) => Some(s.sale),
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
        };
        let mut r = Raffle {
            next_free: config.first_number.0,
            draws: Vec::new(),
            config,
            status: Status::Draft,
            sales: SaleList::default(),
            index: SaleIndex::default(),
            last_sequenced: i64::MIN,
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
                id: d.id.clone(),
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
        let i = self
            .sales
            .partition_point(|s| s.first + self.count(s) <= number);
        (i < self.sales.len() && self.sales.get(i).first <= number).then_some(i as u32)
    }

    /// Earlier draws' winners, as the win rule excludes them from draw `d`.
    fn exclusions(&self, d: usize) -> (Vec<u32>, Vec<u64>) {
        if let Some(f) = &self.draws[d].frozen {
            return (f.excluded_sales.clone(), f.excluded_numbers.clone());
        }
        let mut sales = Vec::new();
        let mut numbers = Vec::new();
        for earlier in &self.draws[..d] {
            if let Some((number, sale)) = earlier.winner {
                match self.config.wins {
                    WinRule::SaleOnce => sales.push(sale),
                    WinRule::NumberOnce => numbers.push(number),
                    WinRule::Unlimited => {}
                }
            }
        }
        sales.sort_unstable();
        numbers.sort_unstable();
        (sales, numbers)
    }

    /// Sales eligible for draw `d` (sequenced before its cutoff, not voided,
    /// not excluded), with their positions.
    fn eligible_sales<'a>(
        &'a self,
        cutoff: Timestamp,
        excluded_sales: &'a [u32],
    ) -> impl Iterator<Item = (u32, &'a SaleRec)> + 'a {
        self.sales
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s))
            .filter(move |(i, s)| {
                s.sequenced < cutoff.as_micros()
                    && (!s.voided || mutants::active(Mutant::AuditEligibleKeepsVoids))
                    && excluded_sales.binary_search(i).is_err()
            })
    }

    fn eligible_digest(&self, d: usize) -> (u64, [u8; 32]) {
        let (sales, numbers) = self.exclusions(d);
        let mut h = EligibleHasher::default();
        for (_, s) in self.eligible_sales(self.draws[d].config.cutoff, &sales) {
            h.push_run(s.first, self.count(s), &numbers);
        }
        h.finish()
    }

    /// The `position`-th (from 0) of draw `d`'s eligible numbers that are
    /// not in `drawn` (ascending: numbers this draw drew before), and its
    /// sale.
    fn nth_eligible(&self, d: usize, mut position: u64, drawn: &[u64]) -> Option<(u64, u32)> {
        let (sales, mut numbers) = self.exclusions(d);
        if !mutants::active(Mutant::AuditRedrawRepeatsNumbers) {
            numbers.extend_from_slice(drawn);
        }
        numbers.sort_unstable();
        numbers.dedup();
        for (i, s) in self.eligible_sales(self.draws[d].config.cutoff, &sales) {
            let count = self.count(s);
            let lo = numbers.partition_point(|&n| n < s.first);
            let hi = numbers.partition_point(|&n| n < s.first + count);
            let available = count - (hi - lo) as u64;
            if position >= available {
                position -= available;
                continue;
            }
            for n in s.first..s.first + count {
                if numbers[lo..hi].binary_search(&n).is_ok() {
                    continue;
                }
                if position == 0 {
                    return Some((n, i));
                }
                position -= 1;
            }
        }
        None
    }

    /// The prize of draw `d` by the architecture page's formula:
    /// a fixed amount, or min(cap, floor(net × share / 10,000)) over the
    /// net sales eligible for the draw, less earlier fixed prizes where the
    /// raffle deducts them (GLI-31 2.2.1).
    fn prize(&self, d: usize) -> Money {
        let currency = self.config.packages[0].price.currency;
        match &self.draws[d].config.prize {
            Prize::Fixed { amount } => *amount,
            Prize::Share { share_bps, cap } => {
                let net: u128 = self
                    .eligible_sales(self.draws[d].config.cutoff, &[])
                    .map(|(_, s)| u128::from(self.price(s)))
                    .sum();
                let mut prize = net * u128::from(*share_bps) / 10_000;
                if let Some(cap) = cap {
                    prize = prize.min(u128::from(cap.minor));
                }
                if self.config.early_bird == EarlyBirdDeduction::FromMainPrize {
                    for earlier in &self.draws[..d] {
                        if let Prize::Fixed { amount } = earlier.config.prize {
                            prize = prize.saturating_sub(u128::from(amount.minor));
                        }
                    }
                }
                Money::new(u64::try_from(prize).unwrap_or(u64::MAX), currency)
            }
        }
    }

    /// Sales, gross, voids, voided and refunded among the sales sequenced
    /// before draw `d`'s cutoff.
    fn figures(&self, d: usize) -> (u64, u64, u64, u64, u64) {
        let cutoff = self.draws[d].config.cutoff.as_micros();
        let mut f = (0u64, 0u64, 0u64, 0u64, 0u64);
        for s in self.sales.iter().filter(|s| s.sequenced < cutoff) {
            let price = self.price(s);
            f.0 += 1;
            f.1 = f.1.saturating_add(price);
            if s.voided {
                f.2 += 1;
                f.3 = f.3.saturating_add(price);
                if s.refunded {
                    f.4 = f.4.saturating_add(price);
                }
            }
        }
        f
    }

    /// Whether nothing can follow: closed, every prize paid or forfeited
    /// (its claim window over where unclaimed prizes are forfeited), every
    /// sale covered by a reconciled draw.
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
        if self.last_sequenced >= last_cutoff {
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
        let time = entry.time;
        let raffle_id = entry.raffle().map(str::to_string);
        let rid = raffle_id.as_deref();
        let v =
            |section: &'static str, message: String| Box::new(cite(index, rid, section, message));
        match &entry.body {
            Body::SoftwareStarted(e) => {
                let id = (
                    e.program.clone(),
                    e.version.clone(),
                    hex::encode(e.sha256.0),
                );
                if !self.software.contains(&id) {
                    self.software.push(id);
                }
            }
            Body::EventsDigest(e) => {
                if e.first.0 <= self.last_event {
                    return Err(v(
                        "GLI-31 5.6.2",
                        format!(
                            "events.digest starts at event {}, not after event {}, the last one anchored",
                            e.first.0, self.last_event
                        ),
                    ));
                }
                self.last_event = e.last.0;
                self.event_digests += 1;
                self.events_anchored = self.events_anchored.saturating_add(e.count.0);
            }
            Body::RaffleCreated(e) => {
                if self.raffles.contains_key(&e.raffle) || self.settled.contains_key(&e.raffle) {
                    return Err(v("lifecycle", "the raffle is created a second time".into()));
                }
                self.raffles
                    .insert(e.raffle.clone(), Raffle::new(&e.raffle, e.config.clone()));
            }
            Body::RaffleUpdated(e) => {
                let r = self.raffle(index, &e.raffle)?;
                if r.status != Status::Draft {
                    return Err(v(
                        "GLI-31 2.2.3",
                        "the configuration changed after the raffle opened".into(),
                    ));
                }
                if r.config != e.old {
                    return Err(v(
                        "GLI-31 5.2.4",
                        "the update's old configuration is not the raffle's current one".into(),
                    ));
                }
                let summary_status = r.status;
                *r = Raffle::new(&e.raffle, e.new.clone());
                r.status = summary_status;
            }
            Body::RaffleOpened(e) => {
                let r = self.raffle(index, &e.raffle)?;
                if r.status != Status::Draft {
                    return Err(v(
                        "lifecycle",
                        format!("raffle.opened for a raffle that is {:?}", r.status),
                    ));
                }
                if time >= r.config.sales_end {
                    return Err(v(
                        "GLI-31 2.2.2",
                        format!(
                            "opened at {time}, after its sales end {}",
                            r.config.sales_end
                        ),
                    ));
                }
                r.status = Status::Open;
            }
            Body::Sale(e) => {
                let r = self.raffle(index, &e.raffle)?;
                match r.status {
                    Status::Open => {}
                    Status::Draft => {
                        return Err(v("GLI-31 2.2.2", "a sale before the raffle opened".into()));
                    }
                    _ => {
                        return Err(v(
                            "GLI-31 2.6.2",
                            "a sale sequenced after raffle.closed".into(),
                        ));
                    }
                }
                if e.stamped < r.config.sales_start || e.stamped >= r.config.sales_end {
                    return Err(v(
                        "GLI-31 2.2.2",
                        format!(
                            "sale stamped at {} outside the sales window {} to {}",
                            e.stamped, r.config.sales_start, r.config.sales_end
                        ),
                    ));
                }
                if e.stamped > time {
                    return Err(v(
                        "GLI-31 5.3",
                        format!(
                            "sale stamped at {} after it was sequenced at {time}",
                            e.stamped
                        ),
                    ));
                }
                // The sequencer closes a raffle at its end time before
                // anything else in that batch: no sale is sequenced after it.
                if time >= r.config.sales_end {
                    return Err(v(
                        "GLI-31 2.6.2",
                        format!(
                            "a sale sequenced at {time}, after the sales end {} (the raffle should have closed first)",
                            r.config.sales_end
                        ),
                    ));
                }
                let sold_at = |p: u32| sale_id_at(lookup, r.sales.get(p as usize).leaf);
                if let Some(p) = r.sale_pos(&e.sale)
                    && sold_at(p).is_none_or(|earlier| earlier == e.sale)
                {
                    return Err(v(
                        "GLI-31 3.2.1",
                        format!(
                            "sale {} is sold twice (first at leaf {})",
                            e.sale,
                            r.sales.get(p as usize).leaf
                        ),
                    ));
                }
                let Some(package_pos) = r.config.packages.iter().position(|p| p.id == e.package)
                else {
                    return Err(v(
                        "GLI-31 2.2.3",
                        format!(
                            "package {:?} is not in the raffle's configuration",
                            e.package
                        ),
                    ));
                };
                let package = &r.config.packages[package_pos];
                let count = u64::from(package.tickets) * u64::from(e.quantity);
                let price = u128::from(package.price.minor) * u128::from(e.quantity);
                if e.numbers.count.0 != count
                    || u128::from(e.price.minor) != price
                    || e.price.currency != package.price.currency
                {
                    return Err(v(
                        "GLI-31 2.2.3",
                        format!(
                            "{} × package {:?} is {count} numbers for {price} minor units, not {} for {}",
                            e.quantity, e.package, e.numbers.count.0, e.price
                        ),
                    ));
                }
                let first = e.numbers.first.0;
                if first < r.next_free {
                    // GLI-31 3.2.1, 2.3.3: a number is issued once, never resold.
                    let end = first + count;
                    let from = r.sales.partition_point(|s| s.first + r.count(s) <= first);
                    let clashes: Vec<SaleRec> = (from..r.sales.len())
                        .map(|i| *r.sales.get(i))
                        .take_while(|s| s.first < end)
                        .collect();
                    if let Some(s) = clashes.iter().find(|s| s.voided) {
                        return Err(v(
                            "GLI-31 2.3.3",
                            format!(
                                "draw numbers {first}..{} resell numbers of a sale voided earlier (sold at leaf {})",
                                end - 1,
                                s.leaf
                            ),
                        ));
                    }
                    let message = match clashes.first() {
                        Some(s) => format!(
                            "draw numbers {first}..{} were already issued (sale at leaf {})",
                            end - 1,
                            s.leaf
                        ),
                        None => format!(
                            "draw number {first} is below the raffle's first number {} or skips back",
                            r.config.first_number.0
                        ),
                    };
                    return Err(v("GLI-31 3.2.1", message));
                }
                if let Some(max) = r.config.max_tickets
                    && r.summary.numbers.saturating_add(count) > max.0
                {
                    return Err(v(
                        "GLI-31 2.2.3",
                        format!("more than the raffle's {} tickets are sold", max.0),
                    ));
                }
                let position = r.sales.len() as u32;
                let Raffle {
                    sales, index: ids, ..
                } = r;
                if ids
                    .insert(&e.sale, position, |p| {
                        sale_id_at(lookup, sales.get(p as usize).leaf)
                    })
                    .is_err()
                {
                    return Err(v("GLI-31 3.2.1", format!("sale {} is sold twice", e.sale)));
                }
                r.sales.push(SaleRec {
                    first,
                    sequenced: time.as_micros(),
                    leaf: index,
                    quantity: e.quantity,
                    package: package_pos as u16,
                    voided: false,
                    refunded: false,
                });
                r.next_free = first + count;
                r.last_sequenced = time.as_micros();
                r.summary.sales += 1;
                r.summary.numbers = r.summary.numbers.saturating_add(count);
                r.summary.gross_minor = r.summary.gross_minor.saturating_add(e.price.minor);
                r.summary.net_minor = r.summary.net_minor.saturating_add(e.price.minor);
            }
            Body::SaleVoided(e) => {
                two_people(&e.requested_by, &e.approved_by, "void", &v)?;
                let r = self.raffle(index, &e.raffle)?;
                let Some(i) = r.sale_pos(&e.sale) else {
                    return Err(v(
                        "GLI-31 2.3.3",
                        format!("void of sale {}, which this raffle never sold", e.sale),
                    ));
                };
                let s = *r.sales.get(i as usize);
                if s.voided {
                    return Err(v(
                        "GLI-31 2.3.3",
                        format!("sale {} is voided twice", e.sale),
                    ));
                }
                if let Some(d) = r
                    .draws
                    .iter()
                    .find(|d| d.reconciled && s.sequenced < d.config.cutoff.as_micros())
                {
                    return Err(v(
                        "GLI-31 2.6.3",
                        format!(
                            "void of sale {} after draw {:?} was reconciled",
                            e.sale, d.config.id
                        ),
                    ));
                }
                let price = r.price(&s);
                let s = r.sales.get_mut(i as usize);
                s.voided = true;
                s.refunded = e.refund;
                r.summary.voids += 1;
                r.summary.voided_minor = r.summary.voided_minor.saturating_add(price);
                if e.refund {
                    r.summary.refunded_minor = r.summary.refunded_minor.saturating_add(price);
                }
                r.summary.net_minor = r.summary.net_minor.saturating_sub(price);
            }
            Body::RaffleClosed(e) => {
                let r = self.raffle(index, &e.raffle)?;
                if r.status != Status::Open {
                    return Err(v(
                        "lifecycle",
                        format!("raffle.closed for a raffle that is {:?}", r.status),
                    ));
                }
                if e.reason == CloseReason::EndTime && time < r.config.sales_end {
                    return Err(v(
                        "GLI-31 2.6.2",
                        format!(
                            "closed for its end time at {time}, before the end time {}",
                            r.config.sales_end
                        ),
                    ));
                }
                r.status = Status::Closed;
            }
            Body::ReconciliationAcknowledged(e) => {
                two_people(&e.requested_by, &e.approved_by, "reconciliation", &v)?;
                let r = self.raffle(index, &e.raffle)?;
                let d = r.draw_index(&e.draw, &v)?;
                if r.status == Status::Draft || time < r.draws[d].config.cutoff {
                    return Err(v(
                        "GLI-31 2.6.1",
                        format!("draw {:?} is reconciled before its cutoff", e.draw),
                    ));
                }
                if r.draws[d].reconciled {
                    return Err(v(
                        "GLI-31 2.6.1",
                        format!("draw {:?} is reconciled twice", e.draw),
                    ));
                }
                let f = r.figures(d);
                let given = (
                    e.sales.0,
                    e.gross.minor,
                    e.voids.0,
                    e.voided.minor,
                    e.refunded.minor,
                );
                if f != given {
                    return Err(v(
                        "GLI-31 2.6.1",
                        format!(
                            "the acknowledged figures (sales, gross, voids, voided, refunded) {given:?} are not the log's {f:?}"
                        ),
                    ));
                }
                r.draws[d].reconciled = true;
            }
            Body::DrawFrozen(e) => {
                let tracing = self.tracing(&e.raffle);
                let r = self.raffle(index, &e.raffle)?;
                let d = r.draw_index(&e.draw, &v)?;
                if let Some(f) = &r.draws[d].frozen {
                    return Err(v(
                        "GLI-31 4.4.1",
                        format!(
                            "a second draw.frozen for draw {:?} (the first is leaf {})",
                            e.draw, f.index
                        ),
                    ));
                }
                if time < r.draws[d].config.cutoff {
                    return Err(v(
                        "GLI-31 2.6.1",
                        format!("draw {:?} is frozen before its cutoff", e.draw),
                    ));
                }
                if !r.draws[d].reconciled {
                    return Err(v(
                        "GLI-31 2.6.3",
                        format!(
                            "draw {:?} is frozen before the reconciliation acknowledgement",
                            e.draw
                        ),
                    ));
                }
                let (n, hash) = r.eligible_digest(d);
                if n != e.n.0 || hash != e.eligible_sha256.0 {
                    return Err(v(
                        "GLI-31 4.4.1",
                        format!(
                            "the frozen eligible set ({} numbers, sha256 {}) is not the one rebuilt from the log ({n} numbers, sha256 {})",
                            e.n.0,
                            hex::encode(e.eligible_sha256.0),
                            hex::encode(hash)
                        ),
                    ));
                }
                if n == 0 {
                    return Err(v("GLI-31 4.4.1", "a draw with no eligible number".into()));
                }
                let prize = r.prize(d);
                if prize != e.prize {
                    return Err(v(
                        "GLI-31 2.2.1",
                        format!(
                            "the prize {} is not the one the sales give: {prize}",
                            e.prize
                        ),
                    ));
                }
                let (excluded_sales, excluded_numbers) = r.exclusions(d);
                r.draws[d].frozen = Some(Frozen {
                    index,
                    leaf_hash: *transparency::leaf_hash(bytes).as_bytes(),
                    n,
                    seed_sha256: e.seed_sha256.0,
                    prize,
                    excluded_sales,
                    excluded_numbers,
                });
                let s = &mut r.summary.draws[d];
                s.eligible = Some(n);
                s.prize = Some(prize.to_string());
                s.prize_minor = Some(prize.minor);
                if tracing {
                    let line = format!(
                        "leaf {index}, {time}: draw {:?} frozen: {n} eligible numbers (sha256 {}, rebuilt from the log and equal), prize {prize}, seed commitment {}",
                        e.draw,
                        hex::encode(e.eligible_sha256.0),
                        hex::encode(e.seed_sha256.0)
                    );
                    self.trace.push(line);
                }
            }
            Body::DrawPerformed(e) => self.perform(index, time, e)?,
            Body::ClaimPaid(e) => {
                let tracing = self.tracing(&e.raffle);
                let r = self.raffle(index, &e.raffle)?;
                let d = r.draw_index(&e.draw, &v)?;
                let Some((number, sale)) = r.draws[d].winner else {
                    return Err(v(
                        "GLI-31 2.7.1",
                        format!("a claim for draw {:?}, which has no winner", e.draw),
                    ));
                };
                if r.sale_pos(&e.sale) != Some(sale) || e.number.0 != number {
                    return Err(v(
                        "GLI-31 2.7.1",
                        format!(
                            "the claim is for number {} of sale {}, not the winning number {number}",
                            e.number.0, e.sale
                        ),
                    ));
                }
                if r.draws[d].claimed {
                    return Err(v(
                        "GLI-31 2.7.1",
                        format!("draw {:?}'s prize is paid twice", e.draw),
                    ));
                }
                // A published validation number proves nothing: a further
                // win of that sale needs a supervised claim, approved by a
                // second person (schema version 2).
                match &e.supervised_by {
                    None if r.revealed.contains(&sale) => {
                        return Err(v(
                            "GLI-31 2.7.1",
                            format!(
                                "draw {:?} paid on sale {}'s validation number, which an earlier claim had published, without a supervised claim",
                                e.draw, e.sale
                            ),
                        ));
                    }
                    Some(approver) if *approver == e.by => {
                        return Err(v(
                            "GLI-31 5.2.4",
                            format!("a supervised claim approved by its own payer {approver}"),
                        ));
                    }
                    _ => {}
                }
                let frozen_prize = r.draws[d].frozen.as_ref().map(|f| f.prize);
                if frozen_prize != Some(e.prize) {
                    return Err(v(
                        "GLI-31 2.7.1",
                        format!("paid {}, not the frozen prize", e.prize),
                    ));
                }
                let performed_at = r.draws[d].performed.as_ref().map_or(time, |p| p.at);
                if time >= deadline(performed_at, r.config.claims.window_days) {
                    return Err(v(
                        "GLI-31 2.7.1",
                        "paid after the claim window closed".into(),
                    ));
                }
                if let Some(threshold) = r.config.claims.paperwork_over
                    && e.prize.minor > threshold.minor
                    && !e.paperwork
                {
                    return Err(v(
                        "GLI-31 2.7.1",
                        format!("a prize over {threshold} paid without the winner's paperwork"),
                    ));
                }
                // The validation number presented must be the winning sale's.
                let leaf = r.sales.get(sale as usize).leaf;
                let sale_entry = lookup
                    .entry(leaf)
                    .map_err(|err| v("GLI-31 2.7.1", format!("reading sale leaf {leaf}: {err}")))?;
                let committed = match Entry::parse(&sale_entry).map(|x| x.body) {
                    Ok(Body::Sale(s)) => s.validation.0,
                    _ => return Err(v("GLI-31 2.7.1", format!("leaf {leaf} is not the sale"))),
                };
                let presented = ValidationNumber::parse(&e.validation_number)
                    .map_err(|err| v("GLI-31 2.7.1", err.to_string()))?;
                if presented.commitment(&e.raffle) != committed {
                    return Err(v(
                        "GLI-31 2.7.1",
                        "the validation number paid is not the winning ticket's".into(),
                    ));
                }
                r.draws[d].claimed = true;
                r.revealed.insert(sale);
                r.summary.draws[d].claimed = true;
                let settled = r.is_settled(time);
                if tracing {
                    self.trace.push(format!(
                        "leaf {index}, {time}: draw {:?} claimed: number {number}, {} paid, validation number matches the sale's commitment",
                        e.draw, e.prize
                    ));
                }
                if settled {
                    self.settle(&e.raffle);
                }
            }
        }
        Ok(())
    }

    fn perform(
        &mut self,
        index: u64,
        time: Timestamp,
        e: &raffle_core::entry::DrawPerformed,
    ) -> Result<(), Box<Violation>> {
        let origin = self.origin.clone();
        let witnesses = self.witnesses.clone();
        let tracing = self.tracing(&e.raffle);
        let mut lines = Vec::new();
        let rid = Some(e.raffle.as_str());
        let v =
            |section: &'static str, message: String| Box::new(cite(index, rid, section, message));
        let r = self.raffle(index, &e.raffle)?;
        let d = r.draw_index(&e.draw, &v)?;
        let Some(frozen) = r.draws[d].frozen.clone() else {
            return Err(v(
                "GLI-31 2.6.1",
                format!("draw {:?} is performed before it is frozen", e.draw),
            ));
        };
        if e.frozen.0 != frozen.index {
            return Err(v(
                "GLI-31 4.4.1",
                format!(
                    "the draw names frozen entry {}, not leaf {}",
                    e.frozen.0, frozen.index
                ),
            ));
        }
        let (start, drawn) = match (&e.redraw, &r.draws[d].performed) {
            (None, Some(_)) => {
                return Err(v(
                    "GLI-31 4.4.1",
                    format!(
                        "a second draw.performed for draw {:?} without a redraw reason",
                        e.draw
                    ),
                ));
            }
            (None, None) => {
                if commitment(&e.seed.0) != frozen.seed_sha256 {
                    return Err(v(
                        "GLI-31 4.4.2",
                        "the seed does not match its commitment in draw.frozen".into(),
                    ));
                }
                lines.push(format!(
                    "leaf {index}, {time}: draw {:?} performed; seed {} matches its commitment",
                    e.draw,
                    e.seed
                        .0
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ));
                (0, Vec::new())
            }
            (Some(_), None) => {
                return Err(v(
                    "GLI-31 2.6.4",
                    format!("a redraw of draw {:?}, which was never performed", e.draw),
                ));
            }
            (Some(redraw), Some(p)) => {
                if r.draws[d].claimed {
                    return Err(v(
                        "GLI-31 2.6.4",
                        format!("a redraw of draw {:?} after its prize was paid", e.draw),
                    ));
                }
                two_people(&redraw.requested_by, &redraw.approved_by, "redraw", &v)?;
                if redraw.reason == RedrawReason::Unclaimed {
                    if r.config.claims.unclaimed != UnclaimedRule::Redraw {
                        return Err(v(
                            "GLI-31 2.6.4",
                            "a redraw for an unclaimed prize in a raffle that forfeits them".into(),
                        ));
                    }
                    let end = deadline(p.at, r.config.claims.window_days);
                    if time < end {
                        return Err(v(
                            "GLI-31 2.6.4",
                            format!(
                                "a redraw for an unclaimed prize before the claim window ends at {end}"
                            ),
                        ));
                    }
                }
                if p.seed != e.seed.0 || p.contribution != e.contribution.0 {
                    return Err(v(
                        "GLI-31 4.4.1",
                        "a redraw must continue the draw's own seed and contribution".into(),
                    ));
                }
                lines.push(format!(
                    "leaf {index}, {time}: draw {:?} redrawn ({:?}), continuing its stream at r_{}",
                    e.draw, redraw.reason, p.raw_used
                ));
                (p.raw_used, p.drawn.clone())
            }
        };
        // The witness's contribution (GLI-31 4.4.2).
        let mut witnessed = None;
        if e.redraw.is_none() {
            let message = contribution_message(&origin, frozen.index, &frozen.leaf_hash);
            if !witnesses.is_empty() && e.contribution.0.is_empty() {
                return Err(v(
                    "GLI-31 4.4.2",
                    "the draw was performed without a witness contribution, which the witness policy requires".into(),
                ));
            } else if !witnesses.is_empty() {
                match witnesses
                    .iter()
                    .find(|w| w.verify_raw(&message, &e.contribution.0))
                {
                    Some(w) => {
                        witnessed = Some(true);
                        lines.push(format!(
                            "contribution: a valid signature by witness {} over the frozen entry (leaf {})",
                            w.name(),
                            frozen.index
                        ));
                    }
                    None => {
                        return Err(v(
                            "GLI-31 4.4.2",
                            "the contribution is not a policy witness's signature over the draw.frozen entry".into(),
                        ));
                    }
                }
            } else if e.contribution.0.is_empty() {
                lines.push("contribution: none (no witness contributed: the randomness is the operator's seed alone)".into());
            } else {
                lines.push("contribution: present, not checked (no --witness-policy given)".into());
            }
        }
        let left = frozen.n - drawn.len() as u64;
        if left == 0 {
            return Err(v(
                "GLI-31 4.4.1",
                format!("draw {:?} has no eligible number left to redraw", e.draw),
            ));
        }
        let sel = select(&e.seed.0, &e.contribution.0, start, left);
        for (k, &raw) in e.raw.iter().enumerate() {
            match sel.raw.get(k) {
                Some(&want) if want == raw => lines.push(format!(
                    "r_{} = {raw}: {} for {left} numbers",
                    start + k as u64,
                    if accepted(raw, left) {
                        "accepted"
                    } else {
                        "rejected (above the largest multiple)"
                    }
                )),
                Some(&want) => {
                    return Err(v(
                        "GLI-31 4.2.1",
                        format!(
                            "raw value r_{} is {raw}, the seed and contribution give {want}",
                            start + k as u64
                        ),
                    ));
                }
                None => {
                    return Err(v(
                        "GLI-31 4.3.1",
                        format!(
                            "raw value r_{} is recorded after the accepted r_{}",
                            start + k as u64,
                            start + sel.raw.len() as u64 - 1
                        ),
                    ));
                }
            }
        }
        if e.raw.len() < sel.raw.len() {
            return Err(v(
                "GLI-31 4.3.1",
                format!(
                    "the recorded raw values stop at r_{}, which is not accepted",
                    start + e.raw.len() as u64 - 1
                ),
            ));
        }
        if e.index.0 != sel.index {
            return Err(v(
                "GLI-31 4.3.1",
                format!(
                    "index {} recorded, the accepted raw value gives {}",
                    e.index.0, sel.index
                ),
            ));
        }
        // GLI-31 2.6.3: a voided number never wins.
        if let Some(s) = r
            .sale_of_number(e.winner.0)
            .map(|i| *r.sales.get(i as usize))
            && s.voided
        {
            return Err(v(
                "GLI-31 2.6.3",
                format!("the voided number {} is drawn", e.winner.0),
            ));
        }
        let Some((number, sale)) = r.nth_eligible(d, sel.index, &drawn) else {
            return Err(v(
                "GLI-31 4.4.1",
                format!("index {} is beyond the eligible numbers left", sel.index),
            ));
        };
        if number != e.winner.0 || r.sale_pos(&e.sale) != Some(sale) {
            return Err(v(
                "GLI-31 4.4.1",
                format!(
                    "the winner {} (sale {}) does not follow from the recorded values: index {} is number {number}",
                    e.winner.0, e.sale, sel.index
                ),
            ));
        }
        lines.push(format!(
            "index {} of the {left} eligible numbers not drawn before → winning number {number} (sale {}, sold at leaf {})",
            sel.index, e.sale, r.sales.get(sale as usize).leaf
        ));
        let draw = &mut r.draws[d];
        let p = draw.performed.get_or_insert_with(|| Performed {
            seed: e.seed.0.clone(),
            contribution: e.contribution.0.clone(),
            raw_used: 0,
            drawn: Vec::new(),
            at: time,
        });
        p.raw_used += sel.raw.len() as u64;
        if let Err(at) = p.drawn.binary_search(&number) {
            p.drawn.insert(at, number);
        }
        p.at = time;
        draw.winner = Some((number, sale));
        let s = &mut r.summary.draws[d];
        s.winner = Some(number);
        s.verified = true;
        if e.redraw.is_some() {
            s.redraws += 1;
        } else {
            s.witnessed = witnessed;
        }
        if tracing {
            self.trace.extend(lines);
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
