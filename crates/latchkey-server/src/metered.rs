//! Store latency metrics: `Metered` wraps the store and records every
//! operation's duration in `latchkey_store_operation_seconds{op}` (errors are
//! counted by the backends themselves, in `latchkey_store_errors_total`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use latchkey_core::grant::{AuthorizationCode, Consent, Interaction, RefreshToken, RefreshTokenRecord, Session};
use latchkey_core::{Client, Scope, User};
use latchkey_store::{
    ClientStore, CodeStore, ConsentStore, DenylistStore, Health, InteractionStore, KeyStore, Maintenance, Purged,
    RateLimitStore, Redemption, RefreshTokenStore, Rotation, SessionStore, Store, StoreResult, StoredKey, UserStore,
};

/// The store, timed.
pub struct Metered(pub Arc<dyn Store>);

async fn timed<T>(op: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    metrics::histogram!("latchkey_store_operation_seconds", "op" => op).record(started.elapsed().as_secs_f64());
    out
}

/// Implements `$trait` for `Metered` by timing each call to the inner store.
macro_rules! timed_trait {
    // Argument types come as bracketed token trees, not `ty` fragments, so
    // that async_trait sees their `&`s and can name the lifetimes.
    ($trait:ident { $(fn $name:ident($($arg:ident: [$($ty:tt)*]),*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for Metered {
            $(async fn $name(&self, $($arg: $($ty)*),*) -> $ret {
                timed(stringify!($name), self.0.$name($($arg),*)).await
            })*
        }
    };
}

timed_trait!(ClientStore {
    fn insert_client(client: [&Client]) -> StoreResult<()>;
    fn get_client(client_id: [&str]) -> StoreResult<Option<Client>>;
    fn list_clients() -> StoreResult<Vec<Client>>;
    fn update_client(client: [&Client]) -> StoreResult<bool>;
    fn delete_client(client_id: [&str]) -> StoreResult<bool>;
});

timed_trait!(UserStore {
    fn insert_user(user: [&User]) -> StoreResult<()>;
    fn get_user(id: [&str]) -> StoreResult<Option<User>>;
    fn find_user_by_username(username: [&str]) -> StoreResult<Option<User>>;
    fn list_users() -> StoreResult<Vec<User>>;
    fn update_user(user: [&User]) -> StoreResult<bool>;
    fn delete_user(id: [&str]) -> StoreResult<bool>;
});

timed_trait!(KeyStore {
    fn list_keys() -> StoreResult<Vec<StoredKey>>;
    fn insert_key(key: [&StoredKey]) -> StoreResult<()>;
    fn rotate_keys(next_kid: [&str], new_next: [&StoredKey], now: [i64], remove_after: [i64]) -> StoreResult<()>;
    fn retire_next_key(kid: [&str], now: [i64], remove_after: [i64]) -> StoreResult<bool>;
    fn set_key_remove_after(kid: [&str], remove_after: [i64]) -> StoreResult<bool>;
    fn delete_expired_keys(now: [i64]) -> StoreResult<u64>;
});

timed_trait!(Health {
    fn ping() -> StoreResult<()>;
});

timed_trait!(SessionStore {
    fn insert_session(session: [&Session]) -> StoreResult<()>;
    fn get_session(id_hash: [&str], now: [i64]) -> StoreResult<Option<Session>>;
    fn add_session_client(id_hash: [&str], client_id: [&str]) -> StoreResult<()>;
    fn touch_session(id_hash: [&str], now: [i64]) -> StoreResult<()>;
    fn delete_session(id_hash: [&str]) -> StoreResult<Option<Session>>;
    fn list_user_sessions(user_id: [&str], now: [i64]) -> StoreResult<Vec<Session>>;
    fn find_session_by_sid(sid: [&str], now: [i64]) -> StoreResult<Option<Session>>;
});

timed_trait!(ConsentStore {
    fn get_consent(user_id: [&str], client_id: [&str]) -> StoreResult<Option<Consent>>;
    fn put_consent(user_id: [&str], client_id: [&str], scope: [&Scope], now: [i64]) -> StoreResult<()>;
    fn delete_consent(user_id: [&str], client_id: [&str]) -> StoreResult<bool>;
});

timed_trait!(InteractionStore {
    fn insert_interaction(interaction: [&Interaction]) -> StoreResult<()>;
    fn get_interaction(id_hash: [&str], now: [i64]) -> StoreResult<Option<Interaction>>;
    fn update_interaction(interaction: [&Interaction]) -> StoreResult<bool>;
    fn delete_interaction(id_hash: [&str]) -> StoreResult<bool>;
});

timed_trait!(CodeStore {
    fn insert_code(code: [&AuthorizationCode]) -> StoreResult<()>;
    fn redeem_code(code_hash: [&str], client_id: [&str], now: [i64]) -> StoreResult<Redemption>;
    fn record_issued(code_hash: [&str], access_jti: [&str], access_exp: [i64], refresh: [Option<&RefreshToken>]) -> StoreResult<bool>;
    fn revoke_code_grant(code_hash: [&str], now: [i64]) -> StoreResult<()>;
});

timed_trait!(RefreshTokenStore {
    fn get_refresh_token(token_hash: [&str]) -> StoreResult<Option<RefreshTokenRecord>>;
    fn rotate_refresh_token(old_hash: [&str], client_id: [&str], now: [i64], rotation: [Rotation<'_>]) -> StoreResult<bool>;
    fn add_family_access_token(token_hash: [&str], access_jti: [&str], access_exp: [i64]) -> StoreResult<()>;
    fn revoke_refresh_family(grant_id: [&str], now: [i64]) -> StoreResult<u64>;
    fn revoke_session_families(sid: [&str], include_offline: [bool], now: [i64]) -> StoreResult<u64>;
});

timed_trait!(DenylistStore {
    fn deny_access_token(jti: [&str], expires_at: [i64]) -> StoreResult<()>;
    fn is_access_token_denied(jti: [&str]) -> StoreResult<bool>;
});

timed_trait!(RateLimitStore {
    fn hit(bucket: [&str], window_seconds: [u32], now: [i64]) -> StoreResult<u64>;
});

timed_trait!(Maintenance {
    fn purge_expired(now: [i64], batch: [u32]) -> StoreResult<Purged>;
});
