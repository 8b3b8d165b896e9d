//! Device authorization requests (RFC 8628).

use latchkey_core::device::{DeviceCode, DevicePoll, DeviceStatus};
use latchkey_store::{StoreError, StoreResult};
use sqlx::Row;

use crate::{Db, map_err};

fn decode(data: &str) -> StoreResult<DeviceCode> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt(format!("device code: {e}")))
}

impl Db<'_> {
    pub(crate) async fn insert_device_code(&mut self, code: &DeviceCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, data, status, poll_interval, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
        )
        .bind(&code.device_code_hash)
        .bind(&code.user_code_hash)
        .bind(&code.client_id)
        .bind(serde_json::to_string(code).expect("device code serializes"))
        .bind(code.interval)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn find_user_code(&mut self, user_code_hash: &str, now: i64) -> StoreResult<Option<DeviceCode>> {
        let row = sqlx::query(
            "SELECT data FROM device_codes WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(user_code_hash)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.map(|row| decode(&row.try_get::<String, _>("data").map_err(map_err)?)).transpose()
    }

    pub(crate) async fn decide_device_code(
        &mut self,
        device_code_hash: &str,
        status: DeviceStatus,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = $2 \
             WHERE device_code_hash = $1 AND status = 'pending' AND expires_at > $3",
        )
        .bind(device_code_hash)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn poll_device_code(
        &mut self,
        device_code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<DevicePoll> {
        // One conditional UPDATE (its right-hand sides see the row before
        // it): concurrent polls are serialized by the row, and each sees the
        // one before it.
        let row = sqlx::query(
            "UPDATE device_codes SET \
               slowed = CASE WHEN last_poll_at IS NOT NULL AND $3 < last_poll_at + poll_interval THEN 1 ELSE 0 END, \
               poll_interval = CASE WHEN last_poll_at IS NOT NULL AND $3 < last_poll_at + poll_interval \
                 THEN poll_interval + 5 ELSE poll_interval END, \
               last_poll_at = $3 \
             WHERE device_code_hash = $1 AND client_id = $2 \
             RETURNING status, poll_interval, slowed, expires_at",
        )
        .bind(device_code_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(DevicePoll::NotFound);
        };
        let expires_at: i64 = row.try_get("expires_at").map_err(map_err)?;
        if expires_at <= now {
            return Ok(DevicePoll::Expired);
        }
        if row.try_get::<i64, _>("slowed").map_err(map_err)? != 0 {
            return Ok(DevicePoll::SlowDown(row.try_get("poll_interval").map_err(map_err)?));
        }
        let status: String = row.try_get("status").map_err(map_err)?;
        let status = DeviceStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("device code status {status:?}")))?;
        Ok(DevicePoll::Polled(status))
    }
}
