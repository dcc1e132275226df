//! Card payments in the store: each order's references at its provider
//! (never in the log), where its money stands, and the provider's webhook
//! events, each stored once before it is acknowledged and processed from
//! the table.
//!
//! Every state change here is conditional on the state it leaves (an
//! `UPDATE ... WHERE` on the old state), so that events delivered twice,
//! late or out of order move an order at most once, and a caller learns
//! whether its call moved it.

use super::orders::{Funds, OrderRecord};
use super::{Store, uuid};
use crate::Result;
use sqlx::Row;

/// A stored webhook event, not yet processed.
#[derive(Clone, Debug)]
pub struct PaymentEvent {
    pub id: String,
    pub provider: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

impl Store {
    /// Records the provider's session for an order (once: a second call
    /// with another session changes nothing and answers false).
    pub async fn set_payment_session(&self, order: &str, session: &str) -> Result<bool> {
        self.set_reference(
            "UPDATE orders SET payment_session = $2, updated_at = now() \
             WHERE id = $1 AND (payment_session IS NULL OR payment_session = $2)",
            order,
            session,
        )
        .await
    }

    /// Records the provider's PaymentIntent for an order (once, as above).
    pub async fn set_payment_intent(&self, order: &str, intent: &str) -> Result<bool> {
        self.set_reference(
            "UPDATE orders SET payment_intent = $2, updated_at = now() \
             WHERE id = $1 AND (payment_intent IS NULL OR payment_intent = $2)",
            order,
            intent,
        )
        .await
    }

    async fn set_reference(&self, sql: &'static str, order: &str, value: &str) -> Result<bool> {
        let done = sqlx::query(sql)
            .bind(uuid(order)?)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The order whose provider reference (session or PaymentIntent) is `reference`.
    pub async fn order_by_payment(&self, reference: &str) -> Result<Option<OrderRecord>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id::text FROM orders WHERE payment_session = $1 OR payment_intent = $1",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.order_record(&id).await,
            None => Ok(None),
        }
    }

    /// Moves an order's funds from one of `from` (`None`: not yet set) to
    /// `to`, with the provider's error if any; answers whether it moved.
    pub async fn move_funds(
        &self,
        order: &str,
        from: &[Option<Funds>],
        to: Funds,
        error: Option<&str>,
    ) -> Result<bool> {
        let from_null = from.contains(&None);
        let from: Vec<&str> = from.iter().flatten().map(|f| f.as_str()).collect();
        let done = sqlx::query(
            "UPDATE orders SET funds = $2, funds_error = $3, updated_at = now() \
             WHERE id = $1 AND ((funds IS NULL AND $4) OR funds = ANY($5))",
        )
        .bind(uuid(order)?)
        .bind(to.as_str())
        .bind(error)
        .bind(from_null)
        .bind(&from)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a pending order whose payment never completed (the session
    /// expired, the buyer gave up): no money moved, no ticket. Only a
    /// pending order moves; answers whether this call moved it.
    pub async fn cancel_order(&self, order: &str, reason: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'cancelled', refusal = $2, updated_at = now() \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(uuid(order)?)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Orders that ended (issued, refused or cancelled) while their money
    /// is still authorised (a capture or a release lost in a crash): what a
    /// restart must capture or release.
    pub async fn orders_holding_funds(&self) -> Result<Vec<OrderRecord>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT o.id::text FROM orders o WHERE o.funds = 'authorised' \
               AND (o.status IN ('refunded', 'cancelled') OR EXISTS (SELECT 1 FROM sales s WHERE s.id = o.id)) \
             ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.order_record(&id).await? {
                orders.push(o);
            }
        }
        Ok(orders)
    }

    /// Records that a void with refund was approved for an order: its
    /// money is owed back until the provider has refunded it.
    pub async fn request_refund(&self, order: &str) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET refund_requested_at = coalesce(refund_requested_at, now()), updated_at = now() WHERE id = $1",
        )
        .bind(uuid(order)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Refunds approved but not yet made (captured money owed back),
    /// oldest first: retried until they succeed, and shown as outstanding.
    pub async fn refunds_outstanding(&self) -> Result<Vec<OrderRecord>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id::text FROM orders WHERE refund_requested_at IS NOT NULL AND funds = 'captured' \
             ORDER BY refund_requested_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.order_record(&id).await? {
                orders.push(o);
            }
        }
        Ok(orders)
    }

    /// Records why a money movement failed, leaving the funds as they are.
    pub async fn funds_failed(&self, order: &str, error: &str) -> Result<()> {
        sqlx::query("UPDATE orders SET funds_error = $2, updated_at = now() WHERE id = $1")
            .bind(uuid(order)?)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a webhook event once per id; a repeated delivery only
    /// counts. Answers whether the event is new. Returns only once the row
    /// is committed.
    pub async fn store_payment_event(
        &self,
        id: &str,
        provider: &str,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<bool> {
        let new: bool = sqlx::query_scalar(
            "INSERT INTO payment_events (id, provider, type, payload) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET deliveries = payment_events.deliveries + 1 \
             RETURNING deliveries = 1",
        )
        .bind(id)
        .bind(provider)
        .bind(kind)
        .bind(payload)
        .fetch_one(&self.pool)
        .await?;
        Ok(new)
    }

    /// Up to `limit` events not yet processed, oldest first.
    pub async fn unprocessed_payment_events(&self, limit: i64) -> Result<Vec<PaymentEvent>> {
        let rows = sqlx::query(
            "SELECT id, provider, type, payload FROM payment_events \
             WHERE processed_at IS NULL ORDER BY received_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PaymentEvent {
                id: r.get(0),
                provider: r.get(1),
                kind: r.get(2),
                payload: r.get(3),
            })
            .collect())
    }

    /// Marks an event processed, with what came of it.
    pub async fn finish_payment_event(&self, id: &str, outcome: &str) -> Result<()> {
        sqlx::query(
            "UPDATE payment_events SET processed_at = now(), outcome = $2 WHERE id = $1 AND processed_at IS NULL",
        )
        .bind(id)
        .bind(outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What came of a stored event (`None`: not processed yet or unknown).
    pub async fn payment_event_outcome(&self, id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT outcome FROM payment_events WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }
}

/// A card payment reversed after its ticket was issued, waiting for
/// finance (or decided).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reversal {
    pub id: String,
    pub order: String,
    pub raffle: String,
    /// `capture_failed`, `refunded_outside` or `dispute`.
    pub cause: String,
    pub detail: serde_json::Value,
    /// `open`, `voided` or `kept`.
    pub status: String,
    /// The request finance made for it, if any.
    pub approval: Option<String>,
    pub opened_at: crate::Timestamp,
}

fn reversal_from_row(r: sqlx::postgres::PgRow) -> Reversal {
    Reversal {
        id: r.get(0),
        order: r.get(1),
        raffle: r.get(2),
        cause: r.get(3),
        detail: r.get(4),
        status: r.get(5),
        approval: r.get(6),
        opened_at: crate::Timestamp::from_datetime(r.get(7)),
    }
}

const REVERSAL_COLUMNS: &str =
    "id::text, order_id::text, raffle_id::text, cause, detail, status, approval::text, opened_at";

impl Store {
    /// Opens a reversal for an issued order (one open per order: a second
    /// cause while one is open changes nothing). Answers whether it opened one.
    pub async fn open_reversal(
        &self,
        order: &str,
        raffle: &str,
        cause: &str,
        detail: &serde_json::Value,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO payment_reversals (id, order_id, raffle_id, cause, detail) VALUES (gen_random_uuid(), $1, $2, $3, $4) \
             ON CONFLICT (order_id) WHERE status = 'open' DO NOTHING",
        )
        .bind(uuid(order)?)
        .bind(uuid(raffle)?)
        .bind(cause)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The reversals of a raffle (every raffle: `None`), open ones first, newest first.
    pub async fn reversals(&self, raffle: Option<&str>) -> Result<Vec<Reversal>> {
        let raffle = raffle.map(uuid).transpose()?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REVERSAL_COLUMNS} FROM payment_reversals \
             WHERE ($1::uuid IS NULL OR raffle_id = $1) ORDER BY status = 'open' DESC, opened_at DESC LIMIT 1000"
        )))
        .bind(raffle)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(reversal_from_row).collect())
    }

    pub async fn reversal(&self, id: &str) -> Result<Option<Reversal>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REVERSAL_COLUMNS} FROM payment_reversals WHERE id = $1"
        )))
        .bind(uuid(id)?)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(reversal_from_row))
    }

    /// Records the request finance made for an open reversal.
    pub async fn link_reversal(&self, id: &str, approval: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_reversals SET approval = $2 WHERE id = $1 AND status = 'open'",
        )
        .bind(uuid(id)?)
        .bind(uuid(approval)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Closes an open reversal as `voided` or `kept`.
    pub async fn close_reversal(&self, id: &str, status: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE payment_reversals SET status = $2, closed_at = now() WHERE id = $1 AND status = 'open'",
        )
        .bind(uuid(id)?)
        .bind(status)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records where an order's dispute stands (`open`, `won`, `lost`).
    pub async fn set_dispute(&self, order: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE orders SET dispute = $2, updated_at = now() WHERE id = $1")
            .bind(uuid(order)?)
            .bind(state)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where an order's dispute stands, if it has one.
    pub async fn dispute_of(&self, order: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT dispute FROM orders WHERE id = $1")
                .bind(uuid(order)?)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }
}

impl Store {
    /// Whether an order's receipt was mailed already.
    pub async fn receipt_mailed(&self, order: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT receipt_mailed_at IS NOT NULL FROM orders WHERE id = $1")
                .bind(uuid(order)?)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(true),
        )
    }

    /// Records a receipt's mailing: sent (`error` none) or why it failed.
    pub async fn record_receipt_mail(&self, order: &str, error: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET receipt_mailed_at = CASE WHEN $2::text IS NULL THEN now() END, \
             receipt_mail_error = $2, updated_at = now() WHERE id = $1",
        )
        .bind(uuid(order)?)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the buyers' e-mail addresses of these raffles' orders.
    pub async fn purge_buyer_emails(&self, raffles: &[String]) -> Result<u64> {
        if raffles.is_empty() {
            return Ok(0);
        }
        let ids = raffles
            .iter()
            .map(|r| uuid(r))
            .collect::<Result<Vec<_>>>()?;
        let done = sqlx::query(
            "UPDATE orders SET buyer = buyer - 'email', updated_at = now() \
             WHERE raffle_id = ANY($1) AND buyer ? 'email'",
        )
        .bind(&ids)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// Card orders of a raffle whose ticket was issued but whose payment
    /// is not settled: money still only authorised, a capture that
    /// failed, or an open reversal. Their sale ids.
    pub async fn unsettled_card_sales(&self, raffle: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT o.id::text FROM orders o JOIN sales s ON s.id = o.id \
             WHERE o.raffle_id = $1 AND (o.funds IN ('authorised', 'capture_failed') \
                OR EXISTS (SELECT 1 FROM payment_reversals r WHERE r.order_id = o.id AND r.status = 'open'))",
        )
        .bind(uuid(raffle)?)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether a sale's card payment stands: not disputed (or the dispute
    /// won), captured (or kept by finance), no reversal open. A sale
    /// without an order (an RSU sale) or not paid by card stands.
    pub async fn payment_stands(&self, sale: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT o.funds, o.dispute, \
                    EXISTS (SELECT 1 FROM payment_reversals r WHERE r.order_id = o.id AND r.status = 'open'), \
                    EXISTS (SELECT 1 FROM payment_reversals r WHERE r.order_id = o.id AND r.status = 'kept') \
             FROM orders o WHERE o.id = $1",
        )
        .bind(uuid(sale)?)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(true) };
        let funds: Option<String> = r.get(0);
        let dispute: Option<String> = r.get(1);
        let open: bool = r.get(2);
        let kept: bool = r.get(3);
        if open || matches!(dispute.as_deref(), Some("open") | Some("lost")) {
            return Ok(false);
        }
        Ok(match funds.as_deref() {
            None | Some("captured") => true,
            // Finance decided to keep the sale whatever its money did.
            _ => kept,
        })
    }
}
