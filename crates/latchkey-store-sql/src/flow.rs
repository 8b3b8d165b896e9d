//! Stores of the authorization code flow.

use latchkey_core::Scope;
use latchkey_core::grant::{
    Authentication, AuthorizationCode, Consent, Interaction, InteractionStage, RefreshToken, RefreshTokenRecord,
    Session,
};
use latchkey_store::{
    CodeLookup, Failures, IssuedToken, Purged, Redemption, RevokedCode, RevokedFamily, Rotation, StoreError,
    StoreResult, window_start,
};
use sqlx::{Connection as _, Row};

use crate::{Db, map_err};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

macro_rules! consent_columns {
    () => {
        "user_id, client_id, scope, granted_at, updated_at"
    };
}

/// A `consents` row read with [`consent_columns`].
fn consent(row: &sqlx::any::AnyRow) -> StoreResult<Consent> {
    let scope: String = row.try_get("scope").map_err(map_err)?;
    Ok(Consent {
        user_id: row.try_get("user_id").map_err(map_err)?,
        client_id: row.try_get("client_id").map_err(map_err)?,
        scope: Scope::parse(&scope).map_err(|e| corrupt("consent scope", e))?,
        granted_at: row.try_get("granted_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
    })
}

impl Db<'_> {
    pub(crate) async fn decode_session(&mut self, row: &sqlx::any::AnyRow) -> StoreResult<Session> {
        let id_hash: String = row.try_get("id_hash").map_err(map_err)?;
        let auth: String = row.try_get("auth").map_err(map_err)?;
        let auth: Authentication = serde_json::from_str(&auth).map_err(|e| corrupt("session", e))?;
        let clients =
            sqlx::query("SELECT client_id FROM session_clients WHERE session_id_hash = $1 ORDER BY client_id")
                .bind(&id_hash)
                .fetch_all(&mut *self.0)
                .await
                .map_err(map_err)?;
        Ok(Session {
            id_hash,
            auth,
            created_at: row.try_get("created_at").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
            last_seen_at: row.try_get("last_seen_at").map_err(map_err)?,
            client_ids: clients.iter().map(|r| r.try_get("client_id")).collect::<Result<_, _>>().map_err(map_err)?,
        })
    }
}

macro_rules! session_columns {
    () => {
        "id_hash, auth, created_at, expires_at, last_seen_at"
    };
}

impl Db<'_> {
    pub(crate) async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        let auth = serde_json::to_string(&s.auth).expect("auth serializes");
        sqlx::query(
            "INSERT INTO sessions (id_hash, sid, user_id, auth, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id_hash)
        .bind(&s.auth.sid)
        .bind(&s.auth.user_id)
        .bind(auth)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_session(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id_hash = $1 AND expires_at > $2"
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        match row {
            Some(row) => Ok(Some(self.decode_session(&row).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn add_session_client(&mut self, id_hash: &str, client_id: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO session_clients (session_id_hash, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id_hash)
            .bind(client_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn touch_session(&mut self, id_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2")
            .bind(id_hash)
            .bind(now)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn delete_session(&mut self, id_hash: &str) -> StoreResult<Option<Session>> {
        let row = sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions WHERE id_hash = $1"))
            .bind(id_hash)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = self.decode_session(&row).await?;
        let mut tx = self.0.begin().await.map_err(map_err)?;
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
        // Of concurrent deletions, only the one that removed the row reports it.
        Ok((done.rows_affected() == 1).then_some(session))
    }

    pub(crate) async fn list_user_sessions(&mut self, user_id: &str, now: i64) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT id_hash, auth, created_at, expires_at, last_seen_at FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id_hash",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.decode_session(row).await?);
        }
        Ok(out)
    }

    pub(crate) async fn find_session_by_sid(&mut self, sid: &str, now: i64) -> StoreResult<Option<Session>> {
        let row =
            sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions WHERE sid = $1 AND expires_at > $2"))
                .bind(sid)
                .bind(now)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(map_err)?;
        match row {
            Some(row) => Ok(Some(self.decode_session(&row).await?)),
            None => Ok(None),
        }
    }
}

impl Db<'_> {
    pub(crate) async fn get_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let row =
            sqlx::query(concat!("SELECT ", consent_columns!(), " FROM consents WHERE user_id = $1 AND client_id = $2"))
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(map_err)?;
        row.as_ref().map(consent).transpose()
    }

    pub(crate) async fn put_consent(
        &mut self,
        user_id: &str,
        client_id: &str,
        scope: &Scope,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope.to_string())
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn delete_consent(&mut self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn list_client_consents(&mut self, client_id: &str, limit: u32) -> StoreResult<Vec<Consent>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents WHERE client_id = $1 ORDER BY updated_at DESC, user_id LIMIT $2"
        ))
        .bind(client_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(consent).collect()
    }

    pub(crate) async fn list_user_consents(&mut self, user_id: &str) -> StoreResult<Vec<Consent>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            consent_columns!(),
            " FROM consents WHERE user_id = $1 ORDER BY updated_at DESC, client_id"
        ))
        .bind(user_id)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(consent).collect()
    }
}

impl Db<'_> {
    pub(crate) async fn insert_interaction(&mut self, i: &Interaction) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO interactions (id_hash, csrf, stage, user_id, request, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.id_hash)
        .bind(&i.csrf)
        .bind(i.stage.as_str())
        .bind(&i.user_id)
        .bind(&i.request)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_interaction(&mut self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let Some(row) = sqlx::query(
            "SELECT csrf, stage, user_id, request, created_at, expires_at FROM interactions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let stage: String = row.try_get("stage").map_err(map_err)?;
        Ok(Some(Interaction {
            id_hash: id_hash.to_string(),
            csrf: row.try_get("csrf").map_err(map_err)?,
            stage: InteractionStage::parse(&stage).ok_or_else(|| corrupt("interaction stage", &stage))?,
            user_id: row.try_get("user_id").map_err(map_err)?,
            request: row.try_get("request").map_err(map_err)?,
            created_at: row.try_get("created_at").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
        }))
    }

    pub(crate) async fn update_interaction(&mut self, i: &Interaction) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE interactions SET stage = $2, user_id = $3 WHERE id_hash = $1")
            .bind(&i.id_hash)
            .bind(i.stage.as_str())
            .bind(&i.user_id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn delete_interaction(&mut self, id_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM interactions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

fn decode_code(data: &str) -> StoreResult<AuthorizationCode> {
    serde_json::from_str(data).map_err(|e| corrupt("authorization code", e))
}

impl Db<'_> {
    pub(crate) async fn insert_code(&mut self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, grant_id, user_id, data, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.grant_id)
        .bind(&code.auth.user_id)
        .bind(serde_json::to_string(code).expect("code serializes"))
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn find_code(&mut self, code_hash: &str, now: i64) -> StoreResult<CodeLookup> {
        let Some(row) =
            sqlx::query("SELECT data, consumed_at, expires_at FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(map_err)?
        else {
            return Ok(CodeLookup::NotFound);
        };
        let data: String = row.try_get("data").map_err(map_err)?;
        let consumed: Option<i64> = row.try_get("consumed_at").map_err(map_err)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(map_err)?;
        Ok(if consumed.is_some() {
            CodeLookup::Spent(decode_code(&data)?)
        } else if expires_at > now {
            CodeLookup::Redeemable(decode_code(&data)?)
        } else {
            CodeLookup::NotFound
        })
    }

    pub(crate) async fn redeem_code(&mut self, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption> {
        // One conditional UPDATE decides the winner, on SQLite and PostgreSQL alike.
        let won = sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $3 \
             WHERE code_hash = $1 AND client_id = $2 AND consumed_at IS NULL AND expires_at > $3 RETURNING data",
        )
        .bind(code_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        if let Some(row) = won {
            let data: String = row.try_get("data").map_err(map_err)?;
            return Ok(Redemption::Redeemed(decode_code(&data)?));
        }
        let Some(row) = sqlx::query(
            "SELECT client_id, data, consumed_at, expires_at FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?
        else {
            return Ok(Redemption::NotFound);
        };
        let data: String = row.try_get("data").map_err(map_err)?;
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

    pub(crate) async fn record_code_access(
        &mut self,
        code_hash: &str,
        access_jti: &str,
        access_exp: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE authorization_codes SET access_jti = $2, access_exp = $3 WHERE code_hash = $1 AND revoked = 0",
        )
        .bind(code_hash)
        .bind(access_jti)
        .bind(access_exp)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn is_code_revoked(&mut self, code_hash: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT revoked FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>("revoked").map_err(map_err)? != 0,
            None => false,
        })
    }

    pub(crate) async fn revoke_code(&mut self, code_hash: &str) -> StoreResult<Option<RevokedCode>> {
        let row = sqlx::query(
            "UPDATE authorization_codes SET revoked = 1 WHERE code_hash = $1 RETURNING grant_id, access_jti, access_exp",
        )
        .bind(code_hash)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(revoked_code).transpose()
    }

    pub(crate) async fn revoke_client_codes(
        &mut self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Vec<RevokedCode>> {
        let rows = sqlx::query(
            "UPDATE authorization_codes SET revoked = 1 WHERE user_id = $1 AND client_id = $2 \
             AND (access_exp > $3 OR access_jti IS NULL) RETURNING grant_id, access_jti, access_exp",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(now)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(revoked_code).collect()
    }
}

fn revoked_code(row: &sqlx::any::AnyRow) -> StoreResult<RevokedCode> {
    let jti: Option<String> = row.try_get("access_jti").map_err(map_err)?;
    let exp: Option<i64> = row.try_get("access_exp").map_err(map_err)?;
    Ok(RevokedCode {
        grant_id: row.try_get("grant_id").map_err(map_err)?,
        access_token: jti.zip(exp).map(|(jti, exp)| IssuedToken::new(jti, exp)),
    })
}

/// The INSERT of a refresh token row.
fn insert_refresh<'q>(
    rt: &'q RefreshToken,
    access_jti: &'q str,
    access_exp: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, user_id, sid, data, created_at, expires_at, \
         access_jti, access_exp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&rt.token_hash)
    .bind(&rt.grant_id)
    .bind(&rt.client_id)
    .bind(&rt.auth.user_id)
    .bind(&rt.auth.sid)
    .bind(serde_json::to_string(rt).expect("refresh token serializes"))
    .bind(rt.created_at)
    .bind(rt.expires_at)
    .bind(access_jti)
    .bind(access_exp)
}

impl Db<'_> {
    pub(crate) async fn get_refresh_token(&mut self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = sqlx::query(
            "SELECT data, consumed_at, revoked_at, successor_sealed FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("data").map_err(map_err)?;
        Ok(Some(RefreshTokenRecord {
            token: serde_json::from_str(&data).map_err(|e| corrupt("refresh token", e))?,
            consumed_at: row.try_get("consumed_at").map_err(map_err)?,
            revoked_at: row.try_get("revoked_at").map_err(map_err)?,
            successor_sealed: row.try_get("successor_sealed").map_err(map_err)?,
        }))
    }

    pub(crate) async fn insert_refresh_token(
        &mut self,
        rt: &RefreshToken,
        access_jti: &str,
        access_exp: i64,
    ) -> StoreResult<()> {
        insert_refresh(rt, access_jti, access_exp).execute(&mut *self.0).await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        client_id: &str,
        now: i64,
        rotation: Rotation<'_>,
    ) -> StoreResult<bool> {
        let Rotation { successor, successor_sealed, access_jti, access_exp } = rotation;
        let mut tx = self.0.begin().await.map_err(map_err)?;
        // The conditional UPDATE decides the one winner among concurrent uses.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET consumed_at = $3, successor_hash = $4, successor_sealed = $5 \
             WHERE token_hash = $1 AND client_id = $2 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(old_hash)
        .bind(client_id)
        .bind(now)
        .bind(&successor.token_hash)
        .bind(successor_sealed)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if won.rows_affected() != 1 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        insert_refresh(successor, access_jti, access_exp).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn add_family_access_token(
        &mut self,
        token_hash: &str,
        access_jti: &str,
        access_exp: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO family_access_tokens (jti, grant_id, expires_at) \
             SELECT $2, grant_id, $3 FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .bind(access_jti)
        .bind(access_exp)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// In one transaction (a savepoint inside a unit of work): marks the
    /// family's refresh tokens revoked and collects the access tokens issued
    /// with them and within the grace window.
    pub(crate) async fn revoke_refresh_tokens(&mut self, grant_id: &str, now: i64) -> StoreResult<RevokedFamily> {
        let mut tx = self.0.begin().await.map_err(map_err)?;
        let live = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL AND consumed_at IS NULL",
        )
        .bind(grant_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let rows = sqlx::query(
            "SELECT access_jti AS jti, access_exp AS exp FROM refresh_tokens \
             WHERE grant_id = $1 AND access_jti IS NOT NULL AND access_exp > $2 \
             UNION SELECT jti, expires_at AS exp FROM family_access_tokens WHERE grant_id = $1 AND expires_at > $2",
        )
        .bind(grant_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut access_tokens = Vec::with_capacity(rows.len());
        for row in &rows {
            access_tokens.push(IssuedToken::new(
                row.try_get::<String, _>("jti").map_err(map_err)?,
                row.try_get::<i64, _>("exp").map_err(map_err)?,
            ));
        }
        tx.commit().await.map_err(map_err)?;
        Ok(RevokedFamily { live: live.rows_affected(), access_tokens })
    }

    pub(crate) async fn list_session_families(&mut self, sid: &str, include_offline: bool) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT grant_id, data FROM refresh_tokens WHERE sid = $1 AND revoked_at IS NULL AND consumed_at IS NULL \
             ORDER BY created_at, grant_id",
        )
        .bind(sid)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        let mut families: Vec<String> = Vec::new();
        for row in rows {
            let data: String = row.try_get("data").map_err(map_err)?;
            let token: RefreshToken = serde_json::from_str(&data).map_err(|e| corrupt("refresh token", e))?;
            if (include_offline || !token.offline) && !families.contains(&token.grant_id) {
                families.push(token.grant_id);
            }
        }
        Ok(families)
    }

    pub(crate) async fn list_client_families(&mut self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT grant_id FROM refresh_tokens WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL \
             ORDER BY grant_id",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| r.try_get("grant_id").map_err(map_err)).collect()
    }
}

impl Db<'_> {
    pub(crate) async fn deny_access_token(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn deny_access_tokens(&mut self, tokens: &[IssuedToken]) -> StoreResult<()> {
        for token in tokens {
            self.deny_access_token(&token.jti, token.expires_at).await?;
        }
        Ok(())
    }

    pub(crate) async fn is_access_token_denied(&mut self, jti: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS hit FROM revoked_access_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(row.is_some())
    }
}

/// Runs on the pool, never inside a unit of work.
#[async_trait::async_trait]
impl latchkey_store::Maintenance for crate::SqlStore {
    async fn purge_expired(&self, now: i64, batch: u32) -> StoreResult<Purged> {
        let batch = i64::from(batch);
        let run = |sql: &'static str| {
            let pool = self.pool.clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(batch)
                    .execute(&pool)
                    .await
                    .map(|d| d.rows_affected())
                    .map_err(map_err)
            }
        };
        // Codes are kept a day past expiry so that a late replay is still recognised.
        let codes = run("DELETE FROM authorization_codes WHERE code_hash IN \
            (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 - 86400 LIMIT $2)")
        .await?;
        // Device requests are kept an hour past expiry (a late poll is told expired_token).
        let codes = codes
            + run("DELETE FROM device_codes WHERE device_code_hash IN \
            (SELECT device_code_hash FROM device_codes WHERE expires_at < $1 - 3600 LIMIT $2)")
            .await?;
        let interactions = run("DELETE FROM interactions WHERE id_hash IN \
            (SELECT id_hash FROM interactions WHERE expires_at < $1 LIMIT $2)")
        .await?;
        // Pushed authorization requests are sign-ins that have not begun yet.
        let interactions = interactions
            + run("DELETE FROM pushed_requests WHERE uri_hash IN \
            (SELECT uri_hash FROM pushed_requests WHERE expires_at < $1 LIMIT $2)")
            .await?;
        let sessions = run("DELETE FROM sessions WHERE id_hash IN \
            (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)")
        .await?;
        // After the sessions, so that a session expiring between two
        // statements cannot leave its client list behind.
        sqlx::query(
            "DELETE FROM session_clients WHERE session_id_hash IN (SELECT session_id_hash FROM session_clients \
             WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id_hash = session_clients.session_id_hash) LIMIT $1)",
        )
        .bind(batch)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        let refresh_tokens = run("DELETE FROM refresh_tokens WHERE token_hash IN \
            (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)")
        .await?;
        let denylist = run("DELETE FROM revoked_access_tokens WHERE jti IN \
            (SELECT jti FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2)")
        .await?;
        run("DELETE FROM family_access_tokens WHERE jti IN \
            (SELECT jti FROM family_access_tokens WHERE expires_at < $1 LIMIT $2)")
        .await?;
        let rate_limits = run("DELETE FROM rate_limits WHERE (bucket, window_start) IN \
            (SELECT bucket, window_start FROM rate_limits WHERE expires_at < $1 LIMIT $2)")
        .await?;
        let failures = run("DELETE FROM login_failures WHERE bucket IN \
            (SELECT bucket FROM login_failures WHERE expires_at < $1 LIMIT $2)")
        .await?;
        let rate_limits = rate_limits + failures;
        let used_assertions = run("DELETE FROM used_assertions WHERE key_hash IN \
            (SELECT key_hash FROM used_assertions WHERE expires_at < $1 LIMIT $2)")
        .await?;
        let used_assertions = used_assertions
            + run("DELETE FROM passkey_ceremonies WHERE id_hash IN \
            (SELECT id_hash FROM passkey_ceremonies WHERE expires_at < $1 LIMIT $2)")
            .await?;
        let email_tokens = run("DELETE FROM email_tokens WHERE token_hash IN \
            (SELECT token_hash FROM email_tokens WHERE expires_at < $1 LIMIT $2)")
        .await?;
        // Listed as expired for a while first.
        let invitations = sqlx::query(
            "DELETE FROM invitations WHERE id IN (SELECT id FROM invitations WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(now - latchkey_store::EXPIRED_INVITATIONS_KEPT_SECONDS)
        .bind(batch)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        // The newest entry stays, so that sequence numbers never start over.
        let changes = run("DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE created_at < $1 - 3600 \
            AND seq < (SELECT MAX(seq) FROM changes) LIMIT $2)")
        .await?;
        if self.backend() == crate::Backend::Sqlite {
            // Give back up to `batch` free pages to the file system (with
            // auto_vacuum = INCREMENTAL; a no-op on a database without it).
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA incremental_vacuum({batch})")))
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        }
        Ok(Purged {
            codes,
            interactions,
            sessions,
            refresh_tokens,
            denylist,
            rate_limits,
            changes,
            used_assertions,
            email_tokens,
            invitations,
        })
    }
}

impl Db<'_> {
    pub(crate) async fn first_use(&mut self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        // Inserted, or an expired record replaced: a row comes back. A live
        // record makes the upsert's WHERE false: no row.
        let row = sqlx::query(
            "INSERT INTO used_assertions (key_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (key_hash) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_assertions.expires_at <= $3 RETURNING key_hash",
        )
        .bind(latchkey_core::secret::hash_token(key))
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(row.is_some())
    }
}

impl Db<'_> {
    pub(crate) async fn hit(&mut self, bucket: &str, window_seconds: u32, now: i64) -> StoreResult<u64> {
        let start = window_start(now, window_seconds);
        let row = sqlx::query(
            "INSERT INTO rate_limits (bucket, window_start, hits, expires_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
        )
        .bind(bucket)
        .bind(start)
        .bind(start + i64::from(window_seconds))
        .fetch_one(&mut *self.0)
        .await
        .map_err(map_err)?;
        let hits: i64 = row.try_get("hits").map_err(map_err)?;
        Ok(hits.max(0) as u64)
    }
}

fn decode_failures(row: &sqlx::any::AnyRow) -> StoreResult<Failures> {
    let count: i64 = row.try_get("failures").map_err(map_err)?;
    Ok(Failures {
        count: count.max(0) as u64,
        locked_until: row.try_get("locked_until").map_err(map_err)?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
    })
}

impl Db<'_> {
    pub(crate) async fn get_failures(&mut self, key: &str, now: i64) -> StoreResult<Option<Failures>> {
        let row = sqlx::query(
            "SELECT failures, locked_until, expires_at FROM login_failures WHERE bucket = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(decode_failures).transpose()
    }

    pub(crate) async fn add_failure(&mut self, key: &str, now: i64, window_seconds: u32) -> StoreResult<Failures> {
        // One upsert counts and, for a count that has ended, starts over; the
        // SET expressions all read the row as it was.
        let row = sqlx::query(
            "INSERT INTO login_failures (bucket, failures, locked_until, expires_at) VALUES ($1, 1, 0, $3) \
             ON CONFLICT (bucket) DO UPDATE SET \
             failures = CASE WHEN login_failures.expires_at > $2 THEN login_failures.failures + 1 ELSE 1 END, \
             locked_until = CASE WHEN login_failures.expires_at > $2 THEN login_failures.locked_until ELSE 0 END, \
             expires_at = CASE WHEN login_failures.expires_at > $2 THEN login_failures.expires_at ELSE $3 END \
             RETURNING failures, locked_until, expires_at",
        )
        .bind(key)
        .bind(now)
        .bind(now + i64::from(window_seconds))
        .fetch_one(&mut *self.0)
        .await
        .map_err(map_err)?;
        decode_failures(&row)
    }

    pub(crate) async fn lock_failures(&mut self, key: &str, until: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE login_failures SET \
             locked_until = CASE WHEN locked_until < $2 THEN $2 ELSE locked_until END, \
             expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END \
             WHERE bucket = $1",
        )
        .bind(key)
        .bind(until)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn clear_failures(&mut self, key: &str, now: i64) -> StoreResult<Option<Failures>> {
        let row =
            sqlx::query("DELETE FROM login_failures WHERE bucket = $1 RETURNING failures, locked_until, expires_at")
                .bind(key)
                .fetch_optional(&mut *self.0)
                .await
                .map_err(map_err)?;
        Ok(row.as_ref().map(decode_failures).transpose()?.filter(|f| f.expires_at > now))
    }
}
