//! The raffle's life: creation (a valid configuration, GLI-31 2.2.1),
//! changes while a draft only (frozen once opened, 2.2.3), opening within
//! the sales window (2.2.2), closing (by an operator, or at the end time:
//! 2.6.2), and the events digests that anchor significant events in the
//! log (5.6.2), whose ranges never overlap.

use super::*;
use crate::entry::{EventsDigest, RaffleClosed, RaffleCreated, RaffleOpened, RaffleUpdated};

impl Ledger {
    pub(super) fn events_digest(&mut self, e: &EventsDigest) -> Result<()> {
        if e.first.0 <= self.last_event {
            return Err(refused(Refusal::EventsDigestOverlap {
                last: self.last_event,
            }));
        }
        self.last_event = e.last.0;
        Ok(())
    }

    pub(super) fn raffle_created(&mut self, e: &RaffleCreated) -> Result<()> {
        if self.raffles.contains_key(&e.raffle) {
            return Err(refused(Refusal::RaffleExists {
                raffle: e.raffle.to_string(),
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
                online: ChunkedVec::new(),
                rsu_sales: BTreeMap::new(),
                rsu_latest: None,
                sale_by_id: BTreeMap::new(),
                revealed: HashMap::new(),
                net: Money::zero(currency),
                gross: Money::zero(currency),
                payment_account: None,
            },
        );
        Ok(())
    }

    pub(super) fn raffle_updated(&mut self, e: &RaffleUpdated) -> Result<()> {
        let r = self.raffle_mut(&e.raffle)?;
        if r.status != Status::Draft {
            // GLI-31 2.2.3: frozen once the raffle has opened.
            return Err(refused(Refusal::ConfigurationFrozen {
                raffle: e.raffle.to_string(),
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
        Ok(())
    }

    pub(super) fn raffle_opened(&mut self, entry: &Entry, e: &RaffleOpened) -> Result<()> {
        let time = entry.time;
        let r = self.raffle_mut(&e.raffle)?;
        if r.status != Status::Draft {
            return Err(refused(Refusal::RaffleNotDraft {
                raffle: e.raffle.to_string(),
                status: r.status.as_str().to_string(),
            }));
        }
        if time >= r.config.sales_end {
            return Err(refused(Refusal::SalesWindowEnded {}));
        }
        r.status = Status::Open;
        r.payment_account = e.payment_account.map(|d| d.0);
        Ok(())
    }

    pub(super) fn raffle_closed(&mut self, entry: &Entry, e: &RaffleClosed) -> Result<()> {
        let time = entry.time;
        let r = self.raffle_mut(&e.raffle)?;
        if r.status != Status::Open {
            return Err(refused(Refusal::RaffleNotOpen {
                raffle: e.raffle.to_string(),
                status: r.status.as_str().to_string(),
            }));
        }
        if e.reason == CloseReason::EndTime && time < r.config.sales_end {
            return Err(refused(Refusal::EndTimeNotReached {}));
        }
        r.status = Status::Closed;
        r.closed_at = Some(time);
        Ok(())
    }
}
