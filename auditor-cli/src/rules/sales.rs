//! Sales and voids as the auditor replays them: a sale only while open and
//! inside the window (GLI-31 2.2.2, 2.6.2), of a configured package at its
//! price, the next numbers in order (3.2.1; numbers allocated to a sales
//! unit are issued too), within the ticket limit, its validation number's
//! commitment never repeated in the raffle (2.3.2); a void by two people
//! (5.2.4), never twice, never after its draw's reconciliation (2.6.3).
//! A sale carrying a device record (schema version 4) is an RSU sale,
//! judged by [`super::rsu`].

use super::*;
use raffle_core::entry::{Sale, SaleVoided};

impl Audit {
    pub(super) fn sale(&mut self, at: &At<'_>, e: &Sale) -> Result<(), Box<Violation>> {
        if e.device.is_some() {
            return self.rsu_sale(at, e);
        }
        let index = at.index;
        let time = at.time;
        let lookup = at.lookup;
        let v = |section: &'static str, message: String| at.v(section, message);
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
        let sold_at = |p: u32| sale_id_at(lookup, r.sale(p).leaf);
        if let Some(p) = r.sale_pos(&e.sale)
            && sold_at(p).is_none_or(|earlier| earlier == e.sale)
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
        let Some(package_pos) = r.config.packages.iter().position(|p| p.id == e.package) else {
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
            let online = r.sales.online();
            let from = online.partition_point(|s| s.first + r.count(s) <= first);
            let clashes: Vec<SaleRec> = (from..online.len())
                .map(|i| *online.get(i))
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
            let allocated = r
                .allocations
                .iter()
                .find(|&&(f, c)| f < end && first < f + c);
            let message = match (clashes.first(), allocated) {
                (Some(s), _) => format!(
                    "draw numbers {first}..{} were already issued (sale at leaf {})",
                    end - 1,
                    s.leaf
                ),
                (None, Some((f, c))) => format!(
                    "draw numbers {first}..{} are allocated to a sales unit ({f}..{})",
                    end - 1,
                    f + c - 1
                ),
                (None, None) => format!(
                    "draw number {first} is below the raffle's first number {} or skips back",
                    r.config.first_number.0
                ),
            };
            return Err(v("GLI-31 3.2.1", message));
        }
        if let Some(max) = r.config.max_tickets
            && r.issued.saturating_add(count) > max.0
        {
            return Err(v(
                "GLI-31 2.2.3",
                format!("more than the raffle's {} tickets are sold", max.0),
            ));
        }
        let commitment = hex::encode(e.validation.0);
        r.check_new_commitment(&commitment, lookup, &v)?;
        let position = r.sales.next_online();
        r.index_sale(&e.sale, &commitment, position, lookup, &v)?;
        r.sales.push_online(SaleRec {
            first,
            sequenced: time.as_micros(),
            leaf: index,
            quantity: e.quantity,
            package: package_pos as u16,
            voided: false,
            refunded: false,
        });
        r.next_free = first + count;
        r.issued = r.issued.saturating_add(count);
        r.last_sequenced = time.as_micros();
        r.summary.sales += 1;
        r.summary.numbers = r.summary.numbers.saturating_add(count);
        r.summary.gross_minor = r.summary.gross_minor.saturating_add(e.price.minor);
        r.summary.net_minor = r.summary.net_minor.saturating_add(e.price.minor);
        Ok(())
    }

    pub(super) fn sale_voided(
        &mut self,
        at: &At<'_>,
        e: &SaleVoided,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let v = |section: &'static str, message: String| at.v(section, message);
        two_people(&e.requested_by, &e.approved_by, "void", &v)?;
        let r = self.raffle(index, &e.raffle)?;
        let Some(i) = r.sale_pos(&e.sale) else {
            return Err(v(
                "GLI-31 2.3.3",
                format!("void of sale {}, which this raffle never sold", e.sale),
            ));
        };
        let sold = r.sales.sold(i);
        let s = *sold.sale;
        if s.voided {
            return Err(v(
                "GLI-31 2.3.3",
                format!("sale {} is voided twice", e.sale),
            ));
        }
        if let Some(d) = r
            .draws
            .iter()
            .find(|d| d.reconciled && sold.counts_for(d.config.cutoff.as_micros(), None))
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
        let s = r.sales.get_mut(i);
        s.voided = true;
        s.refunded = e.refund;
        r.summary.voids += 1;
        r.summary.voided_minor = r.summary.voided_minor.saturating_add(price);
        if e.refund {
            r.summary.refunded_minor = r.summary.refunded_minor.saturating_add(price);
        }
        r.summary.net_minor = r.summary.net_minor.saturating_sub(price);
        Ok(())
    }
}

impl Raffle {
    /// GLI-31 2.3.2: a validation number's commitment (`hex`) is new in
    /// the raffle. A fingerprint met is read back from the log to tell
    /// two commitments apart.
    pub(super) fn commitment_taken(&self, hex: &str, lookup: &dyn Lookup) -> Option<u32> {
        let p = self.commitments.get(hex)?;
        commitment_at(lookup, self.sale(p).leaf)
            .is_none_or(|earlier| earlier == hex)
            .then_some(p)
    }

    pub(super) fn check_new_commitment(
        &self,
        hex: &str,
        lookup: &dyn Lookup,
        v: &Cite,
    ) -> Result<(), Box<Violation>> {
        match self.commitment_taken(hex, lookup) {
            None => Ok(()),
            Some(p) => Err(v(
                "GLI-31 2.3.2",
                format!(
                    "the validation number's commitment {hex} is the sale's at leaf {} already",
                    self.sale(p).leaf
                ),
            )),
        }
    }

    /// Indexes a new sale at `position` by its id and its commitment.
    pub(super) fn index_sale(
        &mut self,
        id: &str,
        commitment: &str,
        position: u32,
        lookup: &dyn Lookup,
        v: &Cite,
    ) -> Result<(), Box<Violation>> {
        let Raffle {
            sales,
            index,
            commitments,
            ..
        } = self;
        if index
            .insert(id, position, |p| sale_id_at(lookup, sales.get(p).leaf))
            .is_err()
        {
            return Err(v("GLI-31 3.2.1", format!("sale {id} is sold twice")));
        }
        // Checked new before: a meeting fingerprint is another commitment.
        let _ = commitments.insert(commitment, position, |p| {
            commitment_at(lookup, sales.get(p).leaf)
        });
        Ok(())
    }
}
