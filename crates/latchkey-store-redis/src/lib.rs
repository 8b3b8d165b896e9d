//! The hot state of a scaled-out deployment in Redis: sessions, pending
//! interactions, authorization codes, the access-token denylist, rate-limit
//! counters, failed sign-ins and one-time use. `latchkey_store::Split` puts
//! it beside the SQL store, which keeps the durable state (clients, users,
//! consents, keys, refresh tokens). Every replica shares both, so any
//! replica can serve any request.
//!
//! Every key is written with a TTL (the record's own expiry, plus a replay
//! window for codes), so Redis never needs garbage collection. Single use and
//! other check-then-write steps run as Lua scripts, which Redis executes
//! atomically. Multi-key scripts build their keys from one prefix, so this
//! store expects a single Redis primary (with replicas or Sentinel), not
//! Redis Cluster.

mod backends;
mod connection;
mod scripts;

pub use backends::{Backends, backends_of};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::Clock;
use latchkey_core::device::{DeviceCode, DevicePoll, DeviceStatus};
use latchkey_core::grant::{Authentication, AuthorizationCode, Interaction, InteractionStage, PushedRequest, Session};
use latchkey_store::{
    CodeLookup, CodeStore, DenylistStore, DeviceCodeStore, FailureStore, Failures, Health, InteractionStore,
    IssuedToken, PushedRequestStore, RateLimitStore, Redemption, ReplayStore, RevokedCode, SessionStore, StoreError,
    StoreResult, window_start,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError};

use crate::connection::RetryingConnection;

/// How long a spent code stays known after it expires, so that a late replay
/// is still recognised and revokes what the code produced.
pub const CODE_REPLAY_WINDOW_SECONDS: i64 = 3_600;
/// How long a code stays in its (user, client) index: longer than any
/// access token issued from it can live (codes live minutes, access tokens at
/// most a day).
const GRANT_INDEX_SECONDS: i64 = 2 * 86_400;

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    /// Prepended to every key, so that several deployments can share a server.
    pub key_prefix: String,
    /// Bound on connecting and on each command; an unreachable Redis turns into
    /// `StoreError::Unavailable` (503) after this, never a hang.
    pub timeout: Duration,
}

/// Why Redis could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid redis_url: {0}")]
    InvalidUrl(String),
    #[error("cannot reach Redis: {0}")]
    Unreachable(String),
}

/// The hot state in Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    /// Only used to turn absolute expiry times into TTLs.
    clock: Arc<dyn Clock>,
}

fn map_err(e: RedisError) -> StoreError {
    // A Redis that is loading its data after a restart, or a replica that
    // lost its primary, is as unavailable as one that does not answer.
    let transient = matches!(
        e.kind(),
        redis::ErrorKind::Io
            | redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::ReadOnly
            )
    );
    let (error, kind) =
        if transient || e.is_io_error() || e.is_timeout() || e.is_connection_refusal() || e.is_connection_dropped() {
            (StoreError::Unavailable(format!("redis: {e}")), "unavailable")
        } else {
            (StoreError::Backend(format!("redis: {e}")), "backend")
        };
    metrics::counter!("latchkey_store_errors_total", "backend" => "redis", "kind" => kind).increment(1);
    error
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn int(what: &str, v: Option<String>) -> StoreResult<i64> {
    v.as_deref().and_then(|s| s.parse().ok()).ok_or_else(|| corrupt(what, "missing or not a number"))
}

impl RedisStore {
    /// Connects (and checks the server answers) within `settings.timeout`.
    /// Later, a lost connection is re-established by the command that finds
    /// it lost, which is then retried once on the new one (`connection.rs`).
    pub async fn connect(settings: &RedisSettings, clock: Arc<dyn Clock>) -> Result<Self, ConnectError> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            // Reconnect attempts per failed command: few and short, so that a
            // request during an outage fails fast instead of queueing.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let store = Self { conn, prefix: settings.key_prefix.as_str().into(), clock };
        store.ping_redis().await.map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        Ok(store)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// The sorted set of codes `client_id` received for `user_id`
    /// (length-prefixed, so no pair of ids can collide).
    fn grant_index(&self, user_id: &str, client_id: &str) -> String {
        self.key("grants", &format!("{}:{user_id}:{client_id}", user_id.len()))
    }

    fn conn(&self) -> RetryingConnection {
        RetryingConnection(self.conn.clone())
    }

    /// Seconds until `expires_at`, at least one (a key must never be
    /// written without a TTL, nor with a zero one, which Redis refuses).
    fn ttl(&self, expires_at: i64) -> i64 {
        (expires_at - self.clock.now()).max(1)
    }

    /// `PING`.
    pub async fn ping_redis(&self) -> StoreResult<()> {
        let pong: String = redis::cmd("PING").query_async(&mut self.conn()).await.map_err(map_err)?;
        if pong == "PONG" { Ok(()) } else { Err(StoreError::Backend(format!("unexpected PING answer {pong:?}"))) }
    }

    /// Marks a code revoked (the script) and returns its grant and access token.
    async fn revoke_code_key(&self, code_hash: &str) -> StoreResult<Option<RevokedCode>> {
        let found: Option<(String, Option<String>, Option<String>)> = scripts::REVOKE_CODE
            .key(self.key("code", code_hash))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let Some((grant_id, jti, exp)) = found else {
            return Ok(None);
        };
        let access_token = match (jti, exp) {
            (Some(jti), Some(exp)) => Some(IssuedToken::new(jti, int("code access_exp", Some(exp))?)),
            _ => None,
        };
        Ok(Some(RevokedCode { grant_id, access_token }))
    }

    async fn load_session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let (fields, clients): (Vec<Option<String>>, Vec<String>) = redis::pipe()
            .cmd("HMGET")
            .arg(self.key("session", id_hash))
            .arg(&["auth", "created_at", "expires_at", "last_seen_at"])
            .cmd("SMEMBERS")
            .arg(self.key("session-clients", id_hash))
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let mut fields = fields.into_iter();
        let Some(auth) = fields.next().flatten() else {
            return Ok(None);
        };
        decode_session(id_hash, auth, fields.collect(), clients).map(Some)
    }
}

fn decode_session(
    id_hash: &str,
    auth: String,
    times: Vec<Option<String>>,
    mut clients: Vec<String>,
) -> StoreResult<Session> {
    let auth: Authentication = serde_json::from_str(&auth).map_err(|e| corrupt("session", e))?;
    let mut times = times.into_iter();
    clients.sort();
    Ok(Session {
        id_hash: id_hash.to_string(),
        auth,
        created_at: int("session created_at", times.next().flatten())?,
        expires_at: int("session expires_at", times.next().flatten())?,
        last_seen_at: int("session last_seen_at", times.next().flatten())?,
        client_ids: clients,
    })
}

#[async_trait]
impl Health for RedisStore {
    async fn ping(&self) -> StoreResult<()> {
        self.ping_redis().await
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn insert_session(&self, s: &Session) -> StoreResult<()> {
        let auth = serde_json::to_string(&s.auth).expect("auth serializes");
        scripts::INSERT_SESSION
            .key(self.key("session", &s.id_hash))
            .key(self.key("sid", &s.auth.sid))
            .key(self.key("user-sessions", &s.auth.user_id))
            .arg(auth)
            .arg(s.created_at)
            .arg(s.expires_at)
            .arg(s.last_seen_at)
            .arg(self.ttl(s.expires_at))
            .arg(&s.id_hash)
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(map_err)
    }

    async fn get_session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
        Ok(self.load_session(id_hash).await?.filter(|s| s.expires_at > now))
    }

    async fn add_session_client(&self, id_hash: &str, client_id: &str) -> StoreResult<()> {
        scripts::ADD_SESSION_CLIENT
            .key(self.key("session", id_hash))
            .key(self.key("session-clients", id_hash))
            .arg(client_id)
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(map_err)
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> StoreResult<()> {
        scripts::TOUCH_SESSION
            .key(self.key("session", id_hash))
            .arg(now)
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(map_err)
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        let found: Option<(Vec<Option<String>>, Vec<String>)> = scripts::DELETE_SESSION
            .key(self.key("session", id_hash))
            .key(self.key("session-clients", id_hash))
            .arg(&*self.prefix)
            .arg(id_hash)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let Some((fields, clients)) = found else {
            return Ok(None);
        };
        let mut fields = fields.into_iter();
        let auth = fields.next().flatten().ok_or_else(|| corrupt("session", "no auth"))?;
        decode_session(id_hash, auth, fields.collect(), clients).map(Some)
    }

    async fn list_user_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<Session>> {
        let index = self.key("user-sessions", user_id);
        let ids: Vec<String> = self.conn().zrange(&index, 0, -1).await.map_err(map_err)?;
        let mut sessions = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for id in ids {
            match self.load_session(&id).await? {
                Some(s) if s.expires_at > now => sessions.push(s),
                Some(_) => {}
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            // Sessions that expired or ended leave their index entry behind.
            let _: () = self.conn().zrem(&index, gone).await.map_err(map_err)?;
        }
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id_hash.cmp(&b.id_hash)));
        Ok(sessions)
    }

    async fn find_session_by_sid(&self, sid: &str, now: i64) -> StoreResult<Option<Session>> {
        let id: Option<String> = self.conn().get(self.key("sid", sid)).await.map_err(map_err)?;
        match id {
            Some(id) => self.get_session(&id, now).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl InteractionStore for RedisStore {
    async fn insert_interaction(&self, i: &Interaction) -> StoreResult<()> {
        let key = self.key("interaction", &i.id_hash);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("csrf", i.csrf.clone()),
                    ("stage", i.stage.as_str().to_string()),
                    ("user_id", i.user_id.clone().unwrap_or_default()),
                    ("request", i.request.clone()),
                    ("created_at", i.created_at.to_string()),
                    ("expires_at", i.expires_at.to_string()),
                ],
            )
            .ignore()
            .expire(&key, self.ttl(i.expires_at))
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await.map_err(map_err)
    }

    async fn get_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("interaction", id_hash))
            .arg(&["csrf", "stage", "user_id", "request", "created_at", "expires_at"])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let mut f = fields.into_iter();
        let Some(csrf) = f.next().flatten() else {
            return Ok(None);
        };
        let stage = f.next().flatten();
        let stage = stage
            .as_deref()
            .and_then(InteractionStage::parse)
            .ok_or_else(|| corrupt("interaction stage", format!("{stage:?}")))?;
        let user_id = f.next().flatten().filter(|u| !u.is_empty());
        let request = f.next().flatten().ok_or_else(|| corrupt("interaction", "no request"))?;
        let created_at = int("interaction created_at", f.next().flatten())?;
        let expires_at = int("interaction expires_at", f.next().flatten())?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(Interaction { id_hash: id_hash.to_string(), csrf, stage, user_id, request, created_at, expires_at }))
    }

    async fn update_interaction(&self, i: &Interaction) -> StoreResult<bool> {
        let updated: i64 = scripts::UPDATE_INTERACTION
            .key(self.key("interaction", &i.id_hash))
            .arg(i.stage.as_str())
            .arg(i.user_id.as_deref().unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(updated == 1)
    }

    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<bool> {
        let deleted: i64 = self.conn().del(self.key("interaction", id_hash)).await.map_err(map_err)?;
        Ok(deleted == 1)
    }
}

fn decode_code(data: &str) -> StoreResult<AuthorizationCode> {
    serde_json::from_str(data).map_err(|e| corrupt("authorization code", e))
}

#[async_trait]
impl CodeStore for RedisStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let key = self.key("code", &code.code_hash);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("client_id", code.client_id.clone()),
                    ("grant_id", code.grant_id.clone()),
                    ("data", serde_json::to_string(code).expect("code serializes")),
                    ("expires_at", code.expires_at.to_string()),
                ],
            )
            .ignore()
            .expire(&key, self.ttl(code.expires_at + CODE_REPLAY_WINDOW_SECONDS))
            .ignore();
        // The codes a client holds for a person, so that revoking the app
        // reaches access tokens issued without a refresh token.
        let index = self.grant_index(&code.auth.user_id, &code.client_id);
        pipe.zadd(&index, &code.code_hash, code.created_at)
            .ignore()
            .zrembyscore(&index, "-inf", code.created_at - GRANT_INDEX_SECONDS)
            .ignore()
            .expire(&index, GRANT_INDEX_SECONDS)
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await.map_err(map_err)
    }

    async fn find_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeLookup> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("code", code_hash))
            .arg(&["data", "expires_at", "consumed_at"])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let mut f = fields.into_iter();
        let Some(data) = f.next().flatten() else {
            return Ok(CodeLookup::NotFound);
        };
        let expires_at = int("code expires_at", f.next().flatten())?;
        Ok(if f.next().flatten().is_some() {
            CodeLookup::Spent(decode_code(&data)?)
        } else if expires_at > now {
            CodeLookup::Redeemable(decode_code(&data)?)
        } else {
            CodeLookup::NotFound
        })
    }

    async fn redeem_code(&self, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption> {
        // The script checks client, use and expiry and marks the code spent in
        // one atomic step: of concurrent redemptions exactly one wins.
        let (outcome, data): (String, Option<String>) = scripts::REDEEM_CODE
            .key(self.key("code", code_hash))
            .arg(client_id)
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let data = || data.as_deref().ok_or_else(|| corrupt("authorization code", "no data")).and_then(decode_code);
        Ok(match outcome.as_str() {
            "redeemed" => Redemption::Redeemed(data()?),
            "used" => Redemption::AlreadyUsed(data()?),
            "wrong_client" => Redemption::WrongClient,
            _ => Redemption::NotFound,
        })
    }

    async fn record_code_access(&self, code_hash: &str, access_jti: &str, access_exp: i64) -> StoreResult<bool> {
        let recorded: i64 = scripts::RECORD_ISSUED
            .key(self.key("code", code_hash))
            .arg(access_jti)
            .arg(access_exp)
            .arg(self.ttl(access_exp))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(recorded == 1)
    }

    async fn is_code_revoked(&self, code_hash: &str) -> StoreResult<bool> {
        let revoked: Option<String> =
            self.conn().hget(self.key("code", code_hash), "revoked").await.map_err(map_err)?;
        Ok(revoked.is_some())
    }

    async fn revoke_code(&self, code_hash: &str) -> StoreResult<Option<RevokedCode>> {
        self.revoke_code_key(code_hash).await
    }

    /// The codes of the (user, client) index: every code the client received
    /// for the person in the last two days, longer than any access token
    /// issued from one lives.
    async fn revoke_client_codes(&self, user_id: &str, client_id: &str, _now: i64) -> StoreResult<Vec<RevokedCode>> {
        let index = self.grant_index(user_id, client_id);
        let codes: Vec<String> = self.conn().zrange(&index, 0, -1).await.map_err(map_err)?;
        let mut revoked = Vec::with_capacity(codes.len());
        for code_hash in &codes {
            revoked.extend(self.revoke_code_key(code_hash).await?);
        }
        Ok(revoked)
    }
}

#[async_trait]
impl DenylistStore for RedisStore {
    async fn deny_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.conn().set_ex(self.key("denied", jti), 1, self.ttl(expires_at) as u64).await.map_err(map_err)
    }

    async fn deny_access_tokens(&self, tokens: &[IssuedToken]) -> StoreResult<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for token in tokens {
            pipe.cmd("SET")
                .arg(self.key("denied", &token.jti))
                .arg(1)
                .arg("EX")
                .arg(self.ttl(token.expires_at))
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn()).await.map_err(map_err)
    }

    async fn is_access_token_denied(&self, jti: &str) -> StoreResult<bool> {
        self.conn().exists(self.key("denied", jti)).await.map_err(map_err)
    }
}

#[async_trait]
impl RateLimitStore for RedisStore {
    async fn hit(&self, bucket: &str, window_seconds: u32, now: i64) -> StoreResult<u64> {
        let start = window_start(now, window_seconds);
        let key = self.key("rate", &format!("{bucket}:{start}"));
        let (hits,): (u64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, self.ttl(start + i64::from(window_seconds)))
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(hits)
    }
}

fn failures_of(fields: Vec<Option<String>>) -> StoreResult<Failures> {
    let mut f = fields.into_iter();
    Ok(Failures {
        count: int("failures count", f.next().flatten())?.max(0) as u64,
        locked_until: int("failures locked_until", f.next().flatten())?,
        expires_at: int("failures expires_at", f.next().flatten())?,
    })
}

#[async_trait]
impl FailureStore for RedisStore {
    async fn get_failures(&self, key: &str, now: i64) -> StoreResult<Option<Failures>> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("failures", key))
            .arg(&["count", "locked_until", "expires_at"])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        if fields.first().is_none_or(Option::is_none) {
            return Ok(None);
        }
        Ok(Some(failures_of(fields)?).filter(|f| f.expires_at > now))
    }

    async fn add_failure(&self, key: &str, now: i64, window_seconds: u32) -> StoreResult<Failures> {
        let (count, locked_until, expires_at): (i64, i64, i64) = scripts::ADD_FAILURE
            .key(self.key("failures", key))
            .arg(now)
            .arg(window_seconds)
            .arg(self.clock.now())
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(Failures { count: count.max(0) as u64, locked_until, expires_at })
    }

    async fn lock_failures(&self, key: &str, until: i64) -> StoreResult<()> {
        scripts::LOCK_FAILURES
            .key(self.key("failures", key))
            .arg(until)
            .arg(self.clock.now())
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(map_err)
    }

    async fn clear_failures(&self, key: &str, now: i64) -> StoreResult<Option<Failures>> {
        let fields: Option<Vec<Option<String>>> = scripts::CLEAR_FAILURES
            .key(self.key("failures", key))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        match fields {
            Some(fields) => Ok(Some(failures_of(fields)?).filter(|f| f.expires_at > now)),
            None => Ok(None),
        }
    }
}

/// How long a device request stays known after it expires, so that a late
/// poll is told `expired_token` rather than `invalid_grant`.
const DEVICE_EXPIRED_WINDOW_SECONDS: i64 = 3_600;

#[async_trait]
impl DeviceCodeStore for RedisStore {
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()> {
        let inserted: i64 = scripts::INSERT_DEVICE_CODE
            .key(self.key("device", &code.device_code_hash))
            .key(self.key("user-code", &code.user_code_hash))
            .arg(&code.client_id)
            .arg(serde_json::to_string(code).expect("device code serializes"))
            .arg(code.interval)
            .arg(code.expires_at)
            .arg(self.ttl(code.expires_at + DEVICE_EXPIRED_WINDOW_SECONDS))
            .arg(&code.device_code_hash)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        if inserted == 0 {
            return Err(StoreError::Conflict("user code in use".into()));
        }
        Ok(())
    }

    async fn find_user_code(&self, user_code_hash: &str, now: i64) -> StoreResult<Option<DeviceCode>> {
        let device: Option<String> = self.conn().get(self.key("user-code", user_code_hash)).await.map_err(map_err)?;
        let Some(device) = device else {
            return Ok(None);
        };
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("device", &device))
            .arg(&["data", "status", "expires_at"])
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let mut f = fields.into_iter();
        let (Some(data), Some(status)) = (f.next().flatten(), f.next().flatten()) else {
            return Ok(None);
        };
        let expires_at = int("device expires_at", f.next().flatten())?;
        if status != DeviceStatus::Pending.as_str() || expires_at <= now {
            return Ok(None);
        }
        serde_json::from_str(&data).map(Some).map_err(|e| corrupt("device code", e))
    }

    async fn decide_device_code(&self, device_code_hash: &str, status: DeviceStatus, now: i64) -> StoreResult<bool> {
        let decided: i64 = scripts::DECIDE_DEVICE_CODE
            .key(self.key("device", device_code_hash))
            .arg(status.as_str())
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(decided == 1)
    }

    async fn poll_device_code(&self, device_code_hash: &str, client_id: &str, now: i64) -> StoreResult<DevicePoll> {
        let polled: Option<(String, i64, i64, i64)> = scripts::POLL_DEVICE_CODE
            .key(self.key("device", device_code_hash))
            .arg(client_id)
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let Some((status, interval, slowed, expires_at)) = polled else {
            return Ok(DevicePoll::NotFound);
        };
        Ok(if expires_at <= now {
            DevicePoll::Expired
        } else if slowed == 1 {
            DevicePoll::SlowDown(interval)
        } else {
            DevicePoll::Polled(DeviceStatus::parse(&status).ok_or_else(|| corrupt("device status", status))?)
        })
    }
}

#[async_trait]
impl PushedRequestStore for RedisStore {
    async fn insert_pushed_request(&self, r: &PushedRequest) -> StoreResult<()> {
        let key = self.key("pushed", &r.uri_hash);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("client_id", r.client_id.clone()),
                    ("params", r.params.clone()),
                    ("created_at", r.created_at.to_string()),
                    ("expires_at", r.expires_at.to_string()),
                ],
            )
            .ignore()
            .expire(&key, self.ttl(r.expires_at))
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await.map_err(map_err)
    }

    async fn take_pushed_request(
        &self,
        uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<PushedRequest>> {
        let taken: Option<(String, String, String)> = scripts::TAKE_PUSHED_REQUEST
            .key(self.key("pushed", uri_hash))
            .arg(client_id)
            .arg(now)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let Some((params, created_at, expires_at)) = taken else {
            return Ok(None);
        };
        Ok(Some(PushedRequest {
            uri_hash: uri_hash.to_string(),
            client_id: client_id.to_string(),
            params,
            created_at: int("pushed request created_at", Some(created_at))?,
            expires_at: int("pushed request expires_at", Some(expires_at))?,
        }))
    }
}

#[async_trait]
impl ReplayStore for RedisStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        let first: i64 = scripts::FIRST_USE
            .key(self.key("once", &latchkey_core::secret::hash_token(key)))
            .arg(expires_at)
            .arg(now)
            .arg((expires_at - now).max(1))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(first == 1)
    }
}
