//! Second factors (`totp_factors`, `recovery_codes`, migration 0013). Single
//! use is in the statements: a TOTP step is recorded only when later than the
//! last one, a recovery code is spent by deleting its row, so concurrent
//! callers cannot both win.

use latchkey_store::{PasskeyCeremony, StoreResult, StoredPasskey, TotpFactor};
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

fn passkey(row: &AnyRow) -> StoreResult<StoredPasskey> {
    Ok(StoredPasskey {
        credential_id: row.try_get("credential_id").map_err(map_err)?,
        user_id: row.try_get("user_id").map_err(map_err)?,
        name: row.try_get("name").map_err(map_err)?,
        data: row.try_get("data").map_err(map_err)?,
        sign_count: row.try_get("sign_count").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        last_used_at: row.try_get("last_used_at").map_err(map_err)?,
    })
}

const PASSKEY_COLUMNS: &str = "credential_id, user_id, name, data, sign_count, created_at, last_used_at";

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

    pub(crate) async fn add_passkey(&mut self, p: &StoredPasskey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO passkeys (credential_id, user_id, name, data, sign_count, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.credential_id)
        .bind(&p.user_id)
        .bind(&p.name)
        .bind(&p.data)
        .bind(p.sign_count)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn list_passkeys(&mut self, user_id: &str) -> StoreResult<Vec<StoredPasskey>> {
        let sql =
            format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&mut *self.0).await.map_err(map_err)?;
        rows.iter().map(passkey).collect()
    }

    pub(crate) async fn get_passkey(&mut self, credential_id: &str) -> StoreResult<Option<StoredPasskey>> {
        let sql = format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(credential_id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref().map(passkey).transpose()
    }

    pub(crate) async fn use_passkey(
        &mut self,
        credential_id: &str,
        data: &str,
        sign_count: i64,
        now: i64,
    ) -> StoreResult<bool> {
        // A counter must rise; an authenticator that keeps none sends 0
        // every time (and then the challenge alone makes each use unique).
        let done = sqlx::query(
            "UPDATE passkeys SET data = $2, sign_count = $3, last_used_at = $4 \
             WHERE credential_id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
        )
        .bind(credential_id)
        .bind(data)
        .bind(sign_count)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_passkey(&mut self, user_id: &str, credential_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
            .bind(user_id)
            .bind(credential_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_passkeys(&mut self, user_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn put_passkey_ceremony(&mut self, c: &PasskeyCeremony) -> StoreResult<()> {
        sqlx::query("INSERT INTO passkey_ceremonies (id_hash, binding, state, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&c.id_hash)
            .bind(&c.binding)
            .bind(&c.state)
            .bind(c.expires_at)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn take_passkey_ceremony(
        &mut self,
        id_hash: &str,
        now: i64,
    ) -> StoreResult<Option<PasskeyCeremony>> {
        // DELETE … RETURNING: of concurrent takers, one gets the row.
        let row = sqlx::query(
            "DELETE FROM passkey_ceremonies WHERE id_hash = $1 RETURNING id_hash, binding, state, expires_at",
        )
        .bind(id_hash)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let ceremony = PasskeyCeremony {
            id_hash: row.try_get("id_hash").map_err(map_err)?,
            binding: row.try_get("binding").map_err(map_err)?,
            state: row.try_get("state").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
        };
        Ok((ceremony.expires_at > now).then_some(ceremony))
    }
}
