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
            "SELECT id, model, operator, public_key, software_version, last_contact \
             FROM rsu_devices WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(device_row).transpose()
    }

    /// Every registered unit, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>> {
        sqlx::query(
            "SELECT id, model, operator, public_key, software_version, last_contact \
             FROM rsu_devices ORDER BY id",
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
    })
}
