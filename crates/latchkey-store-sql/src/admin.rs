//! Admin API tokens (`admin_tokens`, migration 0007) and the keyset-paginated
//! listings of clients and users the admin API pages through.

use latchkey_core::{Client, User};
use latchkey_store::{AdminToken, PageAfter, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, map_err};

fn decode(row: &AnyRow) -> StoreResult<AdminToken> {
    let scopes: String = row.try_get("scopes").map_err(map_err)?;
    Ok(AdminToken {
        id: row.try_get("id").map_err(map_err)?,
        name: row.try_get("name").map_err(map_err)?,
        token_hash: row.try_get("token_hash").map_err(map_err)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.try_get("created_at").map_err(map_err)?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
        last_used_at: row.try_get("last_used_at").map_err(map_err)?,
    })
}

macro_rules! columns {
    () => {
        "id, name, token_hash, scopes, created_at, expires_at, last_used_at"
    };
}

impl Db<'_> {
    pub(crate) async fn insert_admin_token(&mut self, token: &AdminToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO admin_tokens (id, name, token_hash, scopes, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(token.scopes.join(" "))
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.last_used_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn find_admin_token(&mut self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM admin_tokens WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref().map(decode).transpose()
    }

    pub(crate) async fn list_admin_tokens(&mut self) -> StoreResult<Vec<AdminToken>> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM admin_tokens ORDER BY created_at, id"))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter().map(decode).collect()
    }

    pub(crate) async fn delete_admin_token(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM admin_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn touch_admin_token(&mut self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn list_clients_page(&mut self, after: PageAfter<'_>, limit: u32) -> StoreResult<Vec<Client>> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(
            "SELECT client_id, secret_hash, settings, created_at, updated_at FROM clients \
             WHERE created_at > $1 OR (created_at = $1 AND client_id > $2) \
             ORDER BY created_at, client_id LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(crate::clients::decode).collect()
    }

    pub(crate) async fn list_users_page(&mut self, after: PageAfter<'_>, limit: u32) -> StoreResult<Vec<User>> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(
            "SELECT id, username, password_hash, disabled, claims, created_at, updated_at FROM users \
             WHERE created_at > $1 OR (created_at = $1 AND id > $2) ORDER BY created_at, id LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(crate::users::decode).collect()
    }
}
