//! Invitations and the accounts of open sign-up waiting for a verified
//! address (`invitations`, `signup_unverified`, migrations 0019 and 0020). Accepting
//! an invitation is one conditional `DELETE … RETURNING`, so of concurrent
//! callers (on any replica) one wins.

use latchkey_store::{Invitation, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, map_err};

macro_rules! columns {
    () => {
        "id, token_hash, email, groups, created_by, created_at, expires_at, locale"
    };
}

fn invitation(row: &AnyRow) -> StoreResult<Invitation> {
    let groups: String = row.try_get("groups").map_err(map_err)?;
    Ok(Invitation {
        id: row.try_get("id").map_err(map_err)?,
        token_hash: row.try_get("token_hash").map_err(map_err)?,
        email: row.try_get("email").map_err(map_err)?,
        groups: serde_json::from_str(&groups).map_err(|e| StoreError::Corrupt(format!("invitation groups: {e}")))?,
        created_by: row.try_get("created_by").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
        locale: row.try_get("locale").map_err(map_err)?,
    })
}

impl Db<'_> {
    pub(crate) async fn insert_invitation(&mut self, i: &Invitation) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO invitations (", columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&i.id)
            .bind(&i.token_hash)
            .bind(&i.email)
            .bind(serde_json::to_string(&i.groups).expect("groups serialize"))
            .bind(&i.created_by)
            .bind(i.created_at)
            .bind(i.expires_at)
            .bind(&i.locale)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_invitation(&mut self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>> {
        let row =
            sqlx::query(concat!("SELECT ", columns!(), " FROM invitations WHERE token_hash = $1 AND expires_at > $2"))
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(map_err)?;
        row.as_ref().map(invitation).transpose()
    }

    pub(crate) async fn take_invitation(&mut self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>> {
        let row = sqlx::query(concat!(
            "DELETE FROM invitations WHERE token_hash = $1 AND expires_at > $2 RETURNING ",
            columns!()
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(invitation).transpose()
    }

    pub(crate) async fn list_invitations(&mut self) -> StoreResult<Vec<Invitation>> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM invitations ORDER BY created_at, id"))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter().map(invitation).collect()
    }

    pub(crate) async fn delete_invitation(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM invitations WHERE id = $1")
            .bind(id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn mark_unverified_signup(&mut self, user_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signup_unverified (user_id, created_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn is_unverified_signup(&mut self, user_id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT user_id FROM signup_unverified WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(row.is_some())
    }

    pub(crate) async fn clear_unverified_signup(&mut self, user_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM signup_unverified WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
