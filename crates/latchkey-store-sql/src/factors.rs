//! Second factors (`totp_factors`, `recovery_codes`, migration 0013). Single
//! use is in the statements: a TOTP step is recorded only when later than the
//! last one, a recovery code is spent by deleting its row, so concurrent
//! callers cannot both win.

use latchkey_store::{StoreResult, TotpFactor};
use sqlx::any::AnyRow;
use sqlx::{Connection as _, Row};

use crate::{Db, map_err};

fn factor(row: &AnyRow) -> StoreResult<TotpFactor> {
    Ok(TotpFactor {
        user_id: row.try_get("user_id").map_err(map_err)?,
        secret: row.try_get("secret").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        confirmed_at: row.try_get("confirmed_at").map_err(map_err)?,
        last_step: row.try_get("last_step").map_err(map_err)?,
        last_used_at: row.try_get("last_used_at").map_err(map_err)?,
    })
}

impl Db<'_> {
    pub(crate) async fn put_pending_totp(&mut self, user_id: &str, secret: &str, now: i64) -> StoreResult<bool> {
        // The upsert's WHERE leaves an active factor alone: restarting
        // enrollment never replaces a secret the person already relies on.
        let done = sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, \
             last_step = NULL, last_used_at = NULL WHERE totp_factors.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn get_totp(&mut self, user_id: &str) -> StoreResult<Option<TotpFactor>> {
        let row = sqlx::query(
            "SELECT user_id, secret, created_at, confirmed_at, last_step, last_used_at FROM totp_factors \
             WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(factor).transpose()
    }

    pub(crate) async fn confirm_totp(&mut self, user_id: &str, secret: &str, step: i64, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $4, last_step = $3, last_used_at = $4 \
             WHERE user_id = $1 AND secret = $2 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret)
        .bind(step)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn use_totp_step(&mut self, user_id: &str, step: i64, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $2, last_used_at = $3 \
             WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(user_id)
        .bind(step)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_totp(&mut self, user_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn replace_recovery_codes(
        &mut self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> StoreResult<()> {
        // One transaction (a savepoint inside a unit of work): a person never
        // holds a mix of old and new codes, nor none after a failure.
        let mut tx = self.0.begin().await.map_err(map_err)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for hash in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn use_recovery_code(&mut self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn get_recovery_codes_left(&mut self, user_id: &str) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(count.max(0) as u64)
    }

    pub(crate) async fn delete_recovery_codes(&mut self, user_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
