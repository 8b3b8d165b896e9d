//! One list of every store trait's methods, for wrappers that forward calls to
//! an inner store (`Metered` times them, `Cached` forwards what it does not
//! cache, `Guarded` fails fast while a backend is down, `FailingStore`
//! injects faults in tests). `delegate!(Wrapper, field, via, Trait)`
//! implements `Trait` for `Wrapper` as
//! `via(self, "method", self.field.method(args)).await`.

/// Implements one trait from its method list.
macro_rules! delegate_impl {
    // Argument types come as bracketed token trees, not `ty` fragments, so
    // that async_trait sees their `&`s and can name the lifetimes.
    ($ty:ty, $field:tt, $via:path, $trait:ident { $(fn $name:ident($($arg:ident: [$($argty:tt)*]),*) -> $ret:ty;)* }) => {
        #[async_trait::async_trait]
        impl latchkey_store::$trait for $ty {
            $(async fn $name(&self, $($arg: $($argty)*),*) -> $ret {
                $via(self, stringify!($name), self.$field.$name($($arg),*)).await
            })*
        }
    };
}

macro_rules! delegate {
    ($ty:ty, $field:tt, $via:path, ClientStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, ClientStore {
            fn insert_client(client: [&Client]) -> StoreResult<()>;
            fn get_client(client_id: [&str]) -> StoreResult<Option<Client>>;
            fn list_clients() -> StoreResult<Vec<Client>>;
            fn update_client(client: [&Client]) -> StoreResult<bool>;
            fn delete_client(client_id: [&str]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, UserStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, UserStore {
            fn insert_user(user: [&User]) -> StoreResult<()>;
            fn get_user(id: [&str]) -> StoreResult<Option<User>>;
            fn find_user_by_username(username: [&str]) -> StoreResult<Option<User>>;
            fn list_users() -> StoreResult<Vec<User>>;
            fn update_user(user: [&User]) -> StoreResult<bool>;
            fn delete_user(id: [&str]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, KeyStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, KeyStore {
            fn list_keys() -> StoreResult<Vec<StoredKey>>;
            fn insert_key(key: [&StoredKey]) -> StoreResult<()>;
            fn rotate_keys(next_kid: [&str], new_next: [&StoredKey], now: [i64], remove_after: [i64]) -> StoreResult<()>;
            fn retire_next_key(kid: [&str], now: [i64], remove_after: [i64]) -> StoreResult<bool>;
            fn set_key_remove_after(kid: [&str], remove_after: [i64]) -> StoreResult<bool>;
            fn delete_expired_keys(now: [i64]) -> StoreResult<u64>;
        });
    };
    ($ty:ty, $field:tt, $via:path, Health) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, Health {
            fn ping() -> StoreResult<()>;
        });
    };
    ($ty:ty, $field:tt, $via:path, SessionStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, SessionStore {
            fn insert_session(session: [&Session]) -> StoreResult<()>;
            fn get_session(id_hash: [&str], now: [i64]) -> StoreResult<Option<Session>>;
            fn add_session_client(id_hash: [&str], client_id: [&str]) -> StoreResult<()>;
            fn touch_session(id_hash: [&str], now: [i64]) -> StoreResult<()>;
            fn delete_session(id_hash: [&str]) -> StoreResult<Option<Session>>;
            fn list_user_sessions(user_id: [&str], now: [i64]) -> StoreResult<Vec<Session>>;
            fn find_session_by_sid(sid: [&str], now: [i64]) -> StoreResult<Option<Session>>;
        });
    };
    ($ty:ty, $field:tt, $via:path, ConsentStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, ConsentStore {
            fn get_consent(user_id: [&str], client_id: [&str]) -> StoreResult<Option<Consent>>;
            fn put_consent(user_id: [&str], client_id: [&str], scope: [&Scope], now: [i64]) -> StoreResult<()>;
            fn delete_consent(user_id: [&str], client_id: [&str]) -> StoreResult<bool>;
            fn list_user_consents(user_id: [&str]) -> StoreResult<Vec<Consent>>;
        });
    };
    ($ty:ty, $field:tt, $via:path, InteractionStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, InteractionStore {
            fn insert_interaction(interaction: [&Interaction]) -> StoreResult<()>;
            fn get_interaction(id_hash: [&str], now: [i64]) -> StoreResult<Option<Interaction>>;
            fn update_interaction(interaction: [&Interaction]) -> StoreResult<bool>;
            fn delete_interaction(id_hash: [&str]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, CodeStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, CodeStore {
            fn insert_code(code: [&AuthorizationCode]) -> StoreResult<()>;
            fn find_code(code_hash: [&str], now: [i64]) -> StoreResult<latchkey_store::CodeLookup>;
            fn redeem_code(code_hash: [&str], client_id: [&str], now: [i64]) -> StoreResult<Redemption>;
            fn record_issued(code_hash: [&str], access_jti: [&str], access_exp: [i64], refresh: [Option<&RefreshToken>]) -> StoreResult<bool>;
            fn revoke_code_grant(code_hash: [&str], now: [i64]) -> StoreResult<()>;
        });
    };
    ($ty:ty, $field:tt, $via:path, RefreshTokenStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, RefreshTokenStore {
            fn get_refresh_token(token_hash: [&str]) -> StoreResult<Option<RefreshTokenRecord>>;
            fn rotate_refresh_token(old_hash: [&str], client_id: [&str], now: [i64], rotation: [Rotation<'_>]) -> StoreResult<bool>;
            fn add_family_access_token(token_hash: [&str], access_jti: [&str], access_exp: [i64]) -> StoreResult<()>;
            fn revoke_refresh_family(grant_id: [&str], now: [i64]) -> StoreResult<u64>;
            fn revoke_session_families(sid: [&str], include_offline: [bool], now: [i64]) -> StoreResult<u64>;
            fn revoke_client_grants(user_id: [&str], client_id: [&str], now: [i64]) -> StoreResult<u64>;
        });
    };
    ($ty:ty, $field:tt, $via:path, DenylistStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, DenylistStore {
            fn deny_access_token(jti: [&str], expires_at: [i64]) -> StoreResult<()>;
            fn is_access_token_denied(jti: [&str]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, RateLimitStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, RateLimitStore {
            fn hit(bucket: [&str], window_seconds: [u32], now: [i64]) -> StoreResult<u64>;
        });
    };
    ($ty:ty, $field:tt, $via:path, FailureStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, FailureStore {
            fn get_failures(key: [&str], now: [i64]) -> StoreResult<Option<latchkey_store::Failures>>;
            fn add_failure(key: [&str], now: [i64], window_seconds: [u32]) -> StoreResult<latchkey_store::Failures>;
            fn lock_failures(key: [&str], until: [i64]) -> StoreResult<()>;
            fn clear_failures(key: [&str], now: [i64]) -> StoreResult<Option<latchkey_store::Failures>>;
        });
    };
    ($ty:ty, $field:tt, $via:path, AuditStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, AuditStore {
            fn append_audit(event: [&latchkey_core::audit::AuditEvent]) -> StoreResult<i64>;
            fn list_audit(query: [&latchkey_store::AuditQuery]) -> StoreResult<Vec<(i64, latchkey_core::audit::AuditEvent)>>;
            fn delete_audit_before(before: [i64], limit: [u32]) -> StoreResult<u64>;
        });
    };
    ($ty:ty, $field:tt, $via:path, AdminStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, AdminStore {
            fn insert_admin_token(token: [&latchkey_store::AdminToken]) -> StoreResult<()>;
            fn find_admin_token(token_hash: [&str]) -> StoreResult<Option<latchkey_store::AdminToken>>;
            fn list_admin_tokens() -> StoreResult<Vec<latchkey_store::AdminToken>>;
            fn delete_admin_token(id: [&str]) -> StoreResult<bool>;
            fn touch_admin_token(id: [&str], now: [i64]) -> StoreResult<()>;
            fn list_clients_page(after: [latchkey_store::PageAfter<'_>], limit: [u32]) -> StoreResult<Vec<Client>>;
            fn list_users_page(after: [latchkey_store::PageAfter<'_>], limit: [u32]) -> StoreResult<Vec<User>>;
        });
    };
    ($ty:ty, $field:tt, $via:path, ReplayStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, ReplayStore {
            fn first_use(key: [&str], expires_at: [i64], now: [i64]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, ChangeFeed) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, ChangeFeed {
            fn record_change(kind: [ChangeKind], subject: [&str], now: [i64]) -> StoreResult<i64>;
            fn changes_after(after: [i64], limit: [u32]) -> StoreResult<Vec<Change>>;
            fn latest_change() -> StoreResult<i64>;
        });
    };
    ($ty:ty, $field:tt, $via:path, FederatedIdentityStore) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, FederatedIdentityStore {
            fn link_identity(identity: [&latchkey_store::FederatedIdentity]) -> StoreResult<()>;
            fn find_identity(issuer: [&str], subject: [&str]) -> StoreResult<Option<latchkey_store::FederatedIdentity>>;
            fn list_user_identities(user_id: [&str]) -> StoreResult<Vec<latchkey_store::FederatedIdentity>>;
            fn unlink_identity(user_id: [&str], issuer: [&str], subject: [&str]) -> StoreResult<bool>;
        });
    };
    ($ty:ty, $field:tt, $via:path, Maintenance) => {
        $crate::delegate::delegate_impl!($ty, $field, $via, Maintenance {
            fn purge_expired(now: [i64], batch: [u32]) -> StoreResult<Purged>;
        });
    };
}

pub(crate) use {delegate, delegate_impl};

/// Whether a store method (by name) only reads; every other one writes.
pub(crate) fn is_read(op: &str) -> bool {
    op.starts_with("get_")
        || op.starts_with("list_")
        || op.starts_with("find_")
        || matches!(op, "changes_after" | "latest_change" | "is_access_token_denied" | "ping")
}
