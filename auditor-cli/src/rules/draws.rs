//! Reconciliation, freeze and draw as the auditor replays them, with its
//! own bookkeeping (drawn *numbers* per draw, where the server's ledger
//! keeps positions in the frozen list): the reconciliation's figures
//! recomputed (GLI-31 2.6.1) and approved by two people (5.2.4); the
//! frozen eligible set rebuilt and hashed, and the prize recomputed
//! (4.4.1, 2.2.1); the draw replayed from the revealed seed against its
//! commitment and the witness's contribution (4.4.2), every raw value
//! (4.2.1, 4.3.1), the winner the index-th eligible number not drawn
//! before (2.6.4), never a voided one (2.6.3). A sale counts for a draw
//! when sequenced before its cutoff; an RSU sale (schema version 4) when
//! its device time is before the cutoff and it was sequenced before the
//! draw's freeze. A draw is reconciled only once every sales unit
//! allocated to the raffle has sealed for it and uploaded up to the seal,
//! or was declared unreconcilable for it (2.6.1).

use super::*;
use raffle_core::entry::{DrawFrozen, ReconciliationAcknowledged};

impl Audit {
    pub(super) fn reconciliation_acknowledged(
        &mut self,
        at: &At<'_>,
        e: &ReconciliationAcknowledged,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let time = at.time;
        let v = |section: &'static str, message: String| at.v(section, message);
        two_people(&e.requested_by, &e.approved_by, "reconciliation", &v)?;
        self.raffle(index, &e.raffle)?.draw_index(&e.draw, &v)?;
        // GLI-31 2.6.1, 2.6.2: no sales unit's sales still to come.
        self.rsu_gate(&e.raffle, &e.draw, &v)?;
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
        Ok(())
    }

    pub(super) fn draw_frozen(
        &mut self,
        at: &At<'_>,
        e: &DrawFrozen,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let time = at.time;
        let bytes = at.bytes;
        let v = |section: &'static str, message: String| at.v(section, message);
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
        Ok(())
    }

    pub(super) fn perform(
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
        if let Some(s) = r.sale_of_number(e.winner.0).map(|i| *r.sale(i))
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
            sel.index, e.sale, r.sale(sale).leaf
        ));
        let draw = &mut r.draws[d];
        draw.performed
            .get_or_insert_with(|| Performed::starting(&e.seed.0, &e.contribution.0))
            .record(sel.raw.len() as u64, number, time);
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
}

impl Performed {
    /// A draw's stream before its first value is read.
    fn starting(seed: &[u8], contribution: &[u8]) -> Performed {
        Performed {
            seed: seed.to_vec(),
            contribution: contribution.to_vec(),
            raw_used: 0,
            drawn: Vec::new(),
            at: Timestamp::from_micros(0),
        }
    }

    /// One performance: `raw` more values read, `number` drawn, at `time`.
    fn record(&mut self, raw: u64, number: u64, time: Timestamp) {
        self.raw_used += raw;
        if let Err(at) = self.drawn.binary_search(&number) {
            self.drawn.insert(at, number);
        }
        self.at = time;
    }
}

impl Raffle {
    /// Earlier draws' winners, as the win rule excludes them from draw `d`.
    pub(super) fn exclusions(&self, d: usize) -> (Vec<u32>, Vec<u64>) {
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

    /// The leaf of draw `d`'s freeze, once frozen: RSU sales sequenced
    /// after it never count for the draw.
    fn frozen_at(&self, d: usize) -> Option<u64> {
        self.draws[d].frozen.as_ref().map(|f| f.index)
    }

    /// Sales eligible for draw `d` (counting for its cutoff, not voided,
    /// not excluded), with their positions, in number order.
    pub(super) fn eligible_sales<'a>(
        &'a self,
        d: usize,
        excluded_sales: &'a [u32],
    ) -> impl Iterator<Item = (u32, &'a SaleRec)> + 'a {
        let cutoff = self.draws[d].config.cutoff.as_micros();
        let frozen = self.frozen_at(d);
        self.sales
            .in_number_order()
            .filter(move |s: &Sold<'_>| {
                s.counts_for(cutoff, frozen)
                    && (!s.sale.voided || mutants::active(Mutant::AuditEligibleKeepsVoids))
                    && excluded_sales.binary_search(&s.pos).is_err()
            })
            .map(|s| (s.pos, s.sale))
    }

    pub(super) fn eligible_digest(&self, d: usize) -> (u64, [u8; 32]) {
        let (sales, numbers) = self.exclusions(d);
        let mut h = EligibleHasher::default();
        for (_, s) in self.eligible_sales(d, &sales) {
            h.push_run(s.first, self.count(s), &numbers);
        }
        h.finish()
    }

    /// The `position`-th (from 0) of draw `d`'s eligible numbers that are
    /// not in `drawn` (ascending: numbers this draw drew before), and its
    /// sale.
    pub(super) fn nth_eligible(
        &self,
        d: usize,
        mut position: u64,
        drawn: &[u64],
    ) -> Option<(u64, u32)> {
        let (sales, mut numbers) = self.exclusions(d);
        if !mutants::active(Mutant::AuditRedrawRepeatsNumbers) {
            numbers.extend_from_slice(drawn);
        }
        numbers.sort_unstable();
        numbers.dedup();
        for (i, s) in self.eligible_sales(d, &sales) {
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
    pub(super) fn prize(&self, d: usize) -> Money {
        let currency = self.config.packages[0].price.currency;
        match &self.draws[d].config.prize {
            Prize::Fixed { amount } => *amount,
            Prize::Share { share_bps, cap } => {
                let net: u128 = self
                    .eligible_sales(d, &[])
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

    /// Sales, gross, voids, voided and refunded among the sales counting
    /// for draw `d` (sequenced, or for an RSU sale made, before its cutoff).
    pub(super) fn figures(&self, d: usize) -> (u64, u64, u64, u64, u64) {
        let cutoff = self.draws[d].config.cutoff.as_micros();
        let mut f = (0u64, 0u64, 0u64, 0u64, 0u64);
        for s in self
            .sales
            .in_number_order()
            .filter(|s| s.counts_for(cutoff, None))
            .map(|s| s.sale)
        {
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
}
