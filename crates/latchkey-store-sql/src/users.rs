use latchkey_core::User;
use latchkey_core::user::username_key;
use latchkey_store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{Connection as _, Row};

use crate::{Db, flag, map_err};

macro_rules! columns {
    () => {
        "id, username, password_hash, disabled, claims, created_at, updated_at"
    };
}

pub(crate) fn decode(row: &AnyRow) -> StoreResult<User> {
    let claims: String = row.try_get("claims").map_err(map_err)?;
    let disabled: i64 = row.try_get("disabled").map_err(map_err)?;
    Ok(User {
        id: row.try_get("id").map_err(map_err)?,
        username: row.try_get("username").map_err(map_err)?,
        password_hash: row.try_get("password_hash").map_err(map_err)?,
        disabled: disabled != 0,
        claims: serde_json::from_str(&claims).map_err(|e| StoreError::Corrupt(format!("user claims: {e}")))?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
    })
}

fn claims_json(user: &User) -> String {
    serde_json::to_string(&user.claims).expect("claims serialize")
}

impl Db<'_> {
    pub(crate) async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, disabled, claims, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(username_key(&user.username))
        .bind(&user.password_hash)
        .bind(flag(user.disabled))
        .bind(claims_json(user))
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_user(&mut self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref().map(decode).transpose()
    }

    pub(crate) async fn find_user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE username_key = $1"))
            .bind(username_key(username))
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref().map(decode).transpose()
    }

    pub(crate) async fn list_users(&mut self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM users ORDER BY created_at, username_key"))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter().map(decode).collect()
    }

    pub(crate) async fn update_user(&mut self, user: &User) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET username = $2, username_key = $3, password_hash = $4, disabled = $5, \
             claims = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(username_key(&user.username))
        .bind(&user.password_hash)
        .bind(flag(user.disabled))
        .bind(claims_json(user))
        .bind(user.updated_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_user(&mut self, id: &str) -> StoreResult<bool> {
        let mut tx = self.0.begin().await.map_err(map_err)?;
        // Its upstream links go with it (the upstream account may sign up again).
        sqlx::query("DELETE FROM federated_identities WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Its second factors too: they would otherwise wait for a new
        // account that happened to get the same id.
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        // And the links sent to them: a reset link must not outlive its account.
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        sqlx::query("DELETE FROM signup_unverified WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
