//! Reconciliation, freeze and draw: a draw is reconciled by two people
//! once its cutoff has passed, with the ledger's own figures (GLI-31 2.6.1,
//! 5.2.4); frozen once reconciled, with its eligible set's count and hash,
//! its prize and its seed commitment (4.4.1, 4.4.2); performed from the
//! committed seed and the contribution, the winner being the drawn index's
//! number (4.3.1, 2.6.4); redrawn only for a stated reason, by two people,
//! continuing the stream and never drawing a number twice (2.6.4). The
//! eligible set: sequenced before the cutoff, not voided, not excluded by
//! the win rule (4.4.1, 2.6.3); the 50/50 prize from its net sales (2.2.1).

use super::*;
use crate::entry::{DrawFrozen, ReconciliationAcknowledged};

impl Ledger {
    pub(super) fn reconciliation_acknowledged(
        &mut self,
        entry: &Entry,
        e: &ReconciliationAcknowledged,
    ) -> Result<()> {
        let time = entry.time;
        if e.requested_by == e.approved_by {
            return Err(refused(Refusal::ReconciliationNeedsSecondPerson {}));
        }
        // GLI-31 2.6.1, 2.6.2: every sales unit sealed and uploaded for the
        // cutoff, or declared unreconcilable.
        self.rsu_gate(&e.raffle, &e.draw)?;
        let r = self.raffle_mut(&e.raffle)?;
        let cutoff = r.draw_config(&e.draw)?.cutoff;
        if time < cutoff || (r.status == Status::Draft) {
            return Err(refused(Refusal::CutoffNotPassed {
                draw: e.draw.to_string(),
            }));
        }
        let state = r.draws.get(&e.draw).cloned().unwrap_or_default();
        if state.reconciled {
            return Err(refused(Refusal::DrawAlreadyReconciled {
                draw: e.draw.to_string(),
            }));
        }
        let f = r.reconciliation_figures(&e.draw)?;
        let figures = (f.sales, f.gross, f.voids, f.voided, f.refunded);
        if (e.sales.0, e.gross, e.voids.0, e.voided, e.refunded) != figures {
            return Err(refused(Refusal::ReconciliationFiguresMismatch {}));
        }
        r.draws.entry(e.draw.clone()).or_default().reconciled = true;
        Ok(())
    }

    pub(super) fn draw_frozen(&mut self, e: &DrawFrozen) -> Result<()> {
        let index = self.size;
        let (r, state) = self.draw_state(&e.raffle, &e.draw)?;
        // GLI-31 2.6.1, 2.6.3: only after the reconciliation acknowledgement.
        if !state.reconciled {
            return Err(refused(Refusal::DrawNotReconciled {
                draw: e.draw.to_string(),
            }));
        }
        if state.frozen.is_some() {
            return Err(refused(Refusal::DrawAlreadyFrozen {
                draw: e.draw.to_string(),
            }));
        }
        let (n, hash) = r.eligible_digest(&e.draw)?;
        if n != e.n.0 || hash != e.eligible_sha256 {
            return Err(refused(Refusal::EligibleSetMismatch {}));
        }
        if n == 0 {
            return Err(refused(Refusal::NoEligibleNumbers {
                draw: e.draw.to_string(),
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
        Ok(())
    }

    pub(super) fn draw_performed(&mut self, entry: &Entry, e: &DrawPerformed) -> Result<()> {
        let time = entry.time;
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
                    draw: e.draw.to_string(),
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
        Ok(())
    }
}

/// Which sales count for a draw: by its cutoff and, once it is frozen,
/// the freeze's leaf index (an RSU sale sequenced later never counts).
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    cutoff: Timestamp,
    frozen: Option<u64>,
}

impl RaffleState {
    /// Numbers and sales that already won an earlier draw.
    pub(super) fn earlier_winners(&self, draw: &str) -> (Vec<u64>, Vec<SaleId>) {
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
    pub(super) fn exclusions(&self, draw: &str) -> Result<(Window, Vec<SaleId>, Vec<u64>)> {
        let cutoff = self.draw_config(draw)?.cutoff;
        if let Some(f) = self.draws.get(draw).and_then(|d| d.frozen.as_ref()) {
            let window = Window {
                cutoff,
                frozen: Some(f.index),
            };
            return Ok((window, f.excluded_sales.clone(), f.excluded_numbers.clone()));
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
        let window = Window {
            cutoff,
            frozen: None,
        };
        Ok((window, excluded_sales, excluded_numbers))
    }

    /// The eligible sales of a draw: sequenced before its cutoff, not voided,
    /// not excluded (GLI-31 4.4.1, 2.6.3).
    pub(super) fn eligible_sales<'a>(
        &'a self,
        window: Window,
        excluded_sales: &'a [SaleId],
    ) -> impl Iterator<Item = &'a SaleRecord> + 'a {
        self.sales().filter(move |s| {
            s.counts_for(window.cutoff, window.frozen)
                && (!s.voided || mutants::active(Mutant::LedgerEligibleKeepsVoids))
                && !excluded_sales.contains(&s.id)
        })
    }

    /// Eligible numbers of a draw, ascending, as an iterator.
    pub(super) fn eligible_iter<'a>(
        &'a self,
        cutoff: Window,
        excluded_sales: &'a [SaleId],
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
    pub fn nth_eligible(&self, draw: &str, mut index: u64) -> Result<(u64, SaleId)> {
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
            draw: self.draw_config(draw)?.id.clone(),
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
        for s in self.sales().filter(|s| s.counts_for(cutoff, None)) {
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
                let all_before_cutoff = self
                    .online
                    .iter()
                    .next_back()
                    .is_none_or(|s| s.sequenced < d.cutoff)
                    && self.rsu_latest.is_none_or(|t| t < d.cutoff);
                let net = if all_before_cutoff {
                    self.net
                } else {
                    let window = Window {
                        cutoff: d.cutoff,
                        frozen: None,
                    };
                    let mut net = Money::zero(self.net.currency);
                    for s in self.eligible_sales(window, &[]) {
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
        self.config
            .draws
            .last()
            .and_then(|main| self.draw_prize(&main.id).ok())
            .unwrap_or(Money::zero(self.net.currency))
    }
}
