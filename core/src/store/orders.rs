//! Orders and idempotent purchases.
//!
//! An order is created pending with its buyer's details (never logged),
//! becomes paid when its payment provider confirms, and is issued when the
//! sequencer logs its sale (same id; the sale row is the record of that), or
//! refunded. With an `Idempotency-Key`,
//! the key, the SHA-256 of the request body and the response draft (which
//! holds the validation number, generated before sequencing so that a retry
//! after a crash still gets it) are stored with the order in one
//! transaction; a retry with the same key and body replays the response, one
//! with another body is refused. Responses are purged after 24 hours.

use super::{Store, uuid};
use crate::{Error, Money, Result, Timestamp};
use sqlx::Row;

/// A new order.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub id: String,
    pub raffle: String,
    pub package: String,
    pub quantity: u32,
    pub amount: Money,
    pub provider: String,
    pub buyer: serde_json::Value,
    pub stamped: Timestamp,
}

/// What a purchase with an idempotency key found.
#[derive(Debug)]
pub enum Begun {
    /// A new order was created.
    Created,
    /// The same request was answered before: replay it.
    Replay {
        status: u16,
        response: serde_json::Value,
    },
    /// The same request is still in progress (its order id, and the draft).
    InProgress {
        order: String,
        draft: serde_json::Value,
    },
}

fn to_time(t: Timestamp) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_micros()) * 1000)
        .map_err(|e| Error::invalid("time", e.to_string()))
}

impl Store {
    /// Creates an order with its idempotency record (holding the response
    /// draft) in one statement, or finds the earlier request with the same
    /// key. `paid` records an order whose provider confirmed at once.
    pub async fn begin_order(
        &self,
        order: &NewOrder,
        key: &str,
        request_sha256: [u8; 32],
        draft: &serde_json::Value,
        paid: bool,
    ) -> Result<Begun> {
        for _ in 0..2 {
            let created: i64 = sqlx::query_scalar(
                "WITH ins AS ( \
                   INSERT INTO idempotency (key, request_sha256, order_id, response) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (key) DO NOTHING RETURNING order_id \
                 ), o AS ( \
                   INSERT INTO orders (id, raffle_id, package_id, quantity, amount_minor, currency, status, provider, buyer, stamped) \
                   SELECT order_id, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM ins RETURNING id \
                 ) SELECT count(*) FROM o",
            )
            .bind(key)
            .bind(&request_sha256[..])
            .bind(uuid(&order.id)?)
            .bind(draft)
            .bind(uuid(&order.raffle)?)
            .bind(&order.package)
            .bind(order.quantity as i32)
            .bind(order.amount.minor as i64)
            .bind(order.amount.currency.as_str())
            .bind(if paid { "paid" } else { "pending" })
            .bind(&order.provider)
            .bind(&order.buyer)
            .bind(to_time(order.stamped)?)
            .fetch_one(&self.pool)
            .await?;
            if created == 1 {
                return Ok(Begun::Created);
            }
            let row = sqlx::query(
                "SELECT request_sha256, order_id::text, status, response, created_at > now() - interval '24 hours' FROM idempotency WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { continue };
            if !row.get::<bool, _>(4) {
                // An expired record with this key is replaced.
                sqlx::query("DELETE FROM idempotency WHERE key = $1 AND created_at <= now() - interval '24 hours'").bind(key).execute(&self.pool).await?;
                continue;
            }
            let stored: Vec<u8> = row.get(0);
            if stored != request_sha256 {
                return Err(Error::invalid(
                    "Idempotency-Key",
                    "the key was used before with a different request body",
                ));
            }
            let status: Option<i32> = row.get(2);
            let response: Option<serde_json::Value> = row.get(3);
            return Ok(match status {
                Some(status) => Begun::Replay {
                    status: status as u16,
                    response: response.unwrap_or_default(),
                },
                None => Begun::InProgress {
                    order: row.get::<Option<String>, _>(1).unwrap_or_default(),
                    draft: response.unwrap_or_default(),
                },
            });
        }
        Err(Error::Unavailable(
            "the idempotency record changed concurrently; retry".into(),
        ))
    }

    /// Records the final response of an idempotent request that was refused.
    /// (A successful purchase's response is rebuilt, identically, from its
    /// sale, the checkpoint of its batch and the stored draft.)
    pub async fn finish_idempotent(
        &self,
        key: &str,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE idempotency SET status = $2, response = $3 WHERE key = $1")
            .bind(key)
            .bind(i32::from(status))
            .bind(response)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves an order to `paid` or `refunded` (with the reason it was refused).
    pub async fn set_order_status(
        &self,
        order: &str,
        status: &str,
        refusal: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET status = $2, refusal = $3, updated_at = now() WHERE id = $1",
        )
        .bind(uuid(order)?)
        .bind(status)
        .bind(refusal)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An order's status and refusal reason.
    pub async fn order_status(
        &self,
        order: &str,
    ) -> Result<Option<(String, Option<String>, String)>> {
        // An order is issued when the sale with its id exists.
        let row = sqlx::query(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM sales s WHERE s.id = o.id) THEN 'issued' ELSE o.status END, \
             o.refusal, o.raffle_id::text FROM orders o WHERE o.id = $1",
        )
            .bind(uuid(order)?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// The response draft stored with an order (it holds the validation
    /// number, for 24 hours).
    pub async fn order_draft(&self, order: &str) -> Result<Option<serde_json::Value>> {
        Ok(sqlx::query_scalar("SELECT response FROM idempotency WHERE order_id = $1 AND created_at > now() - interval '24 hours'")
            .bind(uuid(order)?)
            .fetch_optional(&self.pool)
            .await?
            .flatten())
    }

    /// Deletes idempotent responses older than 24 hours (they hold validation numbers).
    pub async fn purge_idempotency(&self) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM idempotency WHERE created_at <= now() - interval '24 hours'")
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    /// The sale whose validation number commits to `commitment` in a raffle.
    pub async fn sale_by_validation(
        &self,
        raffle: &str,
        commitment: &[u8; 32],
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT id::text FROM sales WHERE raffle_id = $1 AND validation = $2")
                .bind(uuid(raffle)?)
                .bind(&commitment[..])
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

/// A request to create an order, for the [`OrderBatcher`].
pub struct OrderRequest {
    pub order: NewOrder,
    pub key: String,
    pub request_sha256: [u8; 32],
    pub draft: serde_json::Value,
    pub paid: bool,
}

type OrderReply = tokio::sync::oneshot::Sender<Result<Begun>>;

/// Creates orders in batches: the orders (and their idempotency records)
/// arriving together are inserted by one statement, so a surge costs the
/// database one round trip per batch instead of one per buyer. A request
/// whose key exists already takes the one-by-one path of
/// [`Store::begin_order`] (replay, in progress, or refused).
#[derive(Clone)]
pub struct OrderBatcher {
    tx: tokio::sync::mpsc::Sender<(OrderRequest, OrderReply)>,
}

impl OrderBatcher {
    pub fn start(store: Store) -> OrderBatcher {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(OrderRequest, OrderReply)>(65_536);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let store = store.clone();
                // Batches run concurrently with the next one's collection.
                tokio::spawn(async move { write_batch(&store, batch).await });
            }
        });
        OrderBatcher { tx }
    }

    pub async fn begin(&self, request: OrderRequest) -> Result<Begun> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send((request, reply))
            .await
            .map_err(|_| Error::Unavailable("the order writer has stopped".into()))?;
        wait.await
            .map_err(|_| Error::Unavailable("the order writer dropped the request".into()))?
    }
}

async fn write_batch(store: &Store, batch: Vec<(OrderRequest, OrderReply)>) {
    let created = insert_batch(store, &batch).await;
    for (req, reply) in batch {
        let result = match &created {
            Ok(keys) if keys.contains(&req.key) => Ok(Begun::Created),
            Ok(_) => {
                store
                    .begin_order(
                        &req.order,
                        &req.key,
                        req.request_sha256,
                        &req.draft,
                        req.paid,
                    )
                    .await
            }
            Err(e) => Err(Error::Storage(e.to_string())),
        };
        let _ = reply.send(result);
    }
}

async fn insert_batch(
    store: &Store,
    batch: &[(OrderRequest, OrderReply)],
) -> Result<std::collections::HashSet<String>> {
    let mut keys = Vec::new();
    let mut hashes: Vec<&[u8]> = Vec::new();
    let mut ids = Vec::new();
    let mut drafts = Vec::new();
    let mut raffles = Vec::new();
    let mut packages = Vec::new();
    let mut quantities = Vec::new();
    let mut amounts = Vec::new();
    let mut currencies = Vec::new();
    let mut statuses = Vec::new();
    let mut providers = Vec::new();
    let mut buyers = Vec::new();
    let mut stamps = Vec::new();
    for (r, _) in batch {
        keys.push(r.key.clone());
        hashes.push(&r.request_sha256[..]);
        ids.push(uuid(&r.order.id)?);
        drafts.push(r.draft.clone());
        raffles.push(uuid(&r.order.raffle)?);
        packages.push(r.order.package.clone());
        quantities.push(r.order.quantity as i32);
        amounts.push(r.order.amount.minor as i64);
        currencies.push(r.order.amount.currency.as_str().to_string());
        statuses.push(if r.paid { "paid" } else { "pending" });
        providers.push(r.order.provider.clone());
        buyers.push(r.order.buyer.clone());
        stamps.push(to_time(r.order.stamped)?);
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "WITH input AS ( \
           SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::uuid[], $4::jsonb[], $5::uuid[], $6::text[], $7::int[], \
                                $8::bigint[], $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::timestamptz[]) \
             AS t(key, sha, order_id, draft, raffle_id, package_id, quantity, amount, currency, status, provider, buyer, stamped) \
         ), ins AS ( \
           INSERT INTO idempotency (key, request_sha256, order_id, response) \
           SELECT key, sha, order_id, draft FROM input ON CONFLICT (key) DO NOTHING RETURNING key \
         ), o AS ( \
           INSERT INTO orders (id, raffle_id, package_id, quantity, amount_minor, currency, status, provider, buyer, stamped) \
           SELECT i.order_id, i.raffle_id, i.package_id, i.quantity, i.amount, i.currency, i.status, i.provider, i.buyer, i.stamped \
           FROM input i JOIN ins USING (key) RETURNING id \
         ) SELECT key FROM ins",
    )
    .bind(&keys)
    .bind(&hashes)
    .bind(&ids)
    .bind(&drafts)
    .bind(&raffles)
    .bind(&packages)
    .bind(&quantities)
    .bind(&amounts)
    .bind(&currencies)
    .bind(&statuses)
    .bind(&providers)
    .bind(&buyers)
    .bind(&stamps)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows.into_iter().collect())
}
