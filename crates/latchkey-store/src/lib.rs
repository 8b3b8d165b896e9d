//! Storage traits, one per concern, and the conformance suite that every
//! backend runs (feature `conformance`). Endpoint crates depend on these traits
//! only; `latchkey-server` picks the concrete backend.
//!
//! Conventions: look-ups return `Result<Option<T>>`; writes that target one
//! record return whether it existed; times are Unix seconds passed in by the
//! caller (the clock is never read here).

use async_trait::async_trait;
use latchkey_core::device::{DeviceCode, DevicePoll, DeviceStatus};
use latchkey_core::grant::{
    AuthorizationCode, Consent, Interaction, PushedRequest, RefreshToken, RefreshTokenRecord, Session,
};
use latchkey_core::{Client, Scope, User};

mod admin;
pub use admin::{AdminStore, AdminToken, PageAfter};
pub mod cascade;
mod methods;
pub use methods::is_read;
mod split;
pub use split::{Half, HotStore, Split};

/// What the method list (`store_methods!`) names, for wrappers in other crates.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use latchkey_core::audit::AuditEvent;
    pub use latchkey_core::device::{DeviceCode, DevicePoll, DeviceStatus};
    pub use latchkey_core::grant::{
        AuthorizationCode, Consent, Interaction, PushedRequest, RefreshToken, RefreshTokenRecord, Session,
    };
    pub use latchkey_core::{Client, Scope, User};
}

#[cfg(feature = "conformance")]
pub mod conformance;

/// Records an audit event: a log line (target `audit`) and a row in the audit
/// log. A failed write is logged and counted, not returned: the action it
/// describes has happened, and refusing it now would not undo it.
pub async fn record_audit(log: &dyn AuditStore, event: latchkey_core::audit::AuditEvent) {
    tracing::info!(
        target: "audit",
        kind = %event.kind,
        actor = %event.actor,
        subject = event.subject.as_deref().unwrap_or(""),
        client_id = event.client_id.as_deref().unwrap_or(""),
        ip = event.ip.as_deref().unwrap_or(""),
        details = %event.details,
        "audit event"
    );
    if let Err(e) = log.append_audit(&event).await {
        metrics::counter!("latchkey_audit_write_failures_total").increment(1);
        tracing::error!(error = %e, kind = %event.kind, "audit event not stored");
    }
}

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
    /// Moves `last_seen_at` forward (idle timeout).
    async fn touch_session(&self, id_hash: &str, now: i64) -> StoreResult<()>;
    /// Deletes a session and returns it (with its clients), if it existed.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    /// A user's unexpired sessions, newest first.
    async fn list_user_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<Session>>;
    /// The session with public id `sid`, if unexpired.
    async fn find_session_by_sid(&self, sid: &str, now: i64) -> StoreResult<Option<Session>>;
}

/// Remembered consent, one record per (user, client).
#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    async fn get_consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Inserts or replaces the consent's scope (the caller merges).
    async fn put_consent(&self, user_id: &str, client_id: &str, scope: &Scope, now: i64) -> StoreResult<()>;
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool>;
    /// A user's consents, most recently updated first.
    async fn list_user_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
    /// The consents given to a client, most recently updated first, at most
    /// `limit` (the admin console's view of a client's grants).
    async fn list_client_consents(&self, client_id: &str, limit: u32) -> StoreResult<Vec<Consent>>;
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

/// A code as stored, looked up without spending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeLookup {
    /// Unspent and unexpired.
    Redeemable(AuthorizationCode),
    /// Spent before (known for a while after it expires, so that a late
    /// replay is still recognised).
    Spent(AuthorizationCode),
    /// Unknown, or expired unspent.
    NotFound,
}

/// An access token, by its id and expiry: what a revocation denies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub jti: String,
    pub expires_at: i64,
}

impl IssuedToken {
    pub fn new(jti: impl Into<String>, expires_at: i64) -> Self {
        Self { jti: jti.into(), expires_at }
    }
}

/// A code marked revoked: its grant (the refresh-token family it started)
/// and the access token issued from it, if one was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCode {
    pub grant_id: String,
    pub access_token: Option<IssuedToken>,
}

/// Authorization codes. Redemption is atomic: of any number of concurrent
/// redemptions, exactly one is `Redeemed`.
///
/// The token endpoint looks a code up first and checks what the client can
/// correct (its `redirect_uri`, its PKCE verifier) against it: a request that
/// fails those checks leaves the code unspent. The fields checked never
/// change, so the look-up and the redemption need no transaction together.
///
/// What happens to the tokens issued from a code when it is replayed is
/// written once, over these operations, in [`cascade`].
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// The code, whatever client asks, without spending it.
    async fn find_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeLookup>;
    async fn redeem_code(&self, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption>;
    /// Records the access token issued from a redeemed code (and keeps the
    /// code at least as long as the token lives). False, writing nothing,
    /// if the code was revoked meanwhile (a replay) or is gone.
    async fn record_code_access(&self, code_hash: &str, access_jti: &str, access_exp: i64) -> StoreResult<bool>;
    /// Whether the code was revoked (false for an unknown one).
    async fn is_code_revoked(&self, code_hash: &str) -> StoreResult<bool>;
    /// Marks the code revoked, so that nothing more is recorded for it;
    /// returns its grant and its access token, or None if it is unknown.
    async fn revoke_code(&self, code_hash: &str) -> StoreResult<Option<RevokedCode>>;
    /// Marks revoked every code `client_id` received for `user_id` whose
    /// access token may still be live at `now` (or is not recorded yet), and
    /// returns them.
    async fn revoke_client_codes(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<Vec<RevokedCode>>;
}

/// Device authorization requests (RFC 8628), pending until the person
/// decides at `/device`. What a person approves is stored as an
/// [`AuthorizationCode`] (with `device` set) keyed by the device code's
/// hash, so it is redeemed once, and revoked on replay, like any code.
#[async_trait]
pub trait DeviceCodeStore: Send + Sync + 'static {
    /// Inserts a request; `Conflict` if its user code is in use (kept until
    /// an hour after it expired), so that the caller draws another.
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()>;
    /// The pending, unexpired request with this user code.
    async fn find_user_code(&self, user_code_hash: &str, now: i64) -> StoreResult<Option<DeviceCode>>;
    /// Approves or denies a pending, unexpired request; false (writing
    /// nothing) if it was decided before, or is gone or expired.
    async fn decide_device_code(&self, device_code_hash: &str, status: DeviceStatus, now: i64) -> StoreResult<bool>;
    /// A poll by `client_id`, in one atomic step: remembers when it came,
    /// and answers `SlowDown` (the interval 5 s longer from now on) if it
    /// came sooner than the interval after the previous one.
    async fn poll_device_code(&self, device_code_hash: &str, client_id: &str, now: i64) -> StoreResult<DevicePoll>;
}

/// Pushed authorization requests (RFC 9126): stored at `/par`, taken once
/// at `/authorize`.
#[async_trait]
pub trait PushedRequestStore: Send + Sync + 'static {
    /// Stores a request; `Conflict` if its hash is taken (never, for random
    /// `request_uri`s).
    async fn insert_pushed_request(&self, request: &PushedRequest) -> StoreResult<()>;
    /// Takes the unexpired request `client_id` pushed under `uri_hash`, in
    /// one atomic step, so that it is used at most once across replicas.
    /// `None` if it is unknown, expired, taken before, or another client's
    /// (which leaves it in place).
    async fn take_pushed_request(
        &self,
        uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<PushedRequest>>;
}

/// What a rotation writes: the successor, its sealed copy for the grace
/// window, and the access token issued with it.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    pub successor: &'a RefreshToken,
    pub successor_sealed: &'a str,
    pub access_jti: &'a str,
    pub access_exp: i64,
}

/// What revoking a family's refresh tokens found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedFamily {
    /// Refresh tokens that were live (unconsumed, unrevoked) until now.
    pub live: u64,
    /// The access tokens issued in the family (with its first token, its
    /// rotations, and within the grace window) that are unexpired at `now`.
    pub access_tokens: Vec<IssuedToken>,
}

/// Refresh tokens, rotated on every use. Revoking a family (its refresh
/// tokens and its access tokens) is written once, over these operations
/// and the denylist, in [`cascade`].
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + 'static {
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Inserts the first refresh token of a family, with the access token
    /// issued alongside it.
    async fn insert_refresh_token(&self, token: &RefreshToken, access_jti: &str, access_exp: i64) -> StoreResult<()>;
    /// In one transaction: marks `old_hash` consumed (only if it belongs to
    /// `client_id`, is unconsumed, unrevoked and unexpired), remembers the
    /// sealed successor, and inserts the successor with the access token
    /// issued alongside. Returns false, writing nothing, if another use won.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        client_id: &str,
        now: i64,
        rotation: Rotation<'_>,
    ) -> StoreResult<bool>;
    /// Records an access token issued with an unchanged refresh token (grace window).
    async fn add_family_access_token(&self, token_hash: &str, access_jti: &str, access_exp: i64) -> StoreResult<()>;
    /// In one step: marks every refresh token of the family revoked at `now`;
    /// returns how many were live and the family's access tokens unexpired
    /// at `now` (for the caller to deny).
    async fn revoke_refresh_tokens(&self, grant_id: &str, now: i64) -> StoreResult<RevokedFamily>;
    /// The families with a live refresh token issued in session `sid` (all,
    /// or only those not issued for offline access).
    async fn list_session_families(&self, sid: &str, include_offline: bool) -> StoreResult<Vec<String>>;
    /// The families `client_id` holds for `user_id` that are not revoked.
    async fn list_client_families(&self, user_id: &str, client_id: &str) -> StoreResult<Vec<String>>;
}

/// Access tokens revoked before they expire (consulted by UserInfo and introspection).
#[async_trait]
pub trait DenylistStore: Send + Sync + 'static {
    async fn deny_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// Denies several at once (a revoked family's, a session's).
    async fn deny_access_tokens(&self, tokens: &[IssuedToken]) -> StoreResult<()>;
    async fn is_access_token_denied(&self, jti: &str) -> StoreResult<bool>;
}

/// Fixed-window counters behind rate limits, shared by every replica.
#[async_trait]
pub trait RateLimitStore: Send + Sync + 'static {
    /// Counts one hit on `bucket` in the window of `window_seconds` that
    /// contains `now`, and returns the hits in that window so far (this one
    /// included). Windows expire on their own.
    async fn hit(&self, bucket: &str, window_seconds: u32, now: i64) -> StoreResult<u64>;
}

/// Failed sign-ins counted under one key (an account, a source address),
/// and the lock they led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failures since the count started.
    pub count: u64,
    /// Refused until then (Unix seconds; 0 when never locked).
    pub locked_until: i64,
    /// When the count ends: its first failure plus the window, or the end
    /// of its lock if that is later.
    pub expires_at: i64,
}

impl Failures {
    pub fn locked_at(&self, now: i64) -> bool {
        self.locked_until > now
    }
}

/// Failed sign-ins per account and per source address, and their locks,
/// shared by every replica (docs/operations.md, "Sign-in limits").
#[async_trait]
pub trait FailureStore: Send + Sync + 'static {
    /// The count under `key`, unless it has ended at `now`.
    async fn get_failures(&self, key: &str, now: i64) -> StoreResult<Option<Failures>>;
    /// Counts one failure at `now` and returns the count after it, in one
    /// atomic step. A missing or ended count starts over: one failure, no
    /// lock, ending `window_seconds` from now.
    async fn add_failure(&self, key: &str, now: i64, window_seconds: u32) -> StoreResult<Failures>;
    /// Locks `key` until `until`, unless it is locked longer already; the
    /// count then lasts at least until the lock ends. Nothing happens
    /// without a count.
    async fn lock_failures(&self, key: &str, until: i64) -> StoreResult<()>;
    /// Forgets `key` (a correct password, an operator's unlock) and returns
    /// what it held, if that had not ended at `now`.
    async fn clear_failures(&self, key: &str, now: i64) -> StoreResult<Option<Failures>>;
}

/// One-time use of values that arrive from outside (the `jti` of a client
/// assertion), across every replica.
#[async_trait]
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` until `expires_at`; returns true the first time, false
    /// while an earlier record is unexpired at `now`.
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;
}

/// A local account's link to an account at an upstream identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentity {
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    /// The configured upstream's id.
    pub provider: String,
    pub linked_at: i64,
    /// The link was made by just-in-time provisioning (the upstream created
    /// the account), not by a person linking an existing account: decides
    /// whether the upstream's claims are refreshed on later sign-ins.
    pub provisioned: bool,
}

/// Links between local accounts and upstream accounts, keyed by (issuer, subject).
#[async_trait]
pub trait FederatedIdentityStore: Send + Sync + 'static {
    /// Links; `Conflict` if (issuer, subject) is linked already.
    async fn link_identity(&self, identity: &FederatedIdentity) -> StoreResult<()>;
    async fn find_identity(&self, issuer: &str, subject: &str) -> StoreResult<Option<FederatedIdentity>>;
    /// A user's links, oldest first.
    async fn list_user_identities(&self, user_id: &str) -> StoreResult<Vec<FederatedIdentity>>;
    /// Removes a link of `user_id`; false if there was none.
    async fn unlink_identity(&self, user_id: &str, issuer: &str, subject: &str) -> StoreResult<bool>;
}

/// A person's TOTP factor (RFC 6238). One per person: pending from the start
/// of enrollment until confirmed with a valid code, then active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user_id: String,
    /// The secret's stored form, sealed with `keys.encryption_key` when one
    /// is configured (`latchkey_domain::mfa`); the store never reads it.
    pub secret: String,
    pub created_at: i64,
    /// When enrollment was confirmed; `None` while pending (a pending
    /// factor is never asked for at sign-in).
    pub confirmed_at: Option<i64>,
    /// The last time step accepted: only a later one is accepted next, so
    /// each code works once.
    pub last_step: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A person's passkey (a WebAuthn credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub user_id: String,
    /// The person's name for it ("Work laptop").
    pub name: String,
    /// The WebAuthn library's serialized credential (`latchkey_domain::passkeys`);
    /// the store never reads it.
    pub data: String,
    /// The authenticator's signature counter (0 for those that keep none).
    pub sign_count: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony in progress: the challenge's server-side state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// Hash of the id the browser holds.
    pub id_hash: String,
    /// What the ceremony belongs to (a person, a sign-in in progress): the
    /// finishing request must name the same.
    pub binding: String,
    /// The WebAuthn library's serialized state (the challenge).
    pub state: String,
    pub expires_at: i64,
}

/// Second factors: a TOTP secret and recovery codes per person. Durable
/// state (SQL) even with Redis configured: a factor outlives any session,
/// and the used-step check is one conditional `UPDATE` on the person's row,
/// so it holds across replicas without the hot half.
#[async_trait]
pub trait FactorStore: Send + Sync + 'static {
    /// Saves a pending TOTP factor with `secret`, replacing a pending one;
    /// false, writing nothing, when the person has an active factor.
    async fn put_pending_totp(&self, user_id: &str, secret: &str, now: i64) -> StoreResult<bool>;
    async fn get_totp(&self, user_id: &str) -> StoreResult<Option<TotpFactor>>;
    /// Activates the pending factor if its secret is still `secret` (no
    /// enrollment restarted meanwhile), recording `step` as used; false
    /// otherwise.
    async fn confirm_totp(&self, user_id: &str, secret: &str, step: i64, now: i64) -> StoreResult<bool>;
    /// Records `step` as used by the active factor if it is later than the
    /// last one: true for one caller only, however many race.
    async fn use_totp_step(&self, user_id: &str, step: i64, now: i64) -> StoreResult<bool>;
    /// Removes the TOTP factor, pending or active; false if there was none.
    async fn delete_totp(&self, user_id: &str) -> StoreResult<bool>;
    /// Replaces all of a person's recovery codes with these hashes, at once.
    async fn replace_recovery_codes(&self, user_id: &str, hashes: &[String], now: i64) -> StoreResult<()>;
    /// Spends a recovery code: true for one caller only.
    async fn use_recovery_code(&self, user_id: &str, hash: &str) -> StoreResult<bool>;
    /// How many unused recovery codes a person has.
    async fn get_recovery_codes_left(&self, user_id: &str) -> StoreResult<u64>;
    /// Removes a person's recovery codes; how many there were.
    async fn delete_recovery_codes(&self, user_id: &str) -> StoreResult<u64>;
    /// Saves a new passkey; `Conflict` if its credential id is registered
    /// already (to anyone).
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()>;
    /// A person's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> StoreResult<Vec<StoredPasskey>>;
    async fn get_passkey(&self, credential_id: &str) -> StoreResult<Option<StoredPasskey>>;
    /// Records a use: the new `data`, counter and time, if the counter rose
    /// (or the authenticator keeps none: 0 stored and 0 given); true for one
    /// caller only when several race with the same counter.
    async fn use_passkey(&self, credential_id: &str, data: &str, sign_count: i64, now: i64) -> StoreResult<bool>;
    /// Removes one of `user_id`'s passkeys; false if they have none by that id.
    async fn delete_passkey(&self, user_id: &str, credential_id: &str) -> StoreResult<bool>;
    /// Removes all of a person's passkeys; how many there were.
    async fn delete_passkeys(&self, user_id: &str) -> StoreResult<u64>;
    async fn put_passkey_ceremony(&self, ceremony: &PasskeyCeremony) -> StoreResult<()>;
    /// Takes (deletes and returns) an unexpired ceremony: once only.
    async fn take_passkey_ceremony(&self, id_hash: &str, now: i64) -> StoreResult<Option<PasskeyCeremony>>;
}

/// An email waiting in the outbox (`latchkey-email` sends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Sending attempts begun so far (a claim counts as one).
    pub attempts: u32,
    /// When it is due; while claimed, when the claim's lease ends.
    pub next_attempt_at: i64,
    /// The claim's token (empty when never claimed): only its holder may
    /// delete or reschedule the row.
    pub lease: String,
    pub last_error: String,
    pub created_at: i64,
}

/// Outgoing email, durable (SQL) even with Redis configured, so that a
/// restart loses nothing. Every replica sends from it; a row is claimed by
/// one conditional `UPDATE`, so two senders never hold it at once.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    async fn enqueue_email(&self, email: &OutboxEmail) -> StoreResult<()>;
    /// Claims the email due longest (due at `now` or before) until
    /// `lease_until`, under the new token `lease`, counting an attempt; `None`
    /// when none is due. Of concurrent claimers, one gets a given row.
    async fn claim_email(&self, lease: &str, now: i64, lease_until: i64) -> StoreResult<Option<OutboxEmail>>;
    /// Removes a sent (or abandoned) email, if `lease` still holds it.
    async fn delete_email(&self, id: &str, lease: &str) -> StoreResult<bool>;
    /// Makes a claimed email due again at `next_attempt_at`, if `lease`
    /// still holds it.
    async fn reschedule_email(&self, id: &str, lease: &str, next_attempt_at: i64, error: &str) -> StoreResult<bool>;
    /// How many emails wait (for `/metrics` and tests).
    async fn count_outbox(&self) -> StoreResult<u64>;
}

/// A link sent by email: its token's hash, what it is for, and whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub token_hash: String,
    /// "verify" or "reset".
    pub purpose: String,
    pub user_id: String,
    /// The address it was sent to (a verification link verifies only that one).
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The links of self-service email, durable (SQL). Single use is one
/// conditional `DELETE`.
#[async_trait]
pub trait EmailTokenStore: Send + Sync + 'static {
    /// Saves a link, replacing the person's earlier link of the same purpose
    /// (which stops working).
    async fn put_email_token(&self, token: &EmailToken) -> StoreResult<()>;
    /// The link if it exists, has this purpose and has not expired; not spent.
    async fn get_email_token(&self, token_hash: &str, purpose: &str, now: i64) -> StoreResult<Option<EmailToken>>;
    /// Spends the link: returned to one caller only, however many race.
    async fn take_email_token(&self, token_hash: &str, purpose: &str, now: i64) -> StoreResult<Option<EmailToken>>;
}

/// An invitation to create an account (docs/self-service.md): its link's
/// token hash, the address it was sent for, and the groups the account gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub token_hash: String,
    pub email: String,
    pub groups: Vec<String>,
    /// Who made it ("cli", "admin:<token id>").
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The language the operator chose (a shipped tag such as "de"), or ""
    /// for none: the invitation's email, its page and the new account's
    /// `locale` follow it.
    pub locale: String,
}

/// Invitations and the accounts of open sign-up that wait for a verified
/// address; durable (SQL). Accepting an invitation is one conditional `DELETE`.
#[async_trait]
pub trait SignupStore: Send + Sync + 'static {
    async fn insert_invitation(&self, invitation: &Invitation) -> StoreResult<()>;
    /// The invitation if its link is good (not expired, not spent).
    async fn get_invitation(&self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>>;
    /// Spends the invitation: returned to one caller only, however many race.
    async fn take_invitation(&self, token_hash: &str, now: i64) -> StoreResult<Option<Invitation>>;
    /// Every invitation not yet accepted or revoked (expired ones too), oldest first.
    async fn list_invitations(&self) -> StoreResult<Vec<Invitation>>;
    /// Revokes (deletes) invitation `id`; false if there is none.
    async fn delete_invitation(&self, id: &str) -> StoreResult<bool>;
    /// Marks an account of open sign-up as waiting for its address.
    async fn mark_unverified_signup(&self, user_id: &str, now: i64) -> StoreResult<()>;
    /// Whether the account is so marked.
    async fn is_unverified_signup(&self, user_id: &str) -> StoreResult<bool>;
    /// Removes the mark (the address was verified); false if there was none.
    async fn clear_unverified_signup(&self, user_id: &str) -> StoreResult<bool>;
}

/// Which audit events to list: after an id (a cursor), at most `limit`,
/// optionally of one kind, by one actor, about one subject or client, in a
/// time range; oldest first unless `newest_first` (then `before` is the
/// cursor: ids below it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub after: i64,
    pub limit: u32,
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    /// Events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Events before this time (Unix seconds).
    pub until: Option<i64>,
    /// Newest first, from the id below `before` (or the newest).
    pub newest_first: bool,
    pub before: Option<i64>,
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an event; returns its id (ids rise by one, in commit order).
    async fn append_audit(&self, event: &latchkey_core::audit::AuditEvent) -> StoreResult<i64>;
    /// Events matching `query`, oldest first.
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<(i64, latchkey_core::audit::AuditEvent)>>;
    /// Deletes events older than `before`, looking at the `limit` oldest
    /// only (a bounded batch); the newest event always stays, so that ids
    /// never start over. Returns how many were deleted.
    async fn delete_audit_before(&self, before: i64, limit: u32) -> StoreResult<u64>;
}

/// The start of the fixed window of `window_seconds` that contains `now`.
pub fn window_start(now: i64, window_seconds: u32) -> i64 {
    let w = i64::from(window_seconds.max(1));
    now.div_euclid(w) * w
}

/// What changed, for servers that cache it in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A client was updated or deleted; the subject is its id.
    Client,
    /// A user was updated or deleted; the subject is its id.
    User,
    /// One access token was denied; the subject is its `jti`.
    AccessToken,
    /// Access tokens whose ids the writer does not know were denied (a
    /// refresh-token family or a session was revoked); the subject is empty.
    AccessTokens,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::User => "user",
            Self::AccessToken => "access_token",
            Self::AccessTokens => "access_tokens",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "client" => Self::Client,
            "user" => Self::User,
            "access_token" => Self::AccessToken,
            "access_tokens" => Self::AccessTokens,
            _ => return None,
        })
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub subject: String,
}

/// The change feed: how a write made by one process (the CLI, another
/// replica) reaches the in-memory caches of every server.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Appends a change; returns its sequence number.
    async fn record_change(&self, kind: ChangeKind, subject: &str, now: i64) -> StoreResult<i64>;
    /// Changes with a sequence number above `after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>>;
    /// The highest sequence number so far (0 for an empty feed).
    async fn latest_change(&self) -> StoreResult<i64>;
}

/// How many expired records one clean-up pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub codes: u64,
    pub interactions: u64,
    pub sessions: u64,
    pub refresh_tokens: u64,
    pub denylist: u64,
    pub rate_limits: u64,
    /// Change-feed entries older than an hour.
    pub changes: u64,
    /// Expired one-time-use records (client assertions).
    pub used_assertions: u64,
    /// Expired email links.
    pub email_tokens: u64,
    /// Invitations expired more than [`EXPIRED_INVITATIONS_KEPT_SECONDS`] ago.
    pub invitations: u64,
}

/// How long an expired invitation stays listed (as expired, so that an
/// operator sees what lapsed) before the clean-up deletes it: 30 days.
pub const EXPIRED_INVITATIONS_KEPT_SECONDS: i64 = 30 * 86_400;

impl Purged {
    pub fn total(&self) -> u64 {
        self.codes
            + self.interactions
            + self.sessions
            + self.refresh_tokens
            + self.denylist
            + self.rate_limits
            + self.changes
            + self.used_assertions
            + self.email_tokens
            + self.invitations
    }
}

/// Garbage collection of expiring records, in bounded batches.
#[async_trait]
pub trait Maintenance: Send + Sync + 'static {
    /// Deletes at most `batch` expired records of each kind.
    async fn purge_expired(&self, now: i64, batch: u32) -> StoreResult<Purged>;
}

/// Every operation on stored records: what a [`Store`] offers, and what a
/// [`Transaction`] offers inside a unit of work.
pub trait Operations:
    ClientStore
    + UserStore
    + KeyStore
    + SessionStore
    + ConsentStore
    + InteractionStore
    + CodeStore
    + DeviceCodeStore
    + PushedRequestStore
    + RefreshTokenStore
    + DenylistStore
    + RateLimitStore
    + FailureStore
    + ReplayStore
    + ChangeFeed
    + AuditStore
    + AdminStore
    + FederatedIdentityStore
    + FactorStore
    + OutboxStore
    + EmailTokenStore
    + SignupStore
{
}

impl<T> Operations for T where
    T: ClientStore
        + UserStore
        + KeyStore
        + SessionStore
        + ConsentStore
        + InteractionStore
        + CodeStore
        + DeviceCodeStore
        + PushedRequestStore
        + RefreshTokenStore
        + DenylistStore
        + RateLimitStore
        + FailureStore
        + ReplayStore
        + ChangeFeed
        + AuditStore
        + AdminStore
        + FederatedIdentityStore
        + FactorStore
        + OutboxStore
        + EmailTokenStore
        + SignupStore
{
}

/// A unit of work: operations that write more than once, made visible
/// together at `commit` or not at all. Dropping it without committing
/// rolls it back.
///
/// It covers the durable state (the SQL database). Where hot state lives
/// apart (Redis, see [`Split`]), its operations take effect at once, each
/// atomic on its own (Lua scripts), and are not undone by a rollback: a
/// cascade orders its steps so that a failure leaves nothing a client
/// could use.
#[async_trait]
pub trait Transaction: Operations {
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    async fn rollback(self: Box<Self>) -> StoreResult<()>;
}

/// Starts units of work.
#[async_trait]
pub trait UnitOfWork: Send + Sync + 'static {
    /// Starts a unit of work that may read before it writes (read a
    /// consent, then write it back grown). On SQLite it takes the write lock
    /// at once, so that what it read cannot change before it writes.
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>>;
    /// Starts a unit of work whose first operation writes (revoke a code,
    /// then its family). Its first write takes the lock, waiting its turn,
    /// so SQLite needs no lock up front; taking it anyway costs the code
    /// flow about 7% of its rate (docs/performance.md). A unit of work
    /// begun this way that reads first may fail at its first write when
    /// another committed meanwhile: use [`begin`](Self::begin) for those.
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>>;
}

/// Everything a server needs, from one backend: the SQL store alone, or
/// Redis for hot state over it ([`Split`]). Endpoints still receive only the
/// traits they use (`Arc<dyn Store>` upcasts to any of them).
pub trait Store: Operations + UnitOfWork + Maintenance + Health {}

impl<T> Store for T where T: Operations + UnitOfWork + Maintenance + Health {}
