use latchkey_store::{KeyState, StoreError, StoreResult, StoredKey};
use sqlx::any::AnyRow;
use sqlx::{Connection as _, Row};

use crate::{Db, map_err};

macro_rules! columns {
    () => {
        "kid, alg, state, private_key, public_jwk, created_at, activated_at, retired_at, remove_after"
    };
}

fn decode(row: &AnyRow) -> StoreResult<StoredKey> {
    let state: String = row.try_get("state").map_err(map_err)?;
    Ok(StoredKey {
        kid: row.try_get("kid").map_err(map_err)?,
        alg: row.try_get("alg").map_err(map_err)?,
        state: KeyState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("key state {state:?}")))?,
        private_key: row.try_get("private_key").map_err(map_err)?,
        public_jwk: row.try_get("public_jwk").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        activated_at: row.try_get("activated_at").map_err(map_err)?,
        retired_at: row.try_get("retired_at").map_err(map_err)?,
        remove_after: row.try_get("remove_after").map_err(map_err)?,
    })
}

fn insert_query(key: &StoredKey) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, state, private_key, public_jwk, created_at, activated_at, retired_at, remove_after) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(key.state.as_str())
    .bind(&key.private_key)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.activated_at)
    .bind(key.retired_at)
    .bind(key.remove_after)
}

impl Db<'_> {
    pub(crate) async fn list_keys(&mut self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM signing_keys ORDER BY created_at DESC, kid"))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter().map(decode).collect()
    }

    pub(crate) async fn insert_key(&mut self, key: &StoredKey) -> StoreResult<()> {
        insert_query(key).execute(&mut *self.0).await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn rotate_keys(
        &mut self,
        next_kid: &str,
        new_next: &StoredKey,
        now: i64,
        remove_after: i64,
    ) -> StoreResult<()> {
        let mut tx = self.0.begin().await.map_err(map_err)?;
        // Take the write lock first (SQLite) and make sure the expected key is next.
        let promoted_probe =
            sqlx::query("UPDATE signing_keys SET created_at = created_at WHERE kid = $1 AND state = 'next'")
                .bind(next_kid)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if promoted_probe.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("{next_kid} is not the next key")));
        }
        // The active key of the same algorithm: each algorithm rotates on its own.
        sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retired_at = $1, remove_after = $2 \
             WHERE state = 'active' AND alg = $3",
        )
        .bind(now)
        .bind(remove_after)
        .bind(&new_next.alg)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("UPDATE signing_keys SET state = 'active', activated_at = $2 WHERE kid = $1 AND state = 'next'")
            .bind(next_kid)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_query(new_next).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn retire_next_key(&mut self, kid: &str, now: i64, remove_after: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retired_at = $2, remove_after = $3 WHERE kid = $1 AND state = 'next'",
        )
        .bind(kid)
        .bind(now)
        .bind(remove_after)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn set_key_remove_after(&mut self, kid: &str, remove_after: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE signing_keys SET remove_after = $2 WHERE kid = $1 AND state = 'retired'")
            .bind(kid)
            .bind(remove_after)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_expired_keys(&mut self, now: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND remove_after <= $1")
            .bind(now)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
