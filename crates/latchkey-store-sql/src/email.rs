//! The outbox and the links of self-service email (`outbox`,
//! `email_tokens`, migrations 0016 and 0017). Claiming an email and
//! spending a link are each one conditional statement, so concurrent
//! callers (on any replica) cannot both win.

use latchkey_store::{EmailToken, OutboxEmail, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, map_err};

macro_rules! outbox_columns {
    () => {
        "id, recipient, subject, text_body, html_body, attempts, next_attempt_at, lease, last_error, created_at"
    };
}

fn outbox_email(row: &AnyRow) -> StoreResult<OutboxEmail> {
    let attempts: i64 = row.try_get("attempts").map_err(map_err)?;
    Ok(OutboxEmail {
        id: row.try_get("id").map_err(map_err)?,
        recipient: row.try_get("recipient").map_err(map_err)?,
        subject: row.try_get("subject").map_err(map_err)?,
        text_body: row.try_get("text_body").map_err(map_err)?,
        html_body: row.try_get("html_body").map_err(map_err)?,
        attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
        next_attempt_at: row.try_get("next_attempt_at").map_err(map_err)?,
        lease: row.try_get("lease").map_err(map_err)?,
        last_error: row.try_get("last_error").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
    })
}

fn email_token(row: &AnyRow) -> StoreResult<EmailToken> {
    Ok(EmailToken {
        token_hash: row.try_get("token_hash").map_err(map_err)?,
        purpose: row.try_get("purpose").map_err(map_err)?,
        user_id: row.try_get("user_id").map_err(map_err)?,
        email: row.try_get("email").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
    })
}

impl Db<'_> {
    pub(crate) async fn enqueue_email(&mut self, e: &OutboxEmail) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO outbox (",
            outbox_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&e.id)
        .bind(&e.recipient)
        .bind(&e.subject)
        .bind(&e.text_body)
        .bind(&e.html_body)
        .bind(i64::from(e.attempts))
        .bind(e.next_attempt_at)
        .bind(&e.lease)
        .bind(&e.last_error)
        .bind(e.created_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn claim_email(
        &mut self,
        lease: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<OutboxEmail>> {
        // A few candidates, each claimed only if still due as seen: a row
        // another sender claimed meanwhile has moved on, and its UPDATE
        // matches nothing here.
        let due = sqlx::query(
            "SELECT id, next_attempt_at FROM outbox WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 4",
        )
        .bind(now)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        for row in due {
            let id: String = row.try_get("id").map_err(map_err)?;
            let seen: i64 = row.try_get("next_attempt_at").map_err(map_err)?;
            let claimed = sqlx::query(concat!(
                "UPDATE outbox SET next_attempt_at = $3, lease = $4, attempts = attempts + 1 \
                 WHERE id = $1 AND next_attempt_at = $2 RETURNING ",
                outbox_columns!()
            ))
            .bind(&id)
            .bind(seen)
            .bind(lease_until)
            .bind(lease)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
            if let Some(row) = claimed {
                return outbox_email(&row).map(Some);
            }
        }
        Ok(None)
    }

    pub(crate) async fn delete_email(&mut self, id: &str, lease: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM outbox WHERE id = $1 AND lease = $2")
            .bind(id)
            .bind(lease)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn reschedule_email(
        &mut self,
        id: &str,
        lease: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE outbox SET next_attempt_at = $3, last_error = $4 WHERE id = $1 AND lease = $2")
            .bind(id)
            .bind(lease)
            .bind(next_attempt_at)
            .bind(error)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn count_outbox(&mut self) -> StoreResult<u64> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&mut *self.0).await.map_err(map_err)?;
        Ok(count.max(0) as u64)
    }

    pub(crate) async fn put_email_token(&mut self, t: &EmailToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, purpose, user_id, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, purpose) DO UPDATE SET \
             token_hash = excluded.token_hash, email = excluded.email, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
        )
        .bind(&t.token_hash)
        .bind(&t.purpose)
        .bind(&t.user_id)
        .bind(&t.email)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_email_token(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<EmailToken>> {
        let row = sqlx::query(
            "SELECT token_hash, purpose, user_id, email, created_at, expires_at FROM email_tokens \
             WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(email_token).transpose()
    }

    pub(crate) async fn take_email_token(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<EmailToken>> {
        let row = sqlx::query(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 \
             RETURNING token_hash, purpose, user_id, email, created_at, expires_at",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(email_token).transpose()
    }
}
