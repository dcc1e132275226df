//! The PostgreSQL store (feature `store`): migrations, the log entries with
//! their leaf indices, the checkpoints the log signed, projections of the
//! log for queries, and the private data the log must not hold (orders with
//! buyers' details, idempotent responses with validation numbers).
//!
//! Every write of log entries goes through [`project`], inside the
//! sequencer's transaction; nothing else writes `log_entries`, `raffles` or
//! `sales`. No route runs SQL supplied by an operator (GLI-31 5.2.5).

pub mod devices;
pub mod health;
pub mod orders;
pub mod payments;
pub mod people;
pub mod sequencer;
pub mod statements;
pub mod witnessing;

use crate::entry::{Body, Entry};
use crate::ids::{DrawId, RaffleId};
use crate::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Postgres, Row, Transaction};
use std::str::FromStr;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(format!("database: {e}"))
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection pool to the raffle database.
#[derive(Clone, Debug)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    /// Connects to `url`, creating the database if it does not exist, and
    /// runs the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Storage(format!("DATABASE_URL: {e}")))?;
        let database = options.get_database().unwrap_or("raffle").to_string();
        // Create the database from the server's maintenance database when missing.
        let admin = options.clone().database("postgres");
        let mut conn = admin
            .connect()
            .await
            .map_err(|e| Error::Storage(format!("cannot reach PostgreSQL: {e}")))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let quoted = format!("\"{}\"", database.replace('"', "\"\""));
            // The name is quoted; CREATE DATABASE takes no bind parameters.
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
                .execute(&mut conn)
                .await
            {
                // Another process may have created it meanwhile.
                let again: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                )
                .bind(&database)
                .fetch_one(&mut conn)
                .await?;
                if !again {
                    return Err(e.into());
                }
            }
        }
        // A few connections kept open, so that the first buyers of a surge
        // after a start do not each wait for a connection to be made.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(4)
            .connect_with(options.database(&database))
            .await
            .map_err(|e| Error::Storage(format!("cannot connect to database {database}: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::Storage(format!("migrations: {e}")))?;
        Ok(Store { pool })
    }

    /// Hands every log entry, in index order and parsed, to `apply`. Reads
    /// a page of entries at a time, so memory stays bounded by the page
    /// whatever the length of the log; a gap in the indices is an error.
    pub async fn replay_entries(
        &self,
        mut apply: impl FnMut(u64, &Entry) -> Result<()>,
    ) -> Result<u64> {
        const PAGE: i64 = 20_000;
        let mut next: i64 = 0;
        loop {
            let rows = sqlx::query(
                "SELECT idx, body FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
            )
            .bind(next)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
            let count = rows.len() as i64;
            for row in rows {
                let idx: i64 = row.get(0);
                if idx != next {
                    return Err(Error::Storage(format!(
                        "log_entries has a gap: index {next} is missing"
                    )));
                }
                let body: Vec<u8> = row.get(1);
                let entry = Entry::parse(&body)
                    .map_err(|e| Error::Storage(format!("log entry {idx}: {e}")))?;
                apply(idx as u64, &entry)?;
                next += 1;
            }
            if count < PAGE {
                return Ok(next as u64);
            }
        }
    }

    /// The latest checkpoint the database recorded: (size, note bytes).
    pub async fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let row = sqlx::query("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get::<i64, _>(0) as u64, r.get(1))))
    }

    /// Secret draw seeds of frozen draws.
    pub async fn draw_seeds(&self) -> Result<Vec<(RaffleId, DrawId, [u8; 32])>> {
        let rows = sqlx::query("SELECT raffle_id::text, draw_id, seed FROM draw_seeds")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let seed: Vec<u8> = r.get(2);
                let seed: [u8; 32] = seed
                    .try_into()
                    .map_err(|_| Error::Storage("a draw seed is not 32 bytes".into()))?;
                let malformed = |e: sqlx::Error| Error::Storage(format!("a draw seed's row: {e}"));
                Ok((
                    r.try_get(0).map_err(malformed)?,
                    r.try_get(1).map_err(malformed)?,
                    seed,
                ))
            })
            .collect()
    }
}

fn uuid(s: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| Error::invalid("uuid", e.to_string()))
}

/// Writes a batch of log entries and their projections, inside the
/// sequencer's transaction: the entries and the sales (nearly all of a busy
/// batch) in one statement each, the rare raffle changes one by one.
pub async fn project_batch(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[(u64, &Entry, &[u8])],
) -> Result<()> {
    let mut idx = Vec::with_capacity(entries.len());
    let mut kinds = Vec::with_capacity(entries.len());
    let mut raffles = Vec::with_capacity(entries.len());
    let mut times = Vec::with_capacity(entries.len());
    let mut bodies: Vec<&[u8]> = Vec::with_capacity(entries.len());
    let mut sales: Vec<(u64, &crate::entry::Sale)> = Vec::new();
    for (i, entry, bytes) in entries {
        idx.push(*i as i64);
        kinds.push(entry.kind());
        raffles.push(entry.raffle().map(uuid).transpose()?);
        times.push(entry.time.to_offset_datetime()?);
        bodies.push(bytes);
        if let Body::Sale(s) = &entry.body {
            sales.push((*i, s));
        }
    }
    sqlx::query(
        "INSERT INTO log_entries (idx, kind, raffle_id, time, body)          SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::uuid[], $4::timestamptz[], $5::bytea[])",
    )
    .bind(&idx)
    .bind(&kinds)
    .bind(&raffles)
    .bind(&times)
    .bind(&bodies)
    .execute(&mut **tx)
    .await?;
    if !sales.is_empty() {
        let ids: Vec<uuid::Uuid> = sales
            .iter()
            .map(|(_, s)| uuid(&s.sale))
            .collect::<Result<_>>()?;
        let raffle_ids: Vec<uuid::Uuid> = sales
            .iter()
            .map(|(_, s)| uuid(&s.raffle))
            .collect::<Result<_>>()?;
        let sale_idx: Vec<i64> = sales.iter().map(|(i, _)| *i as i64).collect();
        let first: Vec<i64> = sales
            .iter()
            .map(|(_, s)| s.numbers.first.0 as i64)
            .collect();
        let count: Vec<i64> = sales
            .iter()
            .map(|(_, s)| s.numbers.count.0 as i64)
            .collect();
        let price: Vec<i64> = sales.iter().map(|(_, s)| s.price.minor as i64).collect();
        let currency: Vec<&str> = sales
            .iter()
            .map(|(_, s)| s.price.currency.as_str())
            .collect();
        let validation: Vec<&[u8]> = sales.iter().map(|(_, s)| &s.validation.0[..]).collect();
        sqlx::query(
            "INSERT INTO sales (id, raffle_id, idx, first_number, count, price_minor, currency, validation)              SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::bytea[])",
        )
        .bind(&ids)
        .bind(&raffle_ids)
        .bind(&sale_idx)
        .bind(&first)
        .bind(&count)
        .bind(&price)
        .bind(&currency)
        .bind(&validation)
        .execute(&mut **tx)
        .await?;
    }
    for (i, entry, _) in entries {
        if !matches!(entry.body, Body::Sale(_)) {
            project_other(tx, *i, entry).await?;
        }
    }
    Ok(())
}

/// Writes one log entry and its projections, inside the sequencer's transaction.
pub async fn project(
    tx: &mut Transaction<'_, Postgres>,
    idx: u64,
    entry: &Entry,
    bytes: &[u8],
) -> Result<()> {
    project_batch(tx, &[(idx, entry, bytes)]).await
}

/// The projections of an entry other than a sale (its log row is written already).
async fn project_other(tx: &mut Transaction<'_, Postgres>, idx: u64, entry: &Entry) -> Result<()> {
    let json = |v: &crate::entry::RaffleConfig| {
        serde_json::to_value(v).map_err(|e| Error::Storage(e.to_string()))
    };
    match &entry.body {
        Body::RaffleCreated(e) => {
            sqlx::query("INSERT INTO raffles (id, status, name, config, created_idx, updated_idx) VALUES ($1, 'draft', $2, $3, $4, $4)")
                .bind(uuid(&e.raffle)?)
                .bind(&e.config.name)
                .bind(json(&e.config)?)
                .bind(idx as i64)
                .execute(&mut **tx)
                .await?;
        }
        Body::RaffleUpdated(e) => {
            sqlx::query(
                "UPDATE raffles SET name = $2, config = $3, updated_idx = $4 WHERE id = $1",
            )
            .bind(uuid(&e.raffle)?)
            .bind(&e.new.name)
            .bind(json(&e.new)?)
            .bind(idx as i64)
            .execute(&mut **tx)
            .await?;
        }
        Body::RaffleOpened(e) => set_status(tx, &e.raffle, "open", idx).await?,
        Body::RaffleClosed(e) => set_status(tx, &e.raffle, "closed", idx).await?,
        Body::SaleVoided(e) => {
            sqlx::query("UPDATE sales SET voided_idx = $2 WHERE id = $1")
                .bind(uuid(&e.sale)?)
                .bind(idx as i64)
                .execute(&mut **tx)
                .await?;
            if e.refund {
                sqlx::query(
                    "UPDATE orders SET status = 'refunded', updated_at = now() WHERE id = $1",
                )
                .bind(uuid(&e.sale)?)
                .execute(&mut **tx)
                .await?;
            }
        }
        Body::Sale(_)
        | Body::SoftwareStarted(_)
        | Body::ReconciliationAcknowledged(_)
        | Body::DrawFrozen(_)
        | Body::DrawPerformed(_)
        | Body::ClaimPaid(_)
        | Body::EventsDigest(_)
        | Body::RsuEnrolled(_)
        | Body::RsuEnabled(_)
        | Body::RsuDisabled(_)
        | Body::RsuAllocated(_)
        | Body::RsuSeen(_)
        | Body::RsuSealed(_)
        | Body::RsuReleased(_)
        | Body::RsuUnreconcilable(_)
        | Body::RsuRejected(_)
        | Body::RsuReprinted(_) => {}
    }
    Ok(())
}

async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    raffle: &str,
    status: &str,
    idx: u64,
) -> Result<()> {
    sqlx::query("UPDATE raffles SET status = $2, updated_idx = $3 WHERE id = $1")
        .bind(uuid(raffle)?)
        .bind(status)
        .bind(idx as i64)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
