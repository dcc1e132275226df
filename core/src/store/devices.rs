//! The sales units' master list (GLI-31 5.4.1) and the nonces of their
//! sync requests. What a unit is allowed to do (enrolment, status,
//! allocations, its chain) is in the log and the ledger; this table holds
//! what the log must not or need not: its model, its operator, its
//! software version and its last contact.

use super::{Store, uuid};
use crate::Result;
use sqlx::Row;

/// A unit as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: String,
    pub model: String,
    pub operator: String,
    pub public_key: [u8; 32],
    pub software_version: Option<String>,
    pub last_contact: Option<time::OffsetDateTime>,
    /// The last sync that passed every check (GLI-31 5.4.2).
    pub revalidated_at: Option<time::OffsetDateTime>,
    /// Syncs that failed a check since then.
    pub failed_revalidations: u32,
}

/// An operator as units learn them: staff id and PIN hash (Argon2id, PHC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOperator {
    pub staff_id: String,
    pub pin_hash: String,
}

/// An operator list issued to a unit: valid from `issued` to `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorList {
    pub issued: time::OffsetDateTime,
    pub expires: time::OffsetDateTime,
    pub operators: Vec<String>,
}

impl OperatorList {
    /// Whether it names `operator` and was valid at `at`, give or take
    /// `skew` (a unit's clock may be a little behind the server's).
    pub fn admits(&self, operator: &str, at: time::OffsetDateTime, skew: time::Duration) -> bool {
        self.issued - skew <= at
            && at <= self.expires
            && self.operators.iter().any(|o| o == operator)
    }
}

impl Store {
    /// Registers a unit (unenrolled and disabled until the log enrols it);
    /// `false` when its id or key is registered already.
    pub async fn register_device(
        &self,
        id: &str,
        model: &str,
        operator: &str,
        public_key: &[u8; 32],
        by: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO rsu_devices (id, model, operator, public_key, registered_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(model)
        .bind(operator)
        .bind(&public_key[..])
        .bind(uuid(by)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
        let row = sqlx::query(
            "SELECT id, model, operator, public_key, software_version, last_contact, \
             revalidated_at, failed_revalidations FROM rsu_devices WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(device_row).transpose()
    }

    /// Every registered unit, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>> {
        sqlx::query(
            "SELECT id, model, operator, public_key, software_version, last_contact, \
             revalidated_at, failed_revalidations FROM rsu_devices ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(device_row)
        .collect()
    }

    /// Uses a sync request's nonce; `false` if the unit used it before.
    pub async fn use_device_nonce(&self, id: &str, nonce: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO rsu_nonces (rsu_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(nonce)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The operators units may let sign in: enabled users with the
    /// rsu_operator role who set a PIN, by staff id.
    pub async fn device_operators(&self) -> Result<Vec<DeviceOperator>> {
        Ok(sqlx::query(
            "SELECT staff_id, device_pin_hash FROM users \
             WHERE 'rsu_operator' = ANY (roles) AND NOT disabled AND device_pin_hash IS NOT NULL \
             ORDER BY staff_id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| DeviceOperator {
            staff_id: r.get(0),
            pin_hash: r.get(1),
        })
        .collect())
    }

    /// Sets (or, with `None`, clears) a user's device PIN hash.
    pub async fn set_device_pin(&self, user_id: &str, hash: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET device_pin_hash = $2 WHERE id = $1")
            .bind(uuid(user_id)?)
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the operator list issued to a unit at `issued`, valid until
    /// `expires`: the unit's latest list is extended when it names the
    /// same operators and has not expired (an expired list is never
    /// stretched over the time the unit had none), otherwise a new one
    /// starts and the latest ends now.
    pub async fn issue_operator_list(
        &self,
        id: &str,
        operators: &[String],
        issued: time::OffsetDateTime,
        expires: time::OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let extended = sqlx::query(
            "UPDATE rsu_operator_lists SET expires_at = GREATEST(expires_at, $3) \
             WHERE rsu_id = $1 AND operators = $2 AND expires_at >= $4 AND issued_at = \
               (SELECT max(issued_at) FROM rsu_operator_lists WHERE rsu_id = $1)",
        )
        .bind(id)
        .bind(operators)
        .bind(expires)
        .bind(issued)
        .execute(&mut *tx)
        .await?;
        if extended.rows_affected() == 0 {
            // The unit replaces its list with this one: the one before
            // admits nothing sold after now.
            sqlx::query(
                "UPDATE rsu_operator_lists SET expires_at = GREATEST(issued_at + interval '1 microsecond', LEAST(expires_at, $2)) \
                 WHERE rsu_id = $1 AND issued_at = (SELECT max(issued_at) FROM rsu_operator_lists WHERE rsu_id = $1)",
            )
            .bind(id)
            .bind(issued)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO rsu_operator_lists (rsu_id, issued_at, expires_at, operators) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (rsu_id, issued_at) \
                 DO UPDATE SET expires_at = EXCLUDED.expires_at, operators = EXCLUDED.operators",
            )
            .bind(id)
            .bind(issued)
            .bind(expires)
            .bind(operators)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The operator lists issued to a unit, oldest first.
    pub async fn operator_lists(&self, id: &str) -> Result<Vec<OperatorList>> {
        Ok(sqlx::query(
            "SELECT issued_at, expires_at, operators FROM rsu_operator_lists \
             WHERE rsu_id = $1 ORDER BY issued_at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| OperatorList {
            issued: r.get(0),
            expires: r.get(1),
            operators: r.get(2),
        })
        .collect())
    }

    /// Records a sync's revalidation (GLI-31 5.4.2): passed revalidates
    /// the unit, and resets its count of failures when `reset` (the sync
    /// also got something logged: an empty sync between failed ones must
    /// not wipe them); failed adds one. Returns the count now.
    pub async fn device_revalidation(&self, id: &str, passed: bool, reset: bool) -> Result<u32> {
        let count: i32 = sqlx::query_scalar(
            "UPDATE rsu_devices SET \
               revalidated_at = CASE WHEN $2 THEN now() ELSE revalidated_at END, \
               failed_revalidations = CASE WHEN NOT $2 THEN failed_revalidations + 1 \
                 WHEN $3 THEN 0 ELSE failed_revalidations END \
             WHERE id = $1 RETURNING failed_revalidations",
        )
        .bind(id)
        .bind(passed)
        .bind(passed && reset)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(0);
        Ok(u32::try_from(count).unwrap_or(0))
    }

    /// Records cash counted for a unit in a raffle (`float` or `drop`, in
    /// minor units; a negative amount corrects an earlier count).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_unit_cash(
        &self,
        raffle: &str,
        rsu: &str,
        kind: &str,
        minor: i64,
        currency: &str,
        note: Option<&str>,
        by: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO rsu_cash (raffle_id, rsu_id, kind, minor, currency, note, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(raffle)
        .bind(rsu)
        .bind(kind)
        .bind(minor)
        .bind(currency)
        .bind(note)
        .bind(uuid(by)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The cash counted per unit of a raffle: (unit, float, drop), in
    /// minor units.
    pub async fn unit_cash(&self, raffle: &str) -> Result<Vec<(String, i64, i64)>> {
        Ok(sqlx::query(
            "SELECT rsu_id, \
               COALESCE(sum(minor) FILTER (WHERE kind = 'float'), 0)::bigint, \
               COALESCE(sum(minor) FILTER (WHERE kind = 'drop'), 0)::bigint \
             FROM rsu_cash WHERE raffle_id = $1 GROUP BY rsu_id ORDER BY rsu_id",
        )
        .bind(raffle)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
    }

    /// The user id of an enabled user with `staff_id`.
    pub async fn user_of_staff(&self, staff_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT id::text FROM users WHERE staff_id = $1 AND NOT disabled")
                .bind(staff_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The pending void request of a sale, if any.
    pub async fn pending_void(&self, sale: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id::text FROM approvals WHERE kind = 'void' AND status = 'pending' \
             AND payload->>'sale' = $1 ORDER BY created_at LIMIT 1",
        )
        .bind(sale)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a contact: its time and the software the unit reported.
    pub async fn device_contact(&self, id: &str, software: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE rsu_devices SET last_contact = now(), \
             software_version = COALESCE($2, software_version) WHERE id = $1",
        )
        .bind(id)
        .bind(software)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn device_row(r: sqlx::postgres::PgRow) -> Result<DeviceRow> {
    let key: Vec<u8> = r.get(3);
    Ok(DeviceRow {
        id: r.get(0),
        model: r.get(1),
        operator: r.get(2),
        public_key: key
            .try_into()
            .map_err(|_| crate::Error::Storage("a unit's key is not 32 bytes".into()))?,
        software_version: r.get(4),
        last_contact: r.get(5),
        revalidated_at: r.get(6),
        failed_revalidations: u32::try_from(r.get::<i32, _>(7)).unwrap_or(0),
    })
}
