//! The card provider's books, as fetched from its API for reconciliation
//! (GLI-31 2.6.3): its balance transactions (charges, refunds, dispute
//! withdrawals and reinstatements, payouts, each with its fee) and its
//! payouts to the organisation's bank, each stored once by the provider's
//! id, and a record of each fetch. Our side of the comparison is the
//! ledger and the orders; nothing here is ever written to the log, and no
//! provider id leaves the database except on staff pages.

use super::{Store, uuid};
use crate::{Result, Timestamp};
use sqlx::Row;

/// One balance transaction as reconciliation reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderTransaction {
    pub id: String,
    /// The provider's type (`charge`, `refund`, `adjustment`, `payout`, ...).
    pub kind: String,
    /// The provider's reporting category (`charge`, `refund`, `dispute`,
    /// `dispute_reversal`, `payout`, ...): what reconciliation sorts by.
    pub category: String,
    /// Gross, fee and net, in minor units of `currency` (lower case, as the
    /// provider writes it); a withdrawal is negative.
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub currency: String,
    pub created: Timestamp,
    /// The object that moved the money (a charge, refund, dispute, payout).
    pub source: Option<String>,
    /// The PaymentIntent that object belongs to, if any: the link to an order.
    pub payment_intent: Option<String>,
}

/// One payout to the organisation's bank account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPayout {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub created: Timestamp,
    pub arrival: Timestamp,
    /// `pending`, `in_transit`, `paid`, `failed` or `canceled`.
    pub status: String,
}

/// A stored transaction, with the payout it went out in and the order it
/// belongs to, if any.
#[derive(Clone, Debug)]
pub struct StoredTransaction {
    pub transaction: ProviderTransaction,
    pub payout: Option<String>,
    pub order: Option<String>,
}

/// A fetch of the provider's books.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub id: i64,
    pub started: Timestamp,
    pub finished: Option<Timestamp>,
    pub transactions: i32,
    pub payouts: i32,
    pub error: Option<String>,
}

/// A card order of a raffle, as reconciliation compares it.
#[derive(Clone, Debug)]
pub struct CardOrder {
    pub id: String,
    pub payment_intent: Option<String>,
    pub status: String,
    pub funds: Option<String>,
    /// What the buyer pays, in minor units.
    pub amount: i64,
    pub stamped: Timestamp,
    /// When a void with refund was approved.
    pub refund_requested: Option<Timestamp>,
    /// The latest reversal's status (`open`, `voided`, `kept`) and cause
    /// (`capture_failed`, `refunded_outside`, `dispute`), if any.
    pub reversal: Option<String>,
    pub reversal_cause: Option<String>,
    pub dispute: Option<String>,
}

impl Store {
    /// Records that a fetch began; its id.
    pub async fn begin_provider_fetch(&self, provider: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO provider_fetches (provider, started_at) VALUES ($1, now()) RETURNING id",
        )
        .bind(provider)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records how a fetch ended.
    pub async fn finish_provider_fetch(
        &self,
        id: i64,
        transactions: i32,
        payouts: i32,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE provider_fetches SET finished_at = now(), transactions = $2, payouts = $3, error = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(transactions)
        .bind(payouts)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest fetch (finished or not), and the latest that succeeded.
    pub async fn provider_fetches(&self, provider: &str) -> Result<(Option<Fetch>, Option<Fetch>)> {
        let read = |r: sqlx::postgres::PgRow| Fetch {
            id: r.get(0),
            started: Timestamp::from_datetime(r.get(1)),
            finished: r
                .get::<Option<time::OffsetDateTime>, _>(2)
                .map(Timestamp::from_datetime),
            transactions: r.get(3),
            payouts: r.get(4),
            error: r.get(5),
        };
        let latest = sqlx::query(
            "SELECT id, started_at, finished_at, transactions, payouts, error FROM provider_fetches \
             WHERE provider = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(provider)
        .fetch_optional(&self.pool)
        .await?
        .map(read);
        let succeeded = sqlx::query(
            "SELECT id, started_at, finished_at, transactions, payouts, error FROM provider_fetches \
             WHERE provider = $1 AND finished_at IS NOT NULL AND error IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(provider)
        .fetch_optional(&self.pool)
        .await?
        .map(read);
        Ok((latest, succeeded))
    }

    /// Stores transactions, each once (a transaction never changes its
    /// amounts; one fetched again is left as it is), all or none: a fetch
    /// that fails half-way leaves no gap for the next to skip over. How
    /// many were new.
    pub async fn record_provider_transactions(
        &self,
        provider: &str,
        transactions: &[ProviderTransaction],
    ) -> Result<u64> {
        let mut new = 0;
        let mut tx = self.pool.begin().await?;
        for chunk in transactions.chunks(1000) {
            let col =
                |f: fn(&ProviderTransaction) -> String| chunk.iter().map(f).collect::<Vec<_>>();
            let num = |f: fn(&ProviderTransaction) -> i64| chunk.iter().map(f).collect::<Vec<_>>();
            let created: Vec<time::OffsetDateTime> = chunk
                .iter()
                .map(|t| t.created.to_offset_datetime())
                .collect::<Result<_>>()?;
            let done = sqlx::query(
                "INSERT INTO provider_transactions \
                    (id, provider, kind, category, amount, fee, net, currency, created, source, payment_intent) \
                 SELECT t.id, $1, t.kind, t.category, t.amount, t.fee, t.net, t.currency, t.created, t.source, t.intent \
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
                             $8::text[], $9::timestamptz[], $10::text[], $11::text[]) \
                      AS t(id, kind, category, amount, fee, net, currency, created, source, intent) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(provider)
            .bind(col(|t| t.id.clone()))
            .bind(col(|t| t.kind.clone()))
            .bind(col(|t| t.category.clone()))
            .bind(num(|t| t.amount))
            .bind(num(|t| t.fee))
            .bind(num(|t| t.net))
            .bind(col(|t| t.currency.clone()))
            .bind(created)
            .bind(chunk.iter().map(|t| t.source.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|t| t.payment_intent.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
            new += done.rows_affected();
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Marks fetches a stopped process left unfinished as failed (at start).
    pub async fn interrupt_provider_fetches(&self) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE provider_fetches SET finished_at = now(), error = 'interrupted: raffled stopped during the fetch' \
             WHERE finished_at IS NULL",
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Whether a payout can change no more: failed or cancelled, or paid
    /// and arrived over a week ago (Stripe may still turn a paid payout
    /// into a failed one for some days after its arrival).
    pub async fn provider_payout_settled(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM provider_payouts WHERE id = $1 \
                AND (status IN ('failed', 'canceled') OR (status = 'paid' AND arrival < now() - interval '7 days')))",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Stores a payout (its status as now) and marks the transactions it
    /// paid out, in one transaction.
    pub async fn record_provider_payout(
        &self,
        provider: &str,
        payout: &ProviderPayout,
        transactions: &[String],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO provider_payouts (id, provider, amount, currency, created, arrival, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, arrival = EXCLUDED.arrival, fetched_at = now()",
        )
        .bind(&payout.id)
        .bind(provider)
        .bind(payout.amount)
        .bind(&payout.currency)
        .bind(payout.created.to_offset_datetime()?)
        .bind(payout.arrival.to_offset_datetime()?)
        .bind(&payout.status)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE provider_transactions SET payout = $1 WHERE id = ANY($2)")
            .bind(&payout.id)
            .bind(transactions)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored transactions of a raffle's card orders, and those of no
    /// order at all that move a payment's money (charges, refunds,
    /// disputes) created from `since` to `until` (a charge made outside
    /// raffled belongs to no raffle: every raffle on sale then shows it).
    pub async fn raffle_provider_transactions(
        &self,
        provider: &str,
        raffle: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredTransaction>> {
        let rows = sqlx::query(
            "SELECT t.id, t.kind, t.category, t.amount, t.fee, t.net, t.currency, t.created, t.source, \
                    t.payment_intent, t.payout, o.id::text \
             FROM orders o JOIN provider_transactions t ON t.payment_intent = o.payment_intent \
             WHERE o.raffle_id = $2 AND o.provider = $1 AND t.provider = $1 \
             UNION ALL \
             SELECT t.id, t.kind, t.category, t.amount, t.fee, t.net, t.currency, t.created, t.source, \
                    t.payment_intent, t.payout, NULL \
             FROM provider_transactions t \
             WHERE t.provider = $1 AND t.created >= $3 AND t.created < $4 \
               AND t.category IN ('charge', 'refund', 'refund_failure', 'dispute', 'dispute_reversal') \
               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.payment_intent = t.payment_intent) \
             ORDER BY 8, 1",
        )
        .bind(provider)
        .bind(uuid(raffle)?)
        .bind(since.to_offset_datetime()?)
        .bind(until.to_offset_datetime()?)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredTransaction {
                transaction: ProviderTransaction {
                    id: r.get(0),
                    kind: r.get(1),
                    category: r.get(2),
                    amount: r.get(3),
                    fee: r.get(4),
                    net: r.get(5),
                    currency: r.get(6),
                    created: Timestamp::from_datetime(r.get(7)),
                    source: r.get(8),
                    payment_intent: r.get(9),
                },
                payout: r.get(10),
                order: r.get(11),
            })
            .collect())
    }

    /// The stored payouts among `ids`.
    pub async fn provider_payouts(&self, ids: &[String]) -> Result<Vec<ProviderPayout>> {
        let rows = sqlx::query(
            "SELECT id, amount, currency, created, arrival, status FROM provider_payouts \
             WHERE id = ANY($1) ORDER BY created, id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ProviderPayout {
                id: r.get(0),
                amount: r.get(1),
                currency: r.get(2),
                created: Timestamp::from_datetime(r.get(3)),
                arrival: Timestamp::from_datetime(r.get(4)),
                status: r.get(5),
            })
            .collect())
    }

    /// A raffle's orders paid through `provider`, as reconciliation compares them.
    pub async fn card_orders(&self, raffle: &str, provider: &str) -> Result<Vec<CardOrder>> {
        let rows = sqlx::query(
            "SELECT o.id::text, o.payment_intent, o.status, o.funds, o.amount_minor, o.stamped, \
                    o.refund_requested_at, \
                    r.status, r.cause, o.dispute \
             FROM orders o LEFT JOIN LATERAL ( \
                 SELECT status, cause FROM payment_reversals \
                 WHERE order_id = o.id ORDER BY opened_at DESC LIMIT 1) r ON true \
             WHERE o.raffle_id = $1 AND o.provider = $2 ORDER BY o.stamped, o.id",
        )
        .bind(uuid(raffle)?)
        .bind(provider)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| CardOrder {
                id: r.get(0),
                payment_intent: r.get(1),
                status: r.get(2),
                funds: r.get(3),
                amount: r.get(4),
                stamped: Timestamp::from_datetime(r.get(5)),
                refund_requested: r
                    .get::<Option<time::OffsetDateTime>, _>(6)
                    .map(Timestamp::from_datetime),
                reversal: r.get(7),
                reversal_cause: r.get(8),
                dispute: r.get(9),
            })
            .collect())
    }
}
