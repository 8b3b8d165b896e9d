//! Stores of the authorization code flow.

use async_trait::async_trait;
use latchkey_core::Scope;
use latchkey_core::grant::{
    Authentication, AuthorizationCode, Consent, Interaction, InteractionStage, RefreshToken, Session,
};
use latchkey_store::{CodeStore, ConsentStore, InteractionStore, Redemption, SessionStore, StoreError, StoreResult};
use sqlx::Row;

use crate::{SqlStore, map_err};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        let auth = serde_json::to_string(&s.auth).expect("auth serializes");
        sqlx::query(
            "INSERT INTO sessions (id_hash, sid, user_id, auth, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash)
        .bind(&s.auth.sid)
        .bind(&s.auth.user_id)
        .bind(auth)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
        let Some(row) =
            sqlx::query("SELECT auth, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
        else {
            return Ok(None);
        };
        let auth: String = row.try_get("auth").map_err(map_err)?;
        let auth: Authentication = serde_json::from_str(&auth).map_err(|e| corrupt("session", e))?;
        let clients =
            sqlx::query("SELECT client_id FROM session_clients WHERE session_id_hash = $1 ORDER BY client_id")
                .bind(id_hash)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(Some(Session {
            id_hash: id_hash.to_string(),
            auth,
            created_at: row.try_get("created_at").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
            client_ids: clients
                .iter()
                .map(|r| r.try_get("client_id"))
                .collect::<Result<_, _>>()
                .map_err(map_err)?,
        }))
    }

    async fn add_session_client(&self, id_hash: &str, client_id: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO session_clients (session_id_hash, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id_hash)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM session_clients WHERE session_id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl ConsentStore for SqlStore {
    async fn get_consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let Some(row) =
            sqlx::query("SELECT scope, granted_at, updated_at FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?
        else {
            return Ok(None);
        };
        let scope: String = row.try_get("scope").map_err(map_err)?;
        Ok(Some(Consent {
            user_id: user_id.to_string(),
            client_id: client_id.to_string(),
            scope: Scope::parse(&scope).map_err(|e| corrupt("consent scope", e))?,
            granted_at: row.try_get("granted_at").map_err(map_err)?,
            updated_at: row.try_get("updated_at").map_err(map_err)?,
        }))
    }

    async fn put_consent(&self, user_id: &str, client_id: &str, scope: &Scope, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

fn stage_str(s: InteractionStage) -> &'static str {
    match s {
        InteractionStage::Login => "login",
        InteractionStage::Consent => "consent",
    }
}

#[async_trait]
impl InteractionStore for SqlStore {
    async fn insert_interaction(&self, i: &Interaction) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO interactions (id_hash, csrf, stage, user_id, request, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.id_hash)
        .bind(&i.csrf)
        .bind(stage_str(i.stage))
        .bind(&i.user_id)
        .bind(&i.request)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let Some(row) = sqlx::query(
            "SELECT csrf, stage, user_id, request, created_at, expires_at FROM interactions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let stage: String = row.try_get("stage").map_err(map_err)?;
        Ok(Some(Interaction {
            id_hash: id_hash.to_string(),
            csrf: row.try_get("csrf").map_err(map_err)?,
            stage: match stage.as_str() {
                "login" => InteractionStage::Login,
                "consent" => InteractionStage::Consent,
                other => return Err(corrupt("interaction stage", other)),
            },
            user_id: row.try_get("user_id").map_err(map_err)?,
            request: row.try_get("request").map_err(map_err)?,
            created_at: row.try_get("created_at").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
        }))
    }

    async fn update_interaction(&self, i: &Interaction) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE interactions SET stage = $2, user_id = $3 WHERE id_hash = $1")
            .bind(&i.id_hash)
            .bind(stage_str(i.stage))
            .bind(&i.user_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM interactions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

fn decode_code(data: &str) -> StoreResult<AuthorizationCode> {
    serde_json::from_str(data).map_err(|e| corrupt("authorization code", e))
}

#[async_trait]
impl CodeStore for SqlStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, grant_id, data, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.grant_id)
        .bind(serde_json::to_string(code).expect("code serializes"))
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption> {
        // One conditional UPDATE decides the winner, on SQLite and PostgreSQL alike.
        let won = sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $3 \
             WHERE code_hash = $1 AND client_id = $2 AND consumed_at IS NULL AND expires_at > $3",
        )
        .bind(code_hash)
        .bind(client_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(row) = sqlx::query(
            "SELECT client_id, data, consumed_at, expires_at FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        else {
            return Ok(Redemption::NotFound);
        };
        let data: String = row.try_get("data").map_err(map_err)?;
        if won.rows_affected() == 1 {
            return Ok(Redemption::Redeemed(decode_code(&data)?));
        }
        let owner: String = row.try_get("client_id").map_err(map_err)?;
        let consumed: Option<i64> = row.try_get("consumed_at").map_err(map_err)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(map_err)?;
        Ok(if owner != client_id {
            Redemption::WrongClient
        } else if consumed.is_some() {
            Redemption::AlreadyUsed(decode_code(&data)?)
        } else {
            // Unspent but not redeemable: expired.
            debug_assert!(expires_at <= now);
            Redemption::NotFound
        })
    }

    async fn record_issued(
        &self,
        code_hash: &str,
        access_jti: &str,
        access_exp: i64,
        refresh: Option<&RefreshToken>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let done = sqlx::query(
            "UPDATE authorization_codes SET access_jti = $2, access_exp = $3 WHERE code_hash = $1 AND revoked = 0",
        )
        .bind(code_hash)
        .bind(access_jti)
        .bind(access_exp)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        if let Some(rt) = refresh {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, user_id, data, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&rt.token_hash)
            .bind(&rt.grant_id)
            .bind(&rt.client_id)
            .bind(&rt.auth.user_id)
            .bind(serde_json::to_string(rt).expect("refresh token serializes"))
            .bind(rt.created_at)
            .bind(rt.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn revoke_code_grant(&self, code_hash: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("UPDATE authorization_codes SET revoked = 1 WHERE code_hash = $1")
            .bind(code_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let row = sqlx::query("SELECT grant_id, access_jti, access_exp FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(row) = row {
            let grant_id: String = row.try_get("grant_id").map_err(map_err)?;
            sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1")
                .bind(&grant_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let jti: Option<String> = row.try_get("access_jti").map_err(map_err)?;
            let exp: Option<i64> = row.try_get("access_exp").map_err(map_err)?;
            if let (Some(jti), Some(exp)) = (jti, exp) {
                sqlx::query(
                    "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(jti)
                .bind(exp)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS hit FROM revoked_access_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query("SELECT data FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            let data: String = r.try_get("data").map_err(map_err)?;
            serde_json::from_str(&data).map_err(|e| corrupt("refresh token", e))
        })
        .transpose()
    }
}
