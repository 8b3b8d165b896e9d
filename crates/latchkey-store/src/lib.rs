//! Storage traits, one per concern, and the conformance suite that every
//! backend runs (feature `conformance`). Endpoint crates depend on these traits
//! only; `latchkey-server` picks the concrete backend.
//!
//! Conventions: look-ups return `Result<Option<T>>`; writes that target one
//! record return whether it existed; times are Unix seconds passed in by the
//! caller (the clock is never read here).

use async_trait::async_trait;
use latchkey_core::grant::{AuthorizationCode, Consent, Interaction, RefreshToken, Session};
use latchkey_core::{Client, Scope, User};

#[cfg(feature = "conformance")]
pub mod conformance;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (duplicate id, username, key state).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend could not be reached; callers answer 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("storage error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// Inserts a new client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// All clients, oldest first.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    /// Replaces settings, secret hash and `updated_at`; false if unknown.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
}

/// User accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a new user; `Conflict` if the id or the username (ignoring case) is taken.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    /// Finds a user by username, ignoring case.
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// All users, oldest first.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replaces everything but `id` and `created_at`; `Conflict` on a username
    /// clash; false if unknown.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    async fn delete_user(&self, id: &str) -> StoreResult<bool>;
}

/// Where a signing key is in its lifecycle: published before it signs, and
/// published after it stops signing until everything it signed has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(Self::Next),
            "active" => Some(Self::Active),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A signing key as stored. `private_key` is opaque here (PKCS#8 PEM, or its
/// encrypted envelope); `public_jwk` is the JSON of the public JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    /// For retired keys: when the key may leave the JWKS.
    pub remove_after: Option<i64>,
}

/// Signing keys shared by every replica.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// All keys, newest first.
    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Inserts a key; `Conflict` if its kid exists or if another key already
    /// holds its state (`next` and `active` are unique).
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// In one transaction: retires the active key (if any) with `remove_after`,
    /// promotes `next_kid` (which must be in state `next`) to active, and
    /// inserts `new_next`. `Conflict` if `next_kid` is not the next key.
    async fn rotate_keys(&self, next_kid: &str, new_next: &StoredKey, now: i64, remove_after: i64) -> StoreResult<()>;
    /// Moves a `next` key to `retired`; false if no such next key.
    async fn retire_next_key(&self, kid: &str, now: i64, remove_after: i64) -> StoreResult<bool>;
    /// Shortens or sets the publication end of a retired key; false if not retired.
    async fn set_key_remove_after(&self, kid: &str, remove_after: i64) -> StoreResult<bool>;
    /// Deletes retired keys whose `remove_after` has passed; returns how many.
    async fn delete_expired_keys(&self, now: i64) -> StoreResult<u64>;
}

/// Readiness of the backend.
#[async_trait]
pub trait Health: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;
}

/// Signed-in browsers.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;
    /// The session if it exists and has not expired at `now`.
    async fn get_session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>>;
    /// Records that `client_id` received a code in this session (idempotent).
    async fn add_session_client(&self, id_hash: &str, client_id: &str) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;
}

/// Remembered consent, one record per (user, client).
#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    async fn get_consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Inserts or replaces the consent's scope (the caller merges).
    async fn put_consent(&self, user_id: &str, client_id: &str, scope: &Scope, now: i64) -> StoreResult<()>;
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool>;
}

/// Pending authorization requests waiting for login or consent.
#[async_trait]
pub trait InteractionStore: Send + Sync + 'static {
    async fn insert_interaction(&self, interaction: &Interaction) -> StoreResult<()>;
    /// The interaction if it exists and has not expired at `now`.
    async fn get_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>>;
    /// Replaces stage and user; false if unknown.
    async fn update_interaction(&self, interaction: &Interaction) -> StoreResult<bool>;
    /// Deletes it; false if it was already gone (so it completes at most once).
    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<bool>;
}

/// What happened when a code was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use by its client: the code is now spent.
    Redeemed(AuthorizationCode),
    /// Spent before: a replay.
    AlreadyUsed(AuthorizationCode),
    /// Issued to another client; left unspent.
    WrongClient,
    /// Unknown or expired.
    NotFound,
}

/// Authorization codes and what is issued from them. Redemption is atomic:
/// of any number of concurrent redemptions, exactly one is `Redeemed`.
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    async fn redeem_code(&self, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption>;
    /// Records the tokens issued for a redeemed code, in one transaction:
    /// the access token's `jti` and expiry, and the refresh token if any.
    /// False (nothing written) if the code was revoked by a replay meanwhile.
    async fn record_issued(
        &self,
        code_hash: &str,
        access_jti: &str,
        access_exp: i64,
        refresh: Option<&RefreshToken>,
    ) -> StoreResult<bool>;
    /// After a replay: revokes everything issued from the code (its refresh
    /// tokens are deleted, its access token's `jti` denied until expiry).
    async fn revoke_code_grant(&self, code_hash: &str) -> StoreResult<()>;
    /// Whether an access token was revoked.
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
}
