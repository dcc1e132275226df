//! Reconciliation with Stripe (GLI-31 2.6.3): a raffle's card sales,
//! voids and refunds as our ledger and orders have them, against Stripe's
//! own books (balance transactions and payouts, fees included), per day
//! and in total, with every difference listed by order. Finance reads it
//! on the draw's reconciliation screen before acknowledging; an
//! acknowledgement while a difference is unexplained needs a written
//! reason ([`crate::app::operations::request_reconciliation`]).
//!
//! Stripe's books are fetched ([`start_fetch`]) into the database on
//! demand: every balance transaction since the last fetch that succeeded
//! (two days of overlap; stored once each by id, all or none per fetch),
//! its source expanded to find its
//! PaymentIntent (the link to an order), and every payout with the
//! transactions it paid out. The comparison ([`CardReconciliation::of`])
//! reads only the database and the ledger, so a page shows at once and
//! says how old the figures are.
//!
//! Per order, what we expect Stripe's net sales to be: the price if the
//! order became a sale, less the price again if that sale was voided with
//! a refund, or voided because its payment was reversed (a failed capture,
//! a refund made in Stripe's dashboard, a lost dispute: Stripe took the
//! money back itself). Stripe's net sales for the order: its charges, less
//! its refunds and its dispute withdrawals (net of reinstatements). Fees
//! are shown, never a difference. When the two differ, the order is listed
//! with the first of these that fits: `no_order` (money moved for no order
//! of ours), `not_captured`, `charged_without_sale`, `refunded_outside`,
//! `refund_missing`, `disputed`, `currency`, `amount`.
//!
//! A charge that belongs to no order belongs to no raffle either: every
//! raffle whose sales had started by then lists it.

use super::StripeProvider;
use crate::AppState;
use crate::error::AppError;
use raffle_core::ids::RaffleId;
use raffle_core::store::statements::{
    CardOrder, Fetch, ProviderPayout, ProviderTransaction, StoredTransaction,
};
use raffle_core::{Currency, Refusal, Timestamp};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider name the store files Stripe's books under.
pub const PROVIDER: &str = "stripe";

/// How far back a fetch looks before the last one that succeeded: a
/// transaction is listed by its creation time, and one created just
/// before that fetch may not have been listed by it yet.
const OVERLAP_SECS: i64 = 2 * 86_400;

/// Starts fetching Stripe's books in the background; the fetch's id. One
/// fetch at a time: a second while one runs is refused.
pub async fn start_fetch(state: &AppState) -> Result<i64, AppError> {
    let stripe = state
        .payments
        .stripe()
        .cloned()
        .ok_or_else(|| AppError::refused(Refusal::CardPaymentsOff {}))?;
    let guard = stripe
        .fetching
        .clone()
        .try_lock_owned()
        .map_err(|_| AppError::refused(Refusal::CardFetchRunning {}))?;
    let id = state.store.begin_provider_fetch(PROVIDER).await?;
    let state = state.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let outcome = fetch(&state, &stripe).await;
        let (transactions, payouts, error) = match &outcome {
            Ok((t, p)) => (*t, *p, None),
            Err(e) => (0, 0, Some(e.clone())),
        };
        if let Some(e) = &error {
            tracing::warn!(fetch = id, error = %e, "fetching Stripe's balance transactions failed");
        } else {
            tracing::info!(
                fetch = id,
                transactions,
                payouts,
                "fetched Stripe's balance transactions"
            );
        }
        if let Err(e) = state
            .store
            .finish_provider_fetch(id, transactions, payouts, error.as_deref())
            .await
        {
            tracing::error!(fetch = id, error = %e, "recording a fetch of Stripe's books failed");
        }
    });
    Ok(id)
}

/// Fetches into the store: how many transactions and payouts were new or
/// updated. The error is for staff (it may quote Stripe).
async fn fetch(state: &AppState, stripe: &Arc<StripeProvider>) -> Result<(i32, i32), String> {
    let store = &state.store;
    let (_, succeeded) = store
        .provider_fetches(PROVIDER)
        .await
        .map_err(|e| e.to_string())?;
    let since = match succeeded {
        // From a little before the last fetch that succeeded: whatever it
        // stored is whole (a fetch stores all or nothing).
        Some(f) => f.started.as_micros() / 1_000_000 - OVERLAP_SECS,
        // The first fetch: from a day before the first raffle went on sale.
        None => {
            let first = state
                .sequencer
                .ledger()
                .raffles()
                .filter(|r| r.status != raffle_core::ledger::Status::Draft)
                .map(|r| r.config.sales_start.as_micros() / 1_000_000)
                .min()
                .unwrap_or_else(|| Timestamp::now().as_micros() / 1_000_000);
            first - 86_400
        }
    };
    let listed = stripe
        .api
        .balance_transactions(since)
        .await
        .map_err(|e| e.to_string())?;
    let transactions: Vec<ProviderTransaction> = listed
        .into_iter()
        .map(|t| ProviderTransaction {
            id: t.id,
            kind: t.kind,
            category: t.reporting_category,
            amount: t.amount,
            fee: t.fee,
            net: t.net,
            currency: t.currency,
            created: Timestamp::from_micros(t.created.saturating_mul(1_000_000)),
            source: t.source.as_ref().map(|s| s.id.clone()),
            payment_intent: t.source.and_then(|s| s.payment_intent),
        })
        .collect();
    let new = store
        .record_provider_transactions(PROVIDER, &transactions)
        .await
        .map_err(|e| e.to_string())?;
    // Payouts of the same period (a week more: a payout pays out what
    // was made days before it), each listed once it can change no more.
    let mut payouts = 0;
    for p in stripe
        .api
        .payouts(since - 7 * 86_400)
        .await
        .map_err(|e| e.to_string())?
    {
        // Stripe lists a payout's transactions for automatic payouts only.
        if !p.automatic
            || store
                .provider_payout_settled(&p.id)
                .await
                .map_err(|e| e.to_string())?
        {
            continue;
        }
        let paid = stripe
            .api
            .payout_transactions(&p.id)
            .await
            .map_err(|e| e.to_string())?;
        let payout = ProviderPayout {
            id: p.id,
            amount: p.amount,
            currency: p.currency,
            created: Timestamp::from_micros(p.created.saturating_mul(1_000_000)),
            arrival: Timestamp::from_micros(p.arrival_date.saturating_mul(1_000_000)),
            status: p.status,
        };
        store
            .record_provider_payout(PROVIDER, &payout, &paid)
            .await
            .map_err(|e| e.to_string())?;
        payouts += 1;
    }
    Ok((i32::try_from(new).unwrap_or(i32::MAX), payouts))
}

/// A signed amount in minor units of the raffle's currency (refunds and
/// withdrawals make figures negative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amount(pub i64);

impl Amount {
    fn add(&mut self, v: i64) -> Result<(), AppError> {
        self.0 = self.0.checked_add(v).ok_or_else(overflow)?;
        Ok(())
    }

    fn json(self, currency: Currency) -> Value {
        json!({ "minor": self.0.to_string(), "currency": currency.to_string() })
    }

    /// `-12.34 CAD` style.
    pub fn display(self, currency: Currency) -> String {
        let m = raffle_core::Money::new(self.0.unsigned_abs(), currency);
        if self.0 < 0 {
            format!("-{m}")
        } else {
            m.to_string()
        }
    }
}

fn overflow() -> AppError {
    AppError::from(raffle_core::Error::Overflow(
        "the reconciliation's figures".into(),
    ))
}

/// One day's figures (or the total): ours, then Stripe's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC); `None` for the total.
    pub date: Option<String>,
    /// Card sales issued, and what they sold for.
    pub sales: u64,
    pub sold: Amount,
    /// Card sales voided with a refund (by the day the void was approved).
    pub refunds: u64,
    pub refunded: Amount,
    /// Stripe: charges, refunds, dispute withdrawals (net of
    /// reinstatements), fees, and the net to the balance.
    pub charged: Amount,
    pub stripe_refunded: Amount,
    pub disputed: Amount,
    pub fees: Amount,
    pub net: Amount,
}

/// Why an order's figures differ (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DifferenceKind {
    NoOrder,
    NotCaptured,
    ChargedWithoutSale,
    RefundedOutside,
    RefundMissing,
    Disputed,
    Currency,
    Amount,
}

impl DifferenceKind {
    pub fn code(self) -> &'static str {
        match self {
            DifferenceKind::NoOrder => "no_order",
            DifferenceKind::NotCaptured => "not_captured",
            DifferenceKind::ChargedWithoutSale => "charged_without_sale",
            DifferenceKind::RefundedOutside => "refunded_outside",
            DifferenceKind::RefundMissing => "refund_missing",
            DifferenceKind::Disputed => "disputed",
            DifferenceKind::Currency => "currency",
            DifferenceKind::Amount => "amount",
        }
    }
}

/// One order (or PaymentIntent of no order) whose figures differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    /// Our order (its id is the sale's), if any.
    pub order: Option<String>,
    pub payment_intent: Option<String>,
    /// What we expect Stripe's net sales for it to be, and what they are.
    pub ours: Amount,
    pub stripe: Amount,
    /// When the sale was sequenced (it is eligible for draws cut off
    /// after), or, for money of no order, when Stripe booked it; `None`
    /// for an order that made no sale.
    pub at: Option<Timestamp>,
    /// The order's latest reversal, if one was opened: its status
    /// (`open`, `voided`, `kept`) and cause.
    pub reversal: Option<String>,
    pub reversal_cause: Option<String>,
}

impl Difference {
    /// Explained by a decision already taken: finance (two people) kept
    /// the sale whatever its money did, and this is the difference that
    /// decision was about (a later, other one is not explained by it).
    pub fn explained(&self) -> bool {
        let cause = match self.kind {
            DifferenceKind::NotCaptured => "capture_failed",
            DifferenceKind::RefundedOutside => "refunded_outside",
            DifferenceKind::Disputed => "dispute",
            _ => return false,
        };
        self.reversal.as_deref() == Some("kept") && self.reversal_cause.as_deref() == Some(cause)
    }

    /// Whether the difference bears on a draw cut off at `cutoff`: it
    /// concerns a sale eligible for it, money booked before it, or an
    /// order that made no sale.
    pub fn bears_on(&self, cutoff: Timestamp) -> bool {
        self.at.is_none_or(|t| t < cutoff)
    }

    /// What identifies the difference for an approver: its kind and its
    /// order (or PaymentIntent).
    pub fn key(&self) -> String {
        let subject = self
            .order
            .as_deref()
            .or(self.payment_intent.as_deref())
            .unwrap_or("-");
        format!("{}:{subject}", self.kind.code())
    }
}

/// A payout that paid out some of the raffle's money.
#[derive(Clone, Debug)]
pub struct PayoutShare {
    pub payout: ProviderPayout,
    /// The net of the raffle's transactions in it.
    pub share: Amount,
}

/// The raffle's card money, ours against Stripe's.
#[derive(Clone, Debug)]
pub struct CardReconciliation {
    pub raffle: RaffleId,
    pub currency: Currency,
    /// The latest fetch, and the latest that succeeded (the figures' date).
    pub latest_fetch: Option<Fetch>,
    pub fetched: Option<Fetch>,
    pub days: Vec<Day>,
    pub total: Day,
    pub payouts: Vec<PayoutShare>,
    /// The net of the raffle's transactions not paid out yet.
    pub not_paid_out: Amount,
    pub differences: Vec<Difference>,
}

/// What Stripe's books hold for one PaymentIntent.
#[derive(Default)]
struct Books {
    order: Option<String>,
    charged: Amount,
    refunded: Amount,
    disputed: Amount,
    /// Anything else booked on it (an adjustment): a difference.
    other: Amount,
    other_currency: bool,
    /// When its first transaction was booked.
    first: Option<Timestamp>,
}

impl Books {
    fn net(&self) -> Result<Amount, AppError> {
        let mut n = self.charged;
        n.add(neg(self.refunded.0)?)?;
        n.add(neg(self.disputed.0)?)?;
        n.add(self.other.0)?;
        Ok(n)
    }
}

fn neg(v: i64) -> Result<i64, AppError> {
    v.checked_neg().ok_or_else(overflow)
}

/// Splits a transaction's gross into charged, refunded, disputed or
/// other, by its reporting category (Stripe's own sorting for
/// reconciliation).
fn book(b: &mut Books, t: &ProviderTransaction) -> Result<(), AppError> {
    match t.category.as_str() {
        "charge" => b.charged.add(t.amount),
        "refund" | "refund_failure" => b.refunded.add(neg(t.amount)?),
        "dispute" | "dispute_reversal" => b.disputed.add(neg(t.amount)?),
        _ => b.other.add(t.amount),
    }
}

fn day_of(t: Timestamp) -> Result<String, AppError> {
    Ok(t.to_offset_datetime()?.date().to_string())
}

impl CardReconciliation {
    /// The raffle's reconciliation from the stored books and the ledger.
    pub async fn of(state: &AppState, raffle: &RaffleId) -> Result<CardReconciliation, AppError> {
        let (since, until, currency) = {
            let ledger = state.sequencer.ledger();
            let r = ledger
                .raffle(raffle)
                .ok_or_else(|| AppError::not_found("no such raffle"))?;
            // Money of no order counts while the raffle was on sale.
            let end = r.closed_at.unwrap_or(r.config.sales_end);
            (r.config.sales_start, end, r.gross.currency)
        };
        let store = &state.store;
        let (latest_fetch, fetched) = store.provider_fetches(PROVIDER).await?;
        let orders = store.card_orders(raffle, PROVIDER).await?;
        let transactions = store
            .raffle_provider_transactions(PROVIDER, raffle, since, until)
            .await?;
        let sales: BTreeMap<String, (Timestamp, bool)> = {
            let ledger = state.sequencer.ledger();
            let r = ledger
                .raffle(raffle)
                .ok_or_else(|| AppError::not_found("no such raffle"))?;
            orders
                .iter()
                .filter_map(|o| {
                    r.sale(&o.id)
                        .map(|s| (o.id.clone(), (s.sequenced, s.refunded)))
                })
                .collect()
        };
        let payouts = store
            .provider_payouts(
                &transactions
                    .iter()
                    .filter_map(|t| t.payout.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>(),
            )
            .await?;
        Self::compute(
            raffle.clone(),
            currency,
            &orders,
            &sales,
            &transactions,
            payouts,
            latest_fetch,
            fetched,
        )
    }

    /// The comparison itself (no I/O).
    #[allow(clippy::too_many_arguments)]
    fn compute(
        raffle: RaffleId,
        currency: Currency,
        orders: &[CardOrder],
        sales: &BTreeMap<String, (Timestamp, bool)>,
        transactions: &[StoredTransaction],
        payouts: Vec<ProviderPayout>,
        latest_fetch: Option<Fetch>,
        fetched: Option<Fetch>,
    ) -> Result<CardReconciliation, AppError> {
        let ours_currency = currency.as_str().to_ascii_lowercase();
        let mut days: BTreeMap<String, Day> = BTreeMap::new();
        let mut total = Day::default();
        // Our side, by day.
        for o in orders {
            let Some((sold_at, refunded)) = sales.get(&o.id) else {
                continue;
            };
            let d = days.entry(day_of(*sold_at)?).or_default();
            d.sales += 1;
            d.sold.add(o.amount)?;
            total.sales += 1;
            total.sold.add(o.amount)?;
            if *refunded {
                let when = o.refund_requested.unwrap_or(*sold_at);
                let d = days.entry(day_of(when)?).or_default();
                d.refunds += 1;
                d.refunded.add(o.amount)?;
                total.refunds += 1;
                total.refunded.add(o.amount)?;
            }
        }
        // Stripe's side, by day and by PaymentIntent. A transaction in
        // another currency is kept out of the sums: it is a difference.
        let mut books: BTreeMap<String, Books> = BTreeMap::new();
        let mut shares: BTreeMap<String, Amount> = BTreeMap::new();
        let mut not_paid_out = Amount::default();
        for st in transactions {
            let t = &st.transaction;
            if t.category == "payout" {
                continue;
            }
            // A transaction with no PaymentIntent is keyed by its source.
            let key = t
                .payment_intent
                .clone()
                .or_else(|| t.source.clone())
                .unwrap_or_else(|| t.id.clone());
            let b = books.entry(key).or_default();
            b.order = st.order.clone();
            b.first = Some(b.first.map_or(t.created, |f| f.min(t.created)));
            if t.currency != ours_currency {
                b.other_currency = true;
                continue;
            }
            book(b, t)?;
            let d = days.entry(day_of(t.created)?).or_default();
            for day in [d, &mut total] {
                let mut one = Books::default();
                book(&mut one, t)?;
                day.charged.add(one.charged.0)?;
                day.stripe_refunded.add(one.refunded.0)?;
                day.disputed.add(one.disputed.0)?;
                day.fees.add(t.fee)?;
                day.net.add(t.net)?;
            }
            match &st.payout {
                Some(p) => shares.entry(p.clone()).or_default().add(t.net)?,
                None => not_paid_out.add(t.net)?,
            }
        }
        // Differences: every order, then every PaymentIntent of no order.
        let mut differences = Vec::new();
        for o in orders {
            let sale = sales.get(&o.id);
            let price = o.amount;
            let mut ours = Amount::default();
            let mut refunded_expected = Amount::default();
            if let Some((_, refunded)) = sale {
                ours.add(price)?;
                if *refunded {
                    ours.add(neg(price)?)?;
                    refunded_expected.add(price)?;
                } else if o.reversal.as_deref() == Some("voided") {
                    // Voided because Stripe took the money back itself.
                    ours.add(neg(price)?)?;
                }
            }
            let b = o
                .payment_intent
                .as_ref()
                .and_then(|pi| books.remove(pi))
                .unwrap_or_default();
            let stripe = b.net()?;
            if stripe == ours && !b.other_currency {
                continue;
            }
            let kind = if b.other_currency {
                DifferenceKind::Currency
            } else if sale.is_some() && b.charged.0 == 0 {
                DifferenceKind::NotCaptured
            } else if sale.is_none() && b.charged.0 > 0 {
                DifferenceKind::ChargedWithoutSale
            } else if b.refunded.0 > refunded_expected.0 {
                DifferenceKind::RefundedOutside
            } else if b.refunded.0 < refunded_expected.0 {
                DifferenceKind::RefundMissing
            } else if b.disputed.0 != 0 {
                DifferenceKind::Disputed
            } else {
                DifferenceKind::Amount
            };
            differences.push(Difference {
                kind,
                order: Some(o.id.clone()),
                payment_intent: o.payment_intent.clone(),
                ours,
                stripe,
                at: sale.map(|(t, _)| *t),
                reversal: o.reversal.clone(),
                reversal_cause: o.reversal_cause.clone(),
            });
        }
        for (key, b) in books {
            let stripe = b.net()?;
            if stripe.0 == 0 && !b.other_currency {
                continue;
            }
            differences.push(Difference {
                kind: if b.other_currency {
                    DifferenceKind::Currency
                } else {
                    DifferenceKind::NoOrder
                },
                order: b.order.clone(),
                payment_intent: Some(key),
                ours: Amount::default(),
                stripe,
                at: b.first,
                reversal: None,
                reversal_cause: None,
            });
        }
        let days = days
            .into_iter()
            .map(|(date, mut d)| {
                d.date = Some(date);
                d
            })
            .collect();
        let payouts = payouts
            .into_iter()
            .map(|p| PayoutShare {
                share: shares.get(&p.id).copied().unwrap_or_default(),
                payout: p,
            })
            .collect();
        Ok(CardReconciliation {
            raffle,
            currency,
            latest_fetch,
            fetched,
            days,
            total,
            payouts,
            not_paid_out,
            differences,
        })
    }

    /// The differences bearing on a draw cut off at `cutoff` and not
    /// explained by a decision already taken.
    pub fn unexplained(&self, cutoff: Timestamp) -> Vec<&Difference> {
        self.differences
            .iter()
            .filter(|d| d.bears_on(cutoff) && !d.explained())
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let c = self.currency;
        let day = |d: &Day| {
            json!({
                "date": d.date,
                "sales": d.sales.to_string(),
                "sold": d.sold.json(c),
                "refunds": d.refunds.to_string(),
                "refunded": d.refunded.json(c),
                "stripe": {
                    "charged": d.charged.json(c),
                    "refunded": d.stripe_refunded.json(c),
                    "disputed": d.disputed.json(c),
                    "fees": d.fees.json(c),
                    "net": d.net.json(c),
                },
            })
        };
        let fetch = |f: &Option<Fetch>| {
            f.as_ref().map(|f| {
                json!({
                    "id": f.id.to_string(),
                    "started_at": f.started,
                    "finished_at": f.finished,
                    "transactions": f.transactions,
                    "payouts": f.payouts,
                    "error": f.error,
                })
            })
        };
        json!({
            "raffle": self.raffle,
            "fetched": fetch(&self.fetched),
            "latest_fetch": fetch(&self.latest_fetch),
            "days": self.days.iter().map(day).collect::<Vec<_>>(),
            "total": day(&self.total),
            "payouts": self.payouts.iter().map(|p| json!({
                "id": p.payout.id,
                "created": p.payout.created,
                "arrival": p.payout.arrival,
                "status": p.payout.status,
                "amount": Amount(p.payout.amount).json(c),
                "raffle_share": p.share.json(c),
            })).collect::<Vec<_>>(),
            "not_paid_out": self.not_paid_out.json(c),
            "differences": self.differences.iter().map(|d| json!({
                "kind": d.kind.code(),
                "order": d.order,
                "payment_intent": d.payment_intent,
                "ours": d.ours.json(c),
                "stripe": d.stripe.json(c),
                "at": d.at,
                "reversal": d.reversal,
                "reversal_cause": d.reversal_cause,
                "explained": d.explained(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The card reconciliation to show for a draw, if the deployment takes
/// cards and the raffle has card orders or Stripe shows money for it.
pub async fn for_raffle(
    state: &AppState,
    raffle: &RaffleId,
) -> Result<Option<CardReconciliation>, AppError> {
    if state.payments.stripe().is_none() {
        return Ok(None);
    }
    let r = CardReconciliation::of(state, raffle).await?;
    if r.total.sales == 0 && r.differences.is_empty() && r.days.is_empty() {
        return Ok(None);
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, pi: &str, reversal: Option<(&str, &str)>) -> CardOrder {
        CardOrder {
            id: id.into(),
            payment_intent: Some(pi.into()),
            status: "issued".into(),
            funds: Some("captured".into()),
            amount: 1000,
            stamped: Timestamp::from_micros(1_700_000_000_000_000),
            refund_requested: None,
            reversal: reversal.map(|r| r.0.to_string()),
            reversal_cause: reversal.map(|r| r.1.to_string()),
            dispute: None,
        }
    }

    fn txn(
        id: &str,
        pi: &str,
        category: &str,
        amount: i64,
        fee: i64,
        order: Option<&str>,
    ) -> StoredTransaction {
        StoredTransaction {
            transaction: ProviderTransaction {
                id: id.into(),
                kind: category.into(),
                category: category.into(),
                amount,
                fee,
                net: amount - fee,
                currency: "cad".into(),
                created: Timestamp::from_micros(1_700_000_100_000_000),
                source: Some(format!("src_{id}")),
                payment_intent: Some(pi.into()),
            },
            payout: None,
            order: order.map(str::to_string),
        }
    }

    fn compute(
        orders: &[CardOrder],
        sales: &[(&str, bool)],
        transactions: &[StoredTransaction],
    ) -> CardReconciliation {
        let sales = sales
            .iter()
            .map(|(id, refunded)| {
                (
                    id.to_string(),
                    (Timestamp::from_micros(1_700_000_000_000_000), *refunded),
                )
            })
            .collect();
        CardReconciliation::compute(
            RaffleId::new_random(),
            Currency::CAD,
            orders,
            &sales,
            transactions,
            vec![],
            None,
            None,
        )
        .unwrap()
    }

    fn kinds(r: &CardReconciliation) -> Vec<&'static str> {
        r.differences.iter().map(|d| d.kind.code()).collect()
    }

    #[test]
    fn matching_books_show_no_difference_and_add_up_per_day() {
        let orders = [order("a", "pi_a", None), order("b", "pi_b", None)];
        let t = [
            txn("1", "pi_a", "charge", 1000, 59, Some("a")),
            txn("2", "pi_b", "charge", 1000, 59, Some("b")),
            txn("3", "pi_b", "refund", -1000, 0, Some("b")),
        ];
        let r = compute(&orders, &[("a", false), ("b", true)], &t);
        assert_eq!(kinds(&r), Vec::<&str>::new());
        assert_eq!(r.total.sales, 2);
        assert_eq!(r.total.sold, Amount(2000));
        assert_eq!(r.total.refunded, Amount(1000));
        assert_eq!(r.total.charged, Amount(2000));
        assert_eq!(r.total.stripe_refunded, Amount(1000));
        assert_eq!(r.total.fees, Amount(118));
        assert_eq!(r.total.net, Amount(2000 - 118 - 1000));
        assert_eq!(r.not_paid_out, Amount(2000 - 118 - 1000));
        assert_eq!(r.days.len(), 1, "one day: {:?}", r.days);
    }

    #[test]
    fn each_kind_of_difference_is_named_once() {
        let orders = [
            order("uncaptured", "pi_1", Some(("open", "capture_failed"))),
            order("dashboard", "pi_2", Some(("open", "refunded_outside"))),
            order("dispute", "pi_3", Some(("open", "dispute"))),
            order("void-unrefunded", "pi_4", None),
            order("cancelled", "pi_5", None),
            order("kept", "pi_6", Some(("kept", "capture_failed"))),
            order("reversed", "pi_7", Some(("voided", "refunded_outside"))),
        ];
        let t = [
            txn("2", "pi_2", "charge", 1000, 59, Some("dashboard")),
            txn("2r", "pi_2", "refund", -1000, 0, Some("dashboard")),
            txn("3", "pi_3", "charge", 1000, 59, Some("dispute")),
            txn("3d", "pi_3", "dispute", -1000, 1500, Some("dispute")),
            // A void with refund whose refund Stripe never made.
            txn("4", "pi_4", "charge", 1000, 59, Some("void-unrefunded")),
            // Money for an order that never became a sale.
            txn("5", "pi_5", "charge", 1000, 59, Some("cancelled")),
            // A charge of no order at all.
            txn("9", "pi_9", "charge", 777, 53, None),
            // Reversed and voided: Stripe refunded, our sale is voided.
            txn("7", "pi_7", "charge", 1000, 59, Some("reversed")),
            txn("7r", "pi_7", "refund", -1000, 0, Some("reversed")),
        ];
        let r = compute(
            &orders,
            &[
                ("uncaptured", false),
                ("dashboard", false),
                ("dispute", false),
                ("void-unrefunded", true),
                ("kept", false),
                ("reversed", false),
            ],
            &t,
        );
        assert_eq!(
            kinds(&r),
            [
                "not_captured",
                "refunded_outside",
                "disputed",
                "refund_missing",
                "charged_without_sale",
                "not_captured",
                "no_order"
            ]
        );
        let cutoff = Timestamp::from_micros(1_800_000_000_000_000);
        // The kept sale's difference is explained by finance's decision.
        assert_eq!(r.unexplained(cutoff).len(), 6);
        let none = r.differences.last().unwrap();
        assert_eq!(none.stripe, Amount(777));
        assert_eq!(none.payment_intent.as_deref(), Some("pi_9"));
        // A draw cut off before the sales and the money: only an order
        // that made no sale bears on it.
        let early = Timestamp::from_micros(1_600_000_000_000_000);
        assert_eq!(
            r.unexplained(early)
                .iter()
                .map(|d| d.kind.code())
                .collect::<Vec<_>>(),
            ["charged_without_sale"]
        );
    }

    #[test]
    fn a_kept_sale_explains_only_the_difference_it_was_kept_for() {
        // Kept after its capture failed; later Stripe shows a refund too.
        let orders = [order("kept", "pi_k", Some(("kept", "capture_failed")))];
        let t = [
            txn("1", "pi_k", "charge", 1000, 59, Some("kept")),
            txn("2", "pi_k", "refund", -1000, 0, Some("kept")),
        ];
        let r = compute(&orders, &[("kept", false)], &t);
        assert_eq!(kinds(&r), ["refunded_outside"]);
        assert!(!r.differences[0].explained());
        // The failed capture it was kept for is explained.
        let r = compute(&orders, &[("kept", false)], &[]);
        assert_eq!(kinds(&r), ["not_captured"]);
        assert!(r.differences[0].explained());
    }

    #[test]
    fn other_activity_on_a_payment_is_a_difference_and_no_overflow_passes() {
        let orders = [order("a", "pi_a", None)];
        let t = [
            txn("1", "pi_a", "charge", 1000, 59, Some("a")),
            txn("2", "pi_a", "other_adjustment", -300, 0, Some("a")),
        ];
        let r = compute(&orders, &[("a", false)], &t);
        assert_eq!(kinds(&r), ["amount"]);
        assert_eq!(r.differences[0].stripe, Amount(700));
        let huge = [txn("1", "pi_a", "refund", i64::MIN, 0, Some("a"))];
        let sales = [("a".to_string(), (Timestamp::from_micros(0), false))].into();
        assert!(
            CardReconciliation::compute(
                RaffleId::new_random(),
                Currency::CAD,
                &orders,
                &sales,
                &huge,
                vec![],
                None,
                None,
            )
            .is_err()
        );
    }

    #[test]
    fn a_charge_in_another_currency_is_a_difference_even_when_the_amounts_agree() {
        let orders = [order("a", "pi_a", None)];
        let mut t = txn("1", "pi_a", "charge", 1000, 59, Some("a"));
        t.transaction.currency = "usd".into();
        let r = compute(&orders, &[("a", false)], &[t]);
        assert_eq!(kinds(&r), ["currency"]);
        assert_eq!(r.total.charged, Amount(0), "kept out of the sums");
    }

    #[test]
    fn a_won_dispute_nets_to_nothing() {
        let orders = [order("a", "pi_a", None)];
        let t = [
            txn("1", "pi_a", "charge", 1000, 59, Some("a")),
            txn("2", "pi_a", "dispute", -1000, 1500, Some("a")),
            txn("3", "pi_a", "dispute_reversal", 1000, -1500, Some("a")),
        ];
        let r = compute(&orders, &[("a", false)], &t);
        assert_eq!(kinds(&r), Vec::<&str>::new());
        assert_eq!(r.total.fees, Amount(59));
    }
}
