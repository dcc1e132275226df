//! Claims (GLI-31 2.7.1): the winning ticket only, once, for the frozen
//! prize, within the claim window and with the paperwork large prizes
//! need; a validation number an earlier claim published proves nothing, so
//! that sale's next prize is paid only under supervision, by two people
//! (5.2.4).

use super::*;
use crate::entry::ClaimPaid;

impl Ledger {
    pub(super) fn claim_paid(&mut self, entry: &Entry, e: &ClaimPaid) -> Result<()> {
        let time = entry.time;
        let r = self.raffle_mut(&e.raffle)?;
        let claims = r.config.claims.clone();
        let state = r
            .draws
            .get(&e.draw)
            .ok_or_else(|| refused(no_draw(&e.draw)))?;
        let winner = state.winner.as_ref().ok_or_else(|| {
            refused(Refusal::NoWinnerYet {
                draw: e.draw.to_string(),
            })
        })?;
        if winner.sale != e.sale || winner.number != e.number.0 {
            return Err(refused(Refusal::NotTheWinningTicket {}));
        }
        if state.claimed {
            return Err(refused(Refusal::PrizeAlreadyPaid {
                draw: e.draw.to_string(),
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
                    sale: e.sale.to_string(),
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
                draw: e.draw.to_string(),
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
        Ok(())
    }
}
