//! The raffle rules, as a state machine over log entries.
//!
//! [`Ledger::apply`] checks one entry against every rule of the
//! architecture page and GLI-31 and, only if all hold, changes the state.
//! The sequencer calls it for every candidate entry, in the order it assigns
//! leaf indices, so the log order is the order in which the rules were
//! enforced; rolling the database forward from the published log calls it
//! for every published entry. (The auditor has its own, separate checks.)
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
use crate::ids::check_staff_id;
use crate::mutants::{self, Mutant};
use crate::prize::fifty_fifty_prize;
use crate::{Error, Money, Refusal, Result, Timestamp};
use std::collections::{BTreeMap, HashMap};

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
    pub id: String,
    pub first: u64,
    pub count: u64,
    pub price: Money,
    /// When the sale was sequenced (its entry's time).
    pub sequenced: Timestamp,
    pub voided: bool,
    pub refunded: bool,
    /// The RSU that sold it; `None` online.
    pub rsu: Option<String>,
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
    pub sale: String,
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
    excluded_sales: Vec<String>,
    excluded_numbers: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Winner {
    pub number: u64,
    pub sale: String,
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
    pub id: String,
    pub config: RaffleConfig,
    pub status: Status,
    pub closed_at: Option<Timestamp>,
    /// The next draw number to issue.
    pub next_number: u64,
    /// Sales in number order (in chunks: appending never moves them).
    pub sales: ChunkedVec<SaleRecord>,
    /// A B-tree, not a hash map: a hash map doubles and rehashes every key
    /// at once while the sequencer holds the ledger (164 ms at a million
    /// sales), a B-tree grows a node at a time.
    sale_by_id: BTreeMap<String, usize>,
    pub draws: HashMap<String, DrawState>,
    /// Sales whose validation number a `claim.paid` has published, with
    /// that number: it authorises no further claim (GLI-31 2.7.1).
    pub revealed: HashMap<String, String>,
    /// Sum of the prices of non-voided sales.
    pub net: Money,
    pub gross: Money,
}

impl RaffleState {
    pub fn sold_numbers(&self) -> u64 {
        self.next_number - self.config.first_number.0
    }

    pub fn sale(&self, id: &str) -> Option<&SaleRecord> {
        self.sale_by_id.get(id).map(|&i| &self.sales[i])
    }

    pub fn draw_config(&self, draw: &str) -> Result<&DrawConfig> {
        self.config
            .draws
            .iter()
            .find(|d| d.id == draw)
            .ok_or_else(|| {
                refused(Refusal::RaffleHasNoDraw {
                    raffle: self.id.clone(),
                    draw: draw.to_string(),
                })
            })
    }

    /// The sale holding a draw number.
    pub fn sale_of_number(&self, number: u64) -> Option<&SaleRecord> {
        let i = self.sales.partition_point(|s| s.first + s.count <= number);
        self.sales.get(i).filter(|s| s.first <= number)
    }

    /// Numbers and sales that already won an earlier draw.
    fn earlier_winners(&self, draw: &str) -> (Vec<u64>, Vec<String>) {
        let mut numbers = Vec::new();
        let mut sales = Vec::new();
        for d in &self.config.draws {
            if d.id == draw {
                break;
            }
            if let Some(w) = self.draws.get(&d.id).and_then(|s| s.winner.as_ref()) {
                numbers.push(w.number);
                sales.push(w.sale.clone());
            }
        }
        (numbers, sales)
    }

    /// What a draw leaves out besides voids and late sales: the earlier
    /// winners' sales or numbers, as the win rule says (GLI-31 4.4.1).
    fn exclusions(&self, draw: &str) -> Result<(Timestamp, Vec<String>, Vec<u64>)> {
        let cutoff = self.draw_config(draw)?.cutoff;
        if let Some(f) = self.draws.get(draw).and_then(|d| d.frozen.as_ref()) {
            return Ok((cutoff, f.excluded_sales.clone(), f.excluded_numbers.clone()));
        }
        let (numbers, sales) = self.earlier_winners(draw);
        let excluded_sales = if self.config.wins == WinRule::SaleOnce {
            sales
        } else {
            Vec::new()
        };
        let mut excluded_numbers = if self.config.wins == WinRule::NumberOnce {
            numbers
        } else {
            Vec::new()
        };
        excluded_numbers.sort_unstable();
        Ok((cutoff, excluded_sales, excluded_numbers))
    }

    /// The eligible sales of a draw: sequenced before its cutoff, not voided,
    /// not excluded (GLI-31 4.4.1, 2.6.3).
    fn eligible_sales<'a>(
        &'a self,
        cutoff: Timestamp,
        excluded_sales: &'a [String],
    ) -> impl Iterator<Item = &'a SaleRecord> + 'a {
        self.sales.iter().filter(move |s| {
            s.sequenced < cutoff
                && (!s.voided || mutants::active(Mutant::LedgerEligibleKeepsVoids))
                && !excluded_sales.contains(&s.id)
        })
    }

    /// Eligible numbers of a draw, ascending, as an iterator.
    fn eligible_iter<'a>(
        &'a self,
        cutoff: Timestamp,
        excluded_sales: &'a [String],
        excluded_numbers: &'a [u64],
    ) -> impl Iterator<Item = u64> + 'a {
        self.eligible_sales(cutoff, excluded_sales)
            .flat_map(|s| s.first..s.first + s.count)
            .filter(move |n| excluded_numbers.binary_search(n).is_err())
    }

    /// Eligible numbers of a draw, ascending.
    pub fn eligible_numbers(&self, draw: &str) -> Result<Vec<u64>> {
        let (cutoff, sales, numbers) = self.exclusions(draw)?;
        Ok(self.eligible_iter(cutoff, &sales, &numbers).collect())
    }

    /// The eligible count and hash of a draw, streamed (no list is built).
    pub fn eligible_digest(&self, draw: &str) -> Result<(u64, Digest32)> {
        let (cutoff, sales, numbers) = self.exclusions(draw)?;
        let (n, h) = eligible_hash(self.eligible_iter(cutoff, &sales, &numbers))?;
        Ok((n, Digest32(h)))
    }

    /// The index-th eligible number of a draw and its sale, walking sales
    /// rather than numbers (a draw over ten million numbers stays fast).
    pub fn nth_eligible(&self, draw: &str, mut index: u64) -> Result<(u64, String)> {
        let (cutoff, excluded_sales, excluded_numbers) = self.exclusions(draw)?;
        for s in self.eligible_sales(cutoff, &excluded_sales) {
            let holes = excluded_numbers
                .iter()
                .filter(|&&n| n >= s.first && n < s.first + s.count)
                .count() as u64;
            let available = s.count - holes;
            if index >= available {
                index -= available;
                continue;
            }
            for n in s.first..s.first + s.count {
                if excluded_numbers.binary_search(&n).is_ok() {
                    continue;
                }
                if index == 0 {
                    return Ok((n, s.id.clone()));
                }
                index -= 1;
            }
        }
        Err(refused(Refusal::DrawnIndexBeyondEligible {}))
    }

    /// The next winner of a frozen draw from its generator: on a first
    /// performance `seed` and `contribution` start the stream at 0; a redraw
    /// continues it (they must be the first performance's) and selects
    /// among the eligible numbers not drawn before in this draw (GLI-31
    /// 2.6.4, 4.4.1).
    pub fn next_winner(&self, draw: &str, seed: &[u8], contribution: &[u8]) -> Result<Drawn> {
        let state = self.draws.get(draw).ok_or_else(|| refused(no_draw(draw)))?;
        let frozen = state
            .frozen
            .as_ref()
            .ok_or_else(|| refused(not_frozen(draw)))?;
        let (start, drawn): (u64, &[u64]) = match &state.performed {
            None => (0, &[]),
            Some(p) => {
                if p.seed != seed || p.contribution != contribution {
                    return Err(refused(Refusal::RedrawSeedMismatch {}));
                }
                (p.raw_used, &p.drawn)
            }
        };
        let left = frozen.n - drawn.len() as u64;
        if left == 0 {
            return Err(refused(Refusal::NoEligibleNumbersLeft {
                draw: draw.to_string(),
            }));
        }
        let sel = select(&mut DrawRng::starting_at(seed, contribution, start), left)?;
        // Skip the positions drawn before (ascending) to find the position
        // in the frozen list.
        let mut position = sel.index;
        for &d in drawn {
            if d <= position && !mutants::active(Mutant::LedgerRedrawRepeatsNumbers) {
                position += 1;
            }
        }
        let (number, sale) = self.nth_eligible(draw, position)?;
        Ok(Drawn {
            raw: sel.raw,
            index: sel.index,
            position,
            number,
            sale,
        })
    }

    /// Whether a draw may be redrawn for `reason` at `time` (GLI-31 2.6.4,
    /// 2.7.1): performed, its prize not paid, and for an unclaimed prize
    /// only where the raffle redraws them and after the claim window of
    /// the latest performance.
    pub fn check_redraw(&self, draw: &str, reason: RedrawReason, time: Timestamp) -> Result<()> {
        let state = self.draws.get(draw).ok_or_else(|| refused(no_draw(draw)))?;
        let performed = state.performed.as_ref().ok_or_else(|| {
            refused(Refusal::RedrawBeforePerformed {
                draw: draw.to_string(),
            })
        })?;
        if state.claimed {
            return Err(refused(Refusal::RedrawAfterPaid {
                draw: draw.to_string(),
            }));
        }
        let claims = &self.config.claims;
        if reason == RedrawReason::Unclaimed {
            if claims.unclaimed != UnclaimedRule::Redraw {
                return Err(refused(Refusal::UnclaimedPrizesForfeited {}));
            }
            let deadline = claim_deadline(performed.at, claims.window_days);
            if time < deadline {
                return Err(refused(Refusal::ClaimWindowOpen {
                    draw: draw.to_string(),
                    deadline: deadline.to_string(),
                }));
            }
        }
        Ok(())
    }

    /// The `draw.performed` entry of the next performance of a frozen draw:
    /// the first (`redraw` none, with the committed seed and the witness's
    /// contribution) or a redraw (with the first performance's).
    pub fn performance(
        &self,
        draw: &str,
        seed: &[u8],
        contribution: &[u8],
        redraw: Option<Redraw>,
    ) -> Result<DrawPerformed> {
        let frozen = self
            .draws
            .get(draw)
            .and_then(|d| d.frozen.as_ref())
            .ok_or_else(|| refused(not_frozen(draw)))?;
        let drawn = self.next_winner(draw, seed, contribution)?;
        Ok(DrawPerformed {
            raffle: self.id.clone(),
            draw: draw.to_string(),
            frozen: U64(frozen.index),
            seed: HexBytes(seed.to_vec()),
            contribution: HexBytes(contribution.to_vec()),
            raw: drawn.raw,
            index: U64(drawn.index),
            winner: U64(drawn.number),
            sale: drawn.sale,
            redraw,
        })
    }

    /// The figures a draw's reconciliation acknowledges: sales sequenced
    /// before its cutoff, their gross, the voids among them, voided and
    /// refunded amounts (GLI-31 2.6.1).
    pub fn reconciliation_figures(&self, draw: &str) -> Result<ReconciliationFigures> {
        let cutoff = self.draw_config(draw)?.cutoff;
        let zero = Money::zero(self.net.currency);
        let mut f = ReconciliationFigures {
            sales: 0,
            gross: zero,
            voids: 0,
            voided: zero,
            refunded: zero,
        };
        for s in self.sales.iter().filter(|s| s.sequenced < cutoff) {
            f.sales += 1;
            f.gross = f.gross.checked_add(&s.price)?;
            if s.voided {
                f.voids += 1;
                f.voided = f.voided.checked_add(&s.price)?;
                if s.refunded {
                    f.refunded = f.refunded.checked_add(&s.price)?;
                }
            }
        }
        Ok(f)
    }

    /// The prize a draw awards now: a fixed amount, or the share of the net
    /// sales eligible for it (minus earlier fixed prizes where the raffle
    /// deducts them from the main prize).
    pub fn draw_prize(&self, draw: &str) -> Result<Money> {
        let d = self.draw_config(draw)?;
        match &d.prize {
            Prize::Fixed { amount } => Ok(*amount),
            Prize::Share { share_bps, cap } => {
                // Sales are kept in the order they were sequenced: when the
                // last one is before the cutoff (always, while a raffle
                // whose main cutoff is its end time is on sale), every
                // non-voided sale is eligible and the running net is the
                // eligible net. The live jackpot then costs nothing per
                // request, however many sales there are.
                let all_before_cutoff =
                    self.sales.is_empty() || self.sales[self.sales.len() - 1].sequenced < d.cutoff;
                let net = if all_before_cutoff {
                    self.net
                } else {
                    let mut net = Money::zero(self.net.currency);
                    for s in self.eligible_sales(d.cutoff, &[]) {
                        net = net.checked_add(&s.price)?;
                    }
                    net
                };
                let mut prize = fifty_fifty_prize(net, *share_bps, *cap)?;
                if self.config.early_bird == EarlyBirdDeduction::FromMainPrize {
                    for earlier in self.config.draws.iter().take_while(|e| e.id != draw) {
                        if let Prize::Fixed { amount } = earlier.prize {
                            prize = Money::new(
                                prize.minor.saturating_sub(amount.minor),
                                prize.currency,
                            );
                        }
                    }
                }
                Ok(prize)
            }
        }
    }

    /// The live jackpot estimate of the main (last) draw (GLI-31 2.5.1).
    pub fn jackpot(&self) -> Money {
        let main = self
            .config
            .draws
            .last()
            .map(|d| d.id.clone())
            .unwrap_or_default();
        self.draw_prize(&main)
            .unwrap_or(Money::zero(self.net.currency))
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
    raffles: HashMap<String, RaffleState>,
    /// Number of entries applied (the next leaf index).
    size: u64,
    last_time: Option<Timestamp>,
    /// Last event id anchored by an `events.digest` entry.
    last_event: u64,
    /// The schema version of the latest entry: versions never go down.
    last_version: u64,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
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
        let index = self.size;
        let time = entry.time;
        match &entry.body {
            Body::SoftwareStarted(_) => {}
            Body::EventsDigest(e) => {
                if e.first.0 <= self.last_event {
                    return Err(refused(Refusal::EventsDigestOverlap {
                        last: self.last_event,
                    }));
                }
                self.last_event = e.last.0;
            }
            Body::RaffleCreated(e) => {
                if self.raffles.contains_key(&e.raffle) {
                    return Err(refused(Refusal::RaffleExists {
                        raffle: e.raffle.clone(),
                    }));
                }
                crate::entry::validate_config(&e.config)?;
                let currency = e.config.packages[0].price.currency;
                self.raffles.insert(
                    e.raffle.clone(),
                    RaffleState {
                        id: e.raffle.clone(),
                        next_number: e.config.first_number.0,
                        draws: e
                            .config
                            .draws
                            .iter()
                            .map(|d| (d.id.clone(), DrawState::default()))
                            .collect(),
                        config: e.config.clone(),
                        status: Status::Draft,
                        closed_at: None,
                        sales: ChunkedVec::new(),
                        sale_by_id: BTreeMap::new(),
                        revealed: HashMap::new(),
                        net: Money::zero(currency),
                        gross: Money::zero(currency),
                    },
                );
            }
            Body::RaffleUpdated(e) => {
                let r = self.raffle_mut(&e.raffle)?;
                if r.status != Status::Draft {
                    // GLI-31 2.2.3: frozen once the raffle has opened.
                    return Err(refused(Refusal::ConfigurationFrozen {
                        raffle: e.raffle.clone(),
                        status: r.status.as_str().to_string(),
                    }));
                }
                if r.config != e.old {
                    return Err(refused(Refusal::StaleConfiguration {}));
                }
                crate::entry::validate_config(&e.new)?;
                let currency = e.new.packages[0].price.currency;
                r.next_number = e.new.first_number.0;
                r.draws = e
                    .new
                    .draws
                    .iter()
                    .map(|d| (d.id.clone(), DrawState::default()))
                    .collect();
                r.net = Money::zero(currency);
                r.gross = Money::zero(currency);
                r.config = e.new.clone();
            }
            Body::RaffleOpened(e) => {
                let r = self.raffle_mut(&e.raffle)?;
                if r.status != Status::Draft {
                    return Err(refused(Refusal::RaffleNotDraft {
                        raffle: e.raffle.clone(),
                        status: r.status.as_str().to_string(),
                    }));
                }
                if time >= r.config.sales_end {
                    return Err(refused(Refusal::SalesWindowEnded {}));
                }
                r.status = Status::Open;
            }
            Body::Sale(e) => {
                let r = self.raffle_mut(&e.raffle)?;
                if r.status != Status::Open {
                    return Err(refused(Refusal::RaffleNotOnSale {
                        raffle: e.raffle.clone(),
                        status: r.status.as_str().to_string(),
                    }));
                }
                // GLI-31 2.2.2: no sale outside the sales window.
                if e.stamped < r.config.sales_start || e.stamped >= r.config.sales_end {
                    return Err(refused(Refusal::OutsideSalesWindow {
                        stamped: e.stamped.to_string(),
                    }));
                }
                if r.sale_by_id.contains_key(&e.sale) {
                    return Err(refused(Refusal::SaleExists {
                        sale: e.sale.clone(),
                    }));
                }
                let package = r
                    .config
                    .packages
                    .iter()
                    .find(|p| p.id == e.package)
                    .ok_or_else(|| {
                        refused(Refusal::NoPackage {
                            package: e.package.clone(),
                        })
                    })?;
                let count = u64::from(package.tickets) * u64::from(e.quantity);
                let price = package
                    .price
                    .minor
                    .checked_mul(u64::from(e.quantity))
                    .ok_or_else(|| Error::Overflow("price".into()))?;
                if e.numbers.count.0 != count
                    || e.price != Money::new(price, package.price.currency)
                {
                    return Err(refused(Refusal::PackageMismatch {}));
                }
                // GLI-31 3.2.1: numbers are issued once, consecutively.
                if e.numbers.first.0 != r.next_number {
                    return Err(refused(Refusal::NotNextNumber {
                        next: r.next_number,
                        first: e.numbers.first.0,
                    }));
                }
                if let Some(max) = r.config.max_tickets
                    && r.sold_numbers() + count > max.0
                {
                    return Err(refused(Refusal::NotEnoughTickets {
                        left: max.0 - r.sold_numbers(),
                    }));
                }
                let gross = r.gross.checked_add(&e.price)?;
                let net = r.net.checked_add(&e.price)?;
                r.next_number += count;
                r.gross = gross;
                r.net = net;
                r.sale_by_id.insert(e.sale.clone(), r.sales.len());
                r.sales.push(SaleRecord {
                    id: e.sale.clone(),
                    first: e.numbers.first.0,
                    count,
                    price: e.price,
                    sequenced: time,
                    voided: false,
                    refunded: false,
                    rsu: e.rsu.clone(),
                });
            }
            Body::SaleVoided(e) => {
                if e.requested_by == e.approved_by {
                    return Err(refused(Refusal::VoidNeedsSecondPerson {}));
                }
                let r = self.raffle_mut(&e.raffle)?;
                let i = *r.sale_by_id.get(&e.sale).ok_or_else(|| {
                    refused(Refusal::NoSale {
                        sale: e.sale.clone(),
                    })
                })?;
                if r.sales[i].voided {
                    return Err(refused(Refusal::SaleAlreadyVoided {
                        sale: e.sale.clone(),
                    }));
                }
                let sequenced = r.sales[i].sequenced;
                for d in &r.config.draws {
                    if sequenced < d.cutoff && r.draws.get(&d.id).is_some_and(|s| s.reconciled) {
                        return Err(refused(Refusal::VoidAfterReconciliation {
                            draw: d.id.clone(),
                        }));
                    }
                }
                r.net = r.net.checked_sub(&r.sales[i].price)?;
                r.sales[i].voided = true;
                r.sales[i].refunded = e.refund;
            }
            Body::RaffleClosed(e) => {
                let r = self.raffle_mut(&e.raffle)?;
                if r.status != Status::Open {
                    return Err(refused(Refusal::RaffleNotOpen {
                        raffle: e.raffle.clone(),
                        status: r.status.as_str().to_string(),
                    }));
                }
                if e.reason == CloseReason::EndTime && time < r.config.sales_end {
                    return Err(refused(Refusal::EndTimeNotReached {}));
                }
                r.status = Status::Closed;
                r.closed_at = Some(time);
            }
            Body::ReconciliationAcknowledged(e) => {
                if e.requested_by == e.approved_by {
                    return Err(refused(Refusal::ReconciliationNeedsSecondPerson {}));
                }
                let r = self.raffle_mut(&e.raffle)?;
                let cutoff = r.draw_config(&e.draw)?.cutoff;
                if time < cutoff || (r.status == Status::Draft) {
                    return Err(refused(Refusal::CutoffNotPassed {
                        draw: e.draw.clone(),
                    }));
                }
                let state = r.draws.get(&e.draw).cloned().unwrap_or_default();
                if state.reconciled {
                    return Err(refused(Refusal::DrawAlreadyReconciled {
                        draw: e.draw.clone(),
                    }));
                }
                let f = r.reconciliation_figures(&e.draw)?;
                let figures = (f.sales, f.gross, f.voids, f.voided, f.refunded);
                if (e.sales.0, e.gross, e.voids.0, e.voided, e.refunded) != figures {
                    return Err(refused(Refusal::ReconciliationFiguresMismatch {}));
                }
                r.draws.entry(e.draw.clone()).or_default().reconciled = true;
            }
            Body::DrawFrozen(e) => {
                let (r, state) = self.draw_state(&e.raffle, &e.draw)?;
                // GLI-31 2.6.1, 2.6.3: only after the reconciliation acknowledgement.
                if !state.reconciled {
                    return Err(refused(Refusal::DrawNotReconciled {
                        draw: e.draw.clone(),
                    }));
                }
                if state.frozen.is_some() {
                    return Err(refused(Refusal::DrawAlreadyFrozen {
                        draw: e.draw.clone(),
                    }));
                }
                let (n, hash) = r.eligible_digest(&e.draw)?;
                if n != e.n.0 || hash != e.eligible_sha256 {
                    return Err(refused(Refusal::EligibleSetMismatch {}));
                }
                if n == 0 {
                    return Err(refused(Refusal::NoEligibleNumbers {
                        draw: e.draw.clone(),
                    }));
                }
                let prize = r.draw_prize(&e.draw)?;
                if prize != e.prize {
                    return Err(refused(Refusal::PrizeMismatch {
                        prize: prize.to_string(),
                        stated: e.prize.to_string(),
                    }));
                }
                let (_, excluded_sales, excluded_numbers) = r.exclusions(&e.draw)?;
                let frozen = Frozen {
                    index,
                    n,
                    eligible_sha256: hash,
                    seed_sha256: e.seed_sha256,
                    prize,
                    excluded_sales,
                    excluded_numbers,
                };
                self.raffle_mut(&e.raffle)?
                    .draws
                    .get_mut(&e.draw)
                    .expect("checked")
                    .frozen = Some(frozen);
            }
            Body::DrawPerformed(e) => {
                let (r, state) = self.draw_state(&e.raffle, &e.draw)?;
                let frozen = state
                    .frozen
                    .as_ref()
                    .ok_or_else(|| refused(not_frozen(&e.draw)))?;
                if frozen.index != e.frozen.0 {
                    return Err(refused(Refusal::FrozenEntryMismatch {}));
                }
                match &e.redraw {
                    None if state.performed.is_some() => {
                        return Err(refused(Refusal::DrawAlreadyPerformed {
                            draw: e.draw.clone(),
                        }));
                    }
                    None => {
                        if Digest32(seed_commitment(&e.seed.0)) != frozen.seed_sha256 {
                            return Err(refused(Refusal::SeedCommitmentMismatch {}));
                        }
                    }
                    Some(redraw) => {
                        // GLI-31 2.6.4: a drawn number is never discarded but
                        // for these reasons, with two people (5.2.4).
                        r.check_redraw(&e.draw, redraw.reason, time)?;
                        check_staff_id(&redraw.requested_by)?;
                        check_staff_id(&redraw.approved_by)?;
                        if redraw.requested_by == redraw.approved_by {
                            return Err(refused(Refusal::RedrawNeedsSecondPerson {}));
                        }
                    }
                }
                let drawn = r.next_winner(&e.draw, &e.seed.0, &e.contribution.0)?;
                if drawn.raw != e.raw || drawn.index != e.index.0 {
                    return Err(refused(Refusal::DrawNotFromSeed {}));
                }
                if drawn.number != e.winner.0 || drawn.sale != e.sale {
                    return Err(refused(Refusal::WinnerNotDrawnNumber {}));
                }
                let state = self
                    .raffle_mut(&e.raffle)?
                    .draws
                    .get_mut(&e.draw)
                    .expect("checked");
                let performed = state.performed.get_or_insert_with(|| Performed {
                    seed: e.seed.0.clone(),
                    contribution: e.contribution.0.clone(),
                    raw_used: 0,
                    drawn: Vec::new(),
                    at: time,
                });
                performed.raw_used += drawn.raw.len() as u64;
                let at = performed.drawn.partition_point(|&p| p < drawn.position);
                performed.drawn.insert(at, drawn.position);
                performed.at = time;
                state.winner = Some(Winner {
                    number: drawn.number,
                    sale: drawn.sale,
                });
            }
            Body::ClaimPaid(e) => {
                let r = self.raffle_mut(&e.raffle)?;
                let claims = r.config.claims.clone();
                let state = r
                    .draws
                    .get(&e.draw)
                    .ok_or_else(|| refused(no_draw(&e.draw)))?;
                let winner = state.winner.as_ref().ok_or_else(|| {
                    refused(Refusal::NoWinnerYet {
                        draw: e.draw.clone(),
                    })
                })?;
                if winner.sale != e.sale || winner.number != e.number.0 {
                    return Err(refused(Refusal::NotTheWinningTicket {}));
                }
                if state.claimed {
                    return Err(refused(Refusal::PrizeAlreadyPaid {
                        draw: e.draw.clone(),
                    }));
                }
                // GLI-31 2.7.1, 5.2.4: a validation number published by an
                // earlier claim is known to everyone, so it proves nothing;
                // a further win of that sale is paid only under supervision
                // (identity checked, a second person approving).
                match &e.supervised_by {
                    Some(approver) if *approver == e.by => {
                        return Err(refused(Refusal::SupervisedClaimNeedsSecondPerson {}));
                    }
                    // Version 1 had no supervised claims: a log written then
                    // is replayed as it was (the auditor reports it).
                    None if entry.version >= 2 && r.revealed.contains_key(&e.sale) => {
                        return Err(refused(Refusal::ValidationNumberPublished {
                            sale: e.sale.clone(),
                        }));
                    }
                    _ => {}
                }
                if let Some(known) = r.revealed.get(&e.sale)
                    && *known != e.validation_number
                {
                    return Err(refused(Refusal::ValidationNumberMismatch {}));
                }
                let prize = state.frozen.as_ref().map(|f| f.prize);
                if prize != Some(e.prize) {
                    return Err(refused(Refusal::PaidAmountNotFrozenPrize {}));
                }
                // GLI-31 2.7.1: within the claim window, and with the
                // paperwork the jurisdiction asks for large prizes.
                let performed_at = state.performed.as_ref().map(|p| p.at).unwrap_or(time);
                if time >= claim_deadline(performed_at, claims.window_days) {
                    return Err(refused(Refusal::ClaimWindowClosed {
                        draw: e.draw.clone(),
                    }));
                }
                if let Some(threshold) = claims.paperwork_over
                    && e.prize.minor > threshold.minor
                    && !e.paperwork
                {
                    return Err(refused(Refusal::PaperworkRequired {
                        threshold: threshold.to_string(),
                    }));
                }
                r.draws.get_mut(&e.draw).expect("exists").claimed = true;
                r.revealed
                    .insert(e.sale.clone(), e.validation_number.clone());
            }
        }
        self.size += 1;
        self.last_time = Some(time);
        self.last_version = entry.version;
        Ok(())
    }
}
