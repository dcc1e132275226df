//! Sales and voids: a sale only while the raffle is open and inside its
//! sales window (GLI-31 2.2.2, 2.6.2), of a configured package at its
//! price, taking the next draw numbers in order (3.2.1) and within the
//! ticket limit; a void names two different people (5.2.4), never a voided
//! sale, and never a sale of a draw already reconciled (2.6.3).

use super::*;
use crate::entry::{Sale, SaleVoided};

impl RaffleState {
    /// GLI-31 3.2.1: numbers are issued once, consecutively (to a sale or
    /// a unit's allocation), and within the ticket limit.
    pub(super) fn check_next_numbers(&self, first: u64, count: u64) -> Result<()> {
        if first != self.next_number {
            return Err(refused(Refusal::NotNextNumber {
                next: self.next_number,
                first,
            }));
        }
        if let Some(max) = self.config.max_tickets
            && self.sold_numbers() + count > max.0
        {
            return Err(refused(Refusal::NotEnoughTickets {
                left: max.0 - self.sold_numbers(),
            }));
        }
        Ok(())
    }
}

impl Ledger {
    pub(super) fn sale(&mut self, entry: &Entry, e: &Sale) -> Result<()> {
        if e.device.is_some() {
            return self.rsu_sale(entry, e);
        }
        let time = entry.time;
        let index = self.size;
        let r = self.raffle_mut(&e.raffle)?;
        if r.status != Status::Open {
            return Err(refused(Refusal::RaffleNotOnSale {
                raffle: e.raffle.to_string(),
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
                sale: e.sale.to_string(),
            }));
        }
        let package = r
            .config
            .packages
            .iter()
            .find(|p| p.id == e.package)
            .ok_or_else(|| {
                refused(Refusal::NoPackage {
                    package: e.package.to_string(),
                })
            })?;
        let count = u64::from(package.tickets) * u64::from(e.quantity);
        let price = package
            .price
            .minor
            .checked_mul(u64::from(e.quantity))
            .ok_or_else(|| Error::Overflow("price".into()))?;
        if e.numbers.count.0 != count || e.price != Money::new(price, package.price.currency) {
            return Err(refused(Refusal::PackageMismatch {}));
        }
        r.check_next_numbers(e.numbers.first.0, count)?;
        let gross = r.gross.checked_add(&e.price)?;
        let net = r.net.checked_add(&e.price)?;
        r.next_number += count;
        r.gross = gross;
        r.net = net;
        r.sale_by_id
            .insert(e.sale.clone(), SalePos::Online(r.online.len()));
        r.online.push(SaleRecord {
            id: e.sale.clone(),
            first: e.numbers.first.0,
            count,
            price: e.price,
            sequenced: time,
            voided: false,
            refunded: false,
            cash: false,
            rsu: e.rsu.clone(),
            device_time: None,
            index,
        });
        Ok(())
    }

    pub(super) fn sale_voided(&mut self, e: &SaleVoided) -> Result<()> {
        if e.requested_by == e.approved_by {
            return Err(refused(Refusal::VoidNeedsSecondPerson {}));
        }
        let r = self.raffle_mut(&e.raffle)?;
        let sale = r.sale(&e.sale).ok_or_else(|| {
            refused(Refusal::NoSale {
                sale: e.sale.to_string(),
            })
        })?;
        if sale.voided {
            return Err(refused(Refusal::SaleAlreadyVoided {
                sale: e.sale.to_string(),
            }));
        }
        for d in &r.config.draws {
            if sale.counts_for(d.cutoff, None) && r.draws.get(&d.id).is_some_and(|s| s.reconciled) {
                return Err(refused(Refusal::VoidAfterReconciliation {
                    draw: d.id.to_string(),
                }));
            }
        }
        let price = sale.price;
        r.net = r.net.checked_sub(&price)?;
        let sale = r.sale_mut(&e.sale).expect("found above");
        sale.voided = true;
        sale.refunded = e.refund;
        Ok(())
    }
}
