//! Orders and idempotent purchases.
//!
//! An order is created pending with its buyer's details (never logged),
//! becomes paid when its payment provider confirms, and is issued when the
//! sequencer logs its sale (same id; the sale row is the record of that), or
//! refunded. The order row also holds its idempotency record: the
//! `Idempotency-Key` (if the request had one), the SHA-256 of the request
//! body, and the response draft (which holds the validation number,
//! generated before sequencing so that a retry after a crash still gets it).
//! A retry with the same key and body replays the response, one with another
//! body is refused. Keys and responses are purged after 24 hours; a draft is
//! kept as long as its order waits for its payment (a card payment's webhook
//! may come days late), and purged 24 hours after the order ends.
//! One row per order keeps a purchase to one insert before sequencing.

use super::{Store, uuid};
use crate::ids::{PackageId, RaffleId, SaleId};
use crate::{Error, Money, Result, Timestamp};

use sqlx::Row;

/// A new order.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub id: SaleId,
    pub raffle: RaffleId,
    pub package: PackageId,
    pub quantity: u32,
    pub amount: Money,
    pub provider: String,
    pub buyer: serde_json::Value,
    pub stamped: Timestamp,
    /// The SHA-256 of the buyer's order token (the token itself is only
    /// in the answer, and in the response draft while it is kept).
    pub token_sha256: [u8; 32],
}

/// What a purchase found when creating its order.
#[derive(Debug)]
pub enum Begun {
    /// A new order was created.
    Created,
    /// The same request was answered before: replay it (with the draft,
    /// which holds the order token).
    Replay {
        status: u16,
        response: serde_json::Value,
        draft: serde_json::Value,
    },
    /// The same request is still in progress (its order id, and the draft).
    InProgress {
        order: String,
        draft: serde_json::Value,
    },
}

impl Store {
    /// Creates an order with its idempotency record (holding the response
    /// draft) in one statement, or finds the earlier request with the same
    /// key. `paid` records an order whose provider confirmed at once.
    pub async fn begin_order(&self, request: &OrderRequest) -> Result<Begun> {
        let order = &request.order;
        for _ in 0..2 {
            let created: Option<uuid::Uuid> = sqlx::query_scalar(
                "INSERT INTO orders (id, raffle_id, package_id, quantity, amount_minor, currency, status, provider, buyer, stamped, \
                                     idempotency_key, request_sha256, draft, token_sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
            )
            .bind(uuid(&order.id)?)
            .bind(uuid(&order.raffle)?)
            .bind(&order.package)
            .bind(order.quantity as i32)
            .bind(order.amount.minor as i64)
            .bind(order.amount.currency.as_str())
            .bind(if request.paid { "paid" } else { "pending" })
            .bind(&order.provider)
            .bind(&order.buyer)
            .bind(order.stamped.to_offset_datetime()?)
            .bind(&request.key)
            .bind(&request.request_sha256[..])
            .bind(&request.draft)
            .bind(&order.token_sha256[..])
            .fetch_optional(&self.pool)
            .await?;
            if created.is_some() {
                return Ok(Begun::Created);
            }
            let Some(key) = &request.key else {
                return Err(Error::Storage(
                    "an order without a key was not created".into(),
                ));
            };
            let row = sqlx::query(
                "SELECT request_sha256, id::text, response_status, response, draft, created_at > now() - interval '24 hours' \
                 FROM orders WHERE idempotency_key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { continue };
            if !row.get::<bool, _>(5) {
                // The key expired but was not purged yet: it is free again.
                forget_expired(&self.pool, Some(key)).await?;
                continue;
            }
            let stored: Option<Vec<u8>> = row.get(0);
            if stored.as_deref() != Some(&request.request_sha256[..]) {
                return Err(Error::invalid(
                    "Idempotency-Key",
                    "the key was used before with a different request body",
                ));
            }
            let status: Option<i32> = row.get(2);
            return Ok(match status {
                Some(status) => Begun::Replay {
                    status: status as u16,
                    response: row
                        .get::<Option<serde_json::Value>, _>(3)
                        .unwrap_or_default(),
                    draft: row
                        .get::<Option<serde_json::Value>, _>(4)
                        .unwrap_or_default(),
                },
                None => Begun::InProgress {
                    order: row.get(1),
                    draft: row
                        .get::<Option<serde_json::Value>, _>(4)
                        .unwrap_or_default(),
                },
            });
        }
        Err(Error::Unavailable(
            "the idempotency record changed concurrently; retry".into(),
        ))
    }

    /// Refunds an order whose sale the rules refused, recording the reason
    /// and the response a retry of the same request replays. (A successful
    /// purchase's response is rebuilt, identically, from its sale, the
    /// checkpoint of its batch and the stored draft.)
    pub async fn refund_order(
        &self,
        order: &str,
        reason: &str,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET status = 'refunded', refusal = $2, response_status = $3, response = $4, draft = draft - 'validation_number', \
             updated_at = now() WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.id = $1)",
        )
        .bind(uuid(order)?)
        .bind(reason)
        .bind(i32::from(status))
        .bind(response)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces the validation number in an order's draft (the one drawn
    /// was taken in its raffle: GLI-31 2.3.2).
    pub async fn replace_order_validation(
        &self,
        order: &str,
        validation_number: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE orders SET draft = jsonb_set(draft, '{validation_number}', to_jsonb($2::text)), updated_at = now() \
             WHERE id = $1 AND draft IS NOT NULL",
        )
        .bind(uuid(order)?)
        .bind(validation_number)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that an order's payment was confirmed. Only a pending order
    /// moves, so a confirmation delivered twice (webhooks are) changes
    /// nothing; returns whether this call moved it.
    pub async fn mark_order_paid(&self, order: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE orders SET status = 'paid', updated_at = now() WHERE id = $1 AND status = 'pending'",
        )
        .bind(uuid(order)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An order: its status (`issued` once its sale exists), its draft
    /// while kept, and how it was refused, if it was.
    pub async fn order_record(&self, order: &str) -> Result<Option<OrderRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders o WHERE o.id = $1"
        ))
        .bind(uuid(order)?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(order_from_row).transpose()
    }

    /// Orders paid but not issued, and orders still waiting for their
    /// provider: what a restart must finish.
    pub async fn unfinished_orders(&self) -> Result<Vec<OrderRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders o WHERE o.status IN ('pending', 'paid') \
               AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.id = o.id) ORDER BY o.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(order_from_row).collect()
    }

    /// Forgets the drafts, responses and keys of orders older than 24 hours
    /// (drafts hold validation numbers); returns how many orders it cleared.
    pub async fn purge_idempotency(&self) -> Result<u64> {
        forget_expired(&self.pool, None).await
    }

    /// Which of `proposed` (raffle, commitment) pairs are sold already.
    pub async fn sold_validations(
        &self,
        proposed: &[(RaffleId, [u8; 32])],
    ) -> Result<std::collections::HashSet<(RaffleId, [u8; 32])>> {
        if proposed.is_empty() {
            return Ok(Default::default());
        }
        let raffles = proposed
            .iter()
            .map(|(r, _)| uuid(r))
            .collect::<Result<Vec<_>>>()?;
        let commitments: Vec<&[u8]> = proposed.iter().map(|(_, c)| &c[..]).collect();
        let rows = sqlx::query(
            "SELECT s.raffle_id::text, s.validation FROM sales s \
             JOIN UNNEST($1::uuid[], $2::bytea[]) AS p (raffle_id, validation) \
               ON s.raffle_id = p.raffle_id AND s.validation = p.validation",
        )
        .bind(&raffles)
        .bind(&commitments)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let c: Vec<u8> = r.get(1);
                Some((r.get::<RaffleId, _>(0), <[u8; 32]>::try_from(c).ok()?))
            })
            .collect())
    }

    /// The sale whose validation number commits to `commitment` in a raffle.
    pub async fn sale_by_validation(
        &self,
        raffle: &str,
        commitment: &[u8; 32],
    ) -> Result<Option<SaleId>> {
        let row =
            sqlx::query("SELECT id::text FROM sales WHERE raffle_id = $1 AND validation = $2")
                .bind(uuid(raffle)?)
                .bind(&commitment[..])
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

/// An order as stored.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub id: SaleId,
    pub raffle: RaffleId,
    pub package: PackageId,
    pub quantity: u32,
    pub stamped: Timestamp,
    pub provider: String,
    /// `pending`, `paid`, `issued` or `refunded`.
    pub status: String,
    /// The response draft (with the validation number and the order
    /// token): kept until the order is issued or ends, and 24 hours more.
    pub draft: Option<serde_json::Value>,
    /// The final response of a refused request.
    pub response: Option<(u16, serde_json::Value)>,
    /// Why the rules refused it (a refunded order).
    pub refusal: Option<String>,
    /// The SHA-256 of the buyer's order token (none for orders made
    /// before tokens existed: nobody opens those).
    pub token_sha256: Option<Vec<u8>>,
    /// What the buyer pays.
    pub amount: Money,
    /// The provider's references (Stripe: Checkout Session, PaymentIntent).
    pub payment_session: Option<String>,
    pub payment_intent: Option<String>,
    /// Where the money stands at the provider (see [`Funds`]).
    pub funds: Option<Funds>,
    /// The buyer's e-mail address, if given (for the receipt; never logged).
    pub buyer_email: Option<String>,
    /// Why the provider's last money movement for it failed, if it did.
    pub funds_error: Option<String>,
    /// Whether a void with refund was approved (raffled owes or made the refund).
    pub refund_requested: bool,
}

/// Where an order's money stands at its provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funds {
    /// Held on the buyer's card, not yet taken.
    Authorised,
    Captured,
    /// The hold was released: no money moved.
    Cancelled,
    /// The capture failed after the ticket was issued.
    CaptureFailed,
    Refunded,
}

impl Funds {
    pub fn as_str(self) -> &'static str {
        match self {
            Funds::Authorised => "authorised",
            Funds::Captured => "captured",
            Funds::Cancelled => "cancelled",
            Funds::CaptureFailed => "capture_failed",
            Funds::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Funds> {
        Some(match s {
            "authorised" => Funds::Authorised,
            "captured" => Funds::Captured,
            "cancelled" => Funds::Cancelled,
            "capture_failed" => Funds::CaptureFailed,
            "refunded" => Funds::Refunded,
            _ => return None,
        })
    }
}

impl OrderRecord {
    /// Whether `token` is this order's token (compared in constant time).
    pub fn opens_with(&self, token: &str) -> bool {
        use sha2::Digest as _;
        let given: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        match &self.token_sha256 {
            Some(stored) if stored.len() == 32 => {
                stored
                    .iter()
                    .zip(given)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            _ => false,
        }
    }

    /// The buyer's order token, in the response draft while it is kept.
    pub fn token(&self) -> Option<&str> {
        self.draft.as_ref()?["order_token"].as_str()
    }

    /// The validation number in the response draft, while it is kept.
    pub fn validation_number(&self) -> Option<crate::validation::ValidationNumber> {
        let text = self.draft.as_ref()?["validation_number"].as_str()?;
        crate::validation::ValidationNumber::parse(text).ok()
    }
}

/// The columns [`order_from_row`] reads, in its order.
macro_rules! order_columns {
    () => {
        "o.id::text, o.raffle_id::text, o.package_id, o.quantity, o.stamped, o.provider, \
         CASE WHEN EXISTS (SELECT 1 FROM sales s WHERE s.id = o.id) THEN 'issued' ELSE o.status END, \
         o.draft, \
         o.response_status, o.response, o.refusal, o.token_sha256, \
         o.amount_minor, o.currency, o.payment_session, o.payment_intent, o.funds, o.buyer->>'email', o.funds_error, o.refund_requested_at IS NOT NULL"
    };
}
use order_columns;

fn order_from_row(row: sqlx::postgres::PgRow) -> Result<OrderRecord> {
    let malformed = |e: sqlx::Error| Error::Storage(format!("an order's row: {e}"));
    let status: Option<i32> = row.get(8);
    let response: Option<serde_json::Value> = row.get(9);
    Ok(OrderRecord {
        id: row.try_get(0).map_err(malformed)?,
        raffle: row.try_get(1).map_err(malformed)?,
        package: row.try_get(2).map_err(malformed)?,
        quantity: row.get::<i32, _>(3) as u32,
        stamped: Timestamp::from_datetime(row.get(4)),
        provider: row.get(5),
        status: row.get(6),
        draft: row.get(7),
        response: status.map(|s| (s as u16, response.unwrap_or_default())),
        refusal: row.get(10),
        token_sha256: row.get(11),
        amount: Money::new(
            u64::try_from(row.get::<i64, _>(12))
                .map_err(|_| Error::Storage("an order's amount is negative".into()))?,
            crate::money::Currency::parse(row.get::<&str, _>(13))?,
        ),
        payment_session: row.get(14),
        payment_intent: row.get(15),
        funds: row
            .get::<Option<&str>, _>(16)
            .map(|f| {
                Funds::parse(f).ok_or_else(|| Error::Storage(format!("an order's funds {f:?}")))
            })
            .transpose()?,
        buyer_email: row.get(17),
        funds_error: row.get(18),
        refund_requested: row.get(19),
    })
}

/// A request to create an order, for the [`OrderBatcher`].
pub struct OrderRequest {
    pub order: NewOrder,
    /// The request's idempotency key, scoped to its raffle, if it had one.
    pub key: Option<String>,
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

/// How many order batches are written at once. Few: while they are written
/// the next batch gathers the orders arriving meanwhile, so a surge costs a
/// statement and a commit per batch, not per buyer.
const ORDER_WRITERS: usize = 2;

impl OrderBatcher {
    pub fn start(store: Store) -> OrderBatcher {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(OrderRequest, OrderReply)>(65_536);
        let writers = std::sync::Arc::new(tokio::sync::Semaphore::new(ORDER_WRITERS));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let Ok(permit) = writers.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let store = store.clone();
                tokio::spawn(async move {
                    write_batch(&store, batch).await;
                    drop(permit);
                });
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

/// Clears the idempotency record of expired orders (of the one holding
/// `key`, if given).
async fn forget_expired(pool: &sqlx::PgPool, key: Option<&str>) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE orders o SET idempotency_key = NULL, request_sha256 = NULL, \
           draft = CASE WHEN o.status IN ('pending', 'paid') AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.id = o.id) \
                        THEN o.draft END, \
           response = NULL \
         WHERE created_at <= now() - interval '24 hours' \
           AND (idempotency_key IS NOT NULL OR draft IS NOT NULL OR response IS NOT NULL) \
           AND ($1::text IS NULL OR idempotency_key = $1)",
    )
    .bind(key)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

async fn write_batch(store: &Store, batch: Vec<(OrderRequest, OrderReply)>) {
    let created = insert_batch(store, &batch).await;
    for (req, reply) in batch {
        let result = match &created {
            Ok(ids) if ids.contains(req.order.id.as_str()) => Ok(Begun::Created),
            // The key exists already: replay, in progress, or refused.
            Ok(_) => store.begin_order(&req).await,
            Err(e) => Err(Error::Storage(e.to_string())),
        };
        let _ = reply.send(result);
    }
}

async fn insert_batch(
    store: &Store,
    batch: &[(OrderRequest, OrderReply)],
) -> Result<std::collections::HashSet<String>> {
    let n = batch.len();
    let mut ids = Vec::with_capacity(n);
    let mut raffles = Vec::with_capacity(n);
    let mut packages = Vec::with_capacity(n);
    let mut quantities = Vec::with_capacity(n);
    let mut amounts = Vec::with_capacity(n);
    let mut currencies = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut providers = Vec::with_capacity(n);
    let mut buyers = Vec::with_capacity(n);
    let mut stamps = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(n);
    let mut drafts = Vec::with_capacity(n);
    let mut tokens: Vec<&[u8]> = Vec::with_capacity(n);
    for (r, _) in batch {
        ids.push(uuid(&r.order.id)?);
        raffles.push(uuid(&r.order.raffle)?);
        packages.push(r.order.package.as_str());
        quantities.push(r.order.quantity as i32);
        amounts.push(r.order.amount.minor as i64);
        currencies.push(r.order.amount.currency.as_str());
        statuses.push(if r.paid { "paid" } else { "pending" });
        providers.push(r.order.provider.as_str());
        buyers.push(&r.order.buyer);
        stamps.push(r.order.stamped.to_offset_datetime()?);
        keys.push(r.key.as_deref());
        hashes.push(&r.request_sha256[..]);
        drafts.push(&r.draft);
        tokens.push(&r.order.token_sha256[..]);
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "INSERT INTO orders (id, raffle_id, package_id, quantity, amount_minor, currency, status, provider, buyer, stamped, \
                             idempotency_key, request_sha256, draft, token_sha256) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::text[], $8::text[], \
                              $9::jsonb[], $10::timestamptz[], $11::text[], $12::bytea[], $13::jsonb[], $14::bytea[]) \
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id::text",
    )
    .bind(&ids)
    .bind(&raffles)
    .bind(&packages)
    .bind(&quantities)
    .bind(&amounts)
    .bind(&currencies)
    .bind(&statuses)
    .bind(&providers)
    .bind(&buyers)
    .bind(&stamps)
    .bind(&keys)
    .bind(&hashes)
    .bind(&drafts)
    .bind(&tokens)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows.into_iter().collect())
}
