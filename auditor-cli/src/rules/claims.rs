//! Claims as the auditor replays them (GLI-31 2.7.1): the winning ticket
//! once, for the frozen prize, within the window, with paperwork over the
//! threshold, its validation number matching the sale's commitment; a
//! number an earlier claim published pays only a supervised claim by two
//! people (5.2.4).

use super::*;
use raffle_core::entry::ClaimPaid;

impl Audit {
    pub(super) fn claim_paid(&mut self, at: &At<'_>, e: &ClaimPaid) -> Result<(), Box<Violation>> {
        let index = at.index;
        let time = at.time;
        let lookup = at.lookup;
        let v = |section: &'static str, message: String| at.v(section, message);
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
        let leaf = r.sale(sale).leaf;
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
        Ok(())
    }
}
