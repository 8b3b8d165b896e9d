//! One list of every store trait's methods, so that a new method is added in
//! one place. Whatever forwards calls uses it: the wrappers in
//! `latchkey-server` (`Metered` times calls, `Cached` forwards what it does
//! not cache, `Guarded` fails fast while a backend is down, `FailingStore`
//! injects faults in tests), [`Split`](crate::Split), which routes each trait
//! to the hot or the durable half, and the SQL store, which runs each method
//! on a pooled connection or on a transaction's.
//!
//! `store_methods!([callback] (args), Trait)` calls
//! `callback! { (args) Trait { fn name(arg: [Type], ...) -> Ret; ... } }`.
//! Argument types come as bracketed token trees, not `ty` fragments, so that
//! `async_trait` sees their `&`s and can name the lifetimes.
//!
//! `delegate!(Wrapper, field, via, Trait)` implements `Trait` for `Wrapper`
//! as `via(self, "method", self.field.method(args)).await`;
//! `delegate_operations!(Wrapper, field, via)` does so for every trait of
//! [`Operations`](crate::Operations).

#[macro_export]
macro_rules! store_methods {
    ([$($cb:tt)*] $args:tt, ClientStore) => {
        $($cb)*! { $args ClientStore {
            fn insert_client(client: [&$crate::__private::Client]) -> $crate::StoreResult<()>;
            fn get_client(client_id: [&str]) -> $crate::StoreResult<Option<$crate::__private::Client>>;
            fn list_clients() -> $crate::StoreResult<Vec<$crate::__private::Client>>;
            fn update_client(client: [&$crate::__private::Client]) -> $crate::StoreResult<bool>;
            fn delete_client(client_id: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, UserStore) => {
        $($cb)*! { $args UserStore {
            fn insert_user(user: [&$crate::__private::User]) -> $crate::StoreResult<()>;
            fn get_user(id: [&str]) -> $crate::StoreResult<Option<$crate::__private::User>>;
            fn find_user_by_username(username: [&str]) -> $crate::StoreResult<Option<$crate::__private::User>>;
            fn list_users() -> $crate::StoreResult<Vec<$crate::__private::User>>;
            fn update_user(user: [&$crate::__private::User]) -> $crate::StoreResult<bool>;
            fn delete_user(id: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, KeyStore) => {
        $($cb)*! { $args KeyStore {
            fn list_keys() -> $crate::StoreResult<Vec<$crate::StoredKey>>;
            fn insert_key(key: [&$crate::StoredKey]) -> $crate::StoreResult<()>;
            fn rotate_keys(next_kid: [&str], new_next: [&$crate::StoredKey], now: [i64], remove_after: [i64]) -> $crate::StoreResult<()>;
            fn retire_next_key(kid: [&str], now: [i64], remove_after: [i64]) -> $crate::StoreResult<bool>;
            fn set_key_remove_after(kid: [&str], remove_after: [i64]) -> $crate::StoreResult<bool>;
            fn delete_expired_keys(now: [i64]) -> $crate::StoreResult<u64>;
        }}
    };
    ([$($cb:tt)*] $args:tt, Health) => {
        $($cb)*! { $args Health {
            fn ping() -> $crate::StoreResult<()>;
        }}
    };
    ([$($cb:tt)*] $args:tt, SessionStore) => {
        $($cb)*! { $args SessionStore {
            fn insert_session(session: [&$crate::__private::Session]) -> $crate::StoreResult<()>;
            fn get_session(id_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::__private::Session>>;
            fn add_session_client(id_hash: [&str], client_id: [&str]) -> $crate::StoreResult<()>;
            fn touch_session(id_hash: [&str], now: [i64]) -> $crate::StoreResult<()>;
            fn delete_session(id_hash: [&str]) -> $crate::StoreResult<Option<$crate::__private::Session>>;
            fn list_user_sessions(user_id: [&str], now: [i64]) -> $crate::StoreResult<Vec<$crate::__private::Session>>;
            fn find_session_by_sid(sid: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::__private::Session>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, ConsentStore) => {
        $($cb)*! { $args ConsentStore {
            fn get_consent(user_id: [&str], client_id: [&str]) -> $crate::StoreResult<Option<$crate::__private::Consent>>;
            fn put_consent(user_id: [&str], client_id: [&str], scope: [&$crate::__private::Scope], now: [i64]) -> $crate::StoreResult<()>;
            fn delete_consent(user_id: [&str], client_id: [&str]) -> $crate::StoreResult<bool>;
            fn list_user_consents(user_id: [&str]) -> $crate::StoreResult<Vec<$crate::__private::Consent>>;
            fn list_client_consents(client_id: [&str], limit: [u32]) -> $crate::StoreResult<Vec<$crate::__private::Consent>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, InteractionStore) => {
        $($cb)*! { $args InteractionStore {
            fn insert_interaction(interaction: [&$crate::__private::Interaction]) -> $crate::StoreResult<()>;
            fn get_interaction(id_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::__private::Interaction>>;
            fn update_interaction(interaction: [&$crate::__private::Interaction]) -> $crate::StoreResult<bool>;
            fn delete_interaction(id_hash: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, CodeStore) => {
        $($cb)*! { $args CodeStore {
            fn insert_code(code: [&$crate::__private::AuthorizationCode]) -> $crate::StoreResult<()>;
            fn find_code(code_hash: [&str], now: [i64]) -> $crate::StoreResult<$crate::CodeLookup>;
            fn redeem_code(code_hash: [&str], client_id: [&str], now: [i64]) -> $crate::StoreResult<$crate::Redemption>;
            fn record_code_access(code_hash: [&str], access_jti: [&str], access_exp: [i64]) -> $crate::StoreResult<bool>;
            fn is_code_revoked(code_hash: [&str]) -> $crate::StoreResult<bool>;
            fn revoke_code(code_hash: [&str]) -> $crate::StoreResult<Option<$crate::RevokedCode>>;
            fn revoke_client_codes(user_id: [&str], client_id: [&str], now: [i64]) -> $crate::StoreResult<Vec<$crate::RevokedCode>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, DeviceCodeStore) => {
        $($cb)*! { $args DeviceCodeStore {
            fn insert_device_code(code: [&$crate::__private::DeviceCode]) -> $crate::StoreResult<()>;
            fn find_user_code(user_code_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::__private::DeviceCode>>;
            fn decide_device_code(device_code_hash: [&str], status: [$crate::__private::DeviceStatus], now: [i64]) -> $crate::StoreResult<bool>;
            fn poll_device_code(device_code_hash: [&str], client_id: [&str], now: [i64]) -> $crate::StoreResult<$crate::__private::DevicePoll>;
        }}
    };
    ([$($cb:tt)*] $args:tt, PushedRequestStore) => {
        $($cb)*! { $args PushedRequestStore {
            fn insert_pushed_request(request: [&$crate::__private::PushedRequest]) -> $crate::StoreResult<()>;
            fn take_pushed_request(uri_hash: [&str], client_id: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::__private::PushedRequest>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, RefreshTokenStore) => {
        $($cb)*! { $args RefreshTokenStore {
            fn get_refresh_token(token_hash: [&str]) -> $crate::StoreResult<Option<$crate::__private::RefreshTokenRecord>>;
            fn insert_refresh_token(token: [&$crate::__private::RefreshToken], access_jti: [&str], access_exp: [i64]) -> $crate::StoreResult<()>;
            fn rotate_refresh_token(old_hash: [&str], client_id: [&str], now: [i64], rotation: [$crate::Rotation<'_>]) -> $crate::StoreResult<bool>;
            fn add_family_access_token(token_hash: [&str], access_jti: [&str], access_exp: [i64]) -> $crate::StoreResult<()>;
            fn revoke_refresh_tokens(grant_id: [&str], now: [i64]) -> $crate::StoreResult<$crate::RevokedFamily>;
            fn list_session_families(sid: [&str], include_offline: [bool]) -> $crate::StoreResult<Vec<String>>;
            fn list_client_families(user_id: [&str], client_id: [&str]) -> $crate::StoreResult<Vec<String>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, DenylistStore) => {
        $($cb)*! { $args DenylistStore {
            fn deny_access_token(jti: [&str], expires_at: [i64]) -> $crate::StoreResult<()>;
            fn deny_access_tokens(tokens: [&[$crate::IssuedToken]]) -> $crate::StoreResult<()>;
            fn is_access_token_denied(jti: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, RateLimitStore) => {
        $($cb)*! { $args RateLimitStore {
            fn hit(bucket: [&str], window_seconds: [u32], now: [i64]) -> $crate::StoreResult<u64>;
        }}
    };
    ([$($cb:tt)*] $args:tt, FailureStore) => {
        $($cb)*! { $args FailureStore {
            fn get_failures(key: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::Failures>>;
            fn add_failure(key: [&str], now: [i64], window_seconds: [u32]) -> $crate::StoreResult<$crate::Failures>;
            fn lock_failures(key: [&str], until: [i64]) -> $crate::StoreResult<()>;
            fn clear_failures(key: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::Failures>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, AuditStore) => {
        $($cb)*! { $args AuditStore {
            fn append_audit(event: [&$crate::__private::AuditEvent]) -> $crate::StoreResult<i64>;
            fn list_audit(query: [&$crate::AuditQuery]) -> $crate::StoreResult<Vec<(i64, $crate::__private::AuditEvent)>>;
            fn delete_audit_before(before: [i64], limit: [u32]) -> $crate::StoreResult<u64>;
        }}
    };
    ([$($cb:tt)*] $args:tt, AdminStore) => {
        $($cb)*! { $args AdminStore {
            fn insert_admin_token(token: [&$crate::AdminToken]) -> $crate::StoreResult<()>;
            fn find_admin_token(token_hash: [&str]) -> $crate::StoreResult<Option<$crate::AdminToken>>;
            fn list_admin_tokens() -> $crate::StoreResult<Vec<$crate::AdminToken>>;
            fn delete_admin_token(id: [&str]) -> $crate::StoreResult<bool>;
            fn touch_admin_token(id: [&str], now: [i64]) -> $crate::StoreResult<()>;
            fn list_clients_page(after: [$crate::PageAfter<'_>], limit: [u32]) -> $crate::StoreResult<Vec<$crate::__private::Client>>;
            fn list_users_page(after: [$crate::PageAfter<'_>], limit: [u32]) -> $crate::StoreResult<Vec<$crate::__private::User>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, ReplayStore) => {
        $($cb)*! { $args ReplayStore {
            fn first_use(key: [&str], expires_at: [i64], now: [i64]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, ChangeFeed) => {
        $($cb)*! { $args ChangeFeed {
            fn record_change(kind: [$crate::ChangeKind], subject: [&str], now: [i64]) -> $crate::StoreResult<i64>;
            fn changes_after(after: [i64], limit: [u32]) -> $crate::StoreResult<Vec<$crate::Change>>;
            fn latest_change() -> $crate::StoreResult<i64>;
        }}
    };
    ([$($cb:tt)*] $args:tt, FederatedIdentityStore) => {
        $($cb)*! { $args FederatedIdentityStore {
            fn link_identity(identity: [&$crate::FederatedIdentity]) -> $crate::StoreResult<()>;
            fn find_identity(issuer: [&str], subject: [&str]) -> $crate::StoreResult<Option<$crate::FederatedIdentity>>;
            fn list_user_identities(user_id: [&str]) -> $crate::StoreResult<Vec<$crate::FederatedIdentity>>;
            fn unlink_identity(user_id: [&str], issuer: [&str], subject: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, FactorStore) => {
        $($cb)*! { $args FactorStore {
            fn put_pending_totp(user_id: [&str], secret: [&str], now: [i64]) -> $crate::StoreResult<bool>;
            fn get_totp(user_id: [&str]) -> $crate::StoreResult<Option<$crate::TotpFactor>>;
            fn confirm_totp(user_id: [&str], secret: [&str], step: [i64], now: [i64]) -> $crate::StoreResult<bool>;
            fn use_totp_step(user_id: [&str], step: [i64], now: [i64]) -> $crate::StoreResult<bool>;
            fn delete_totp(user_id: [&str]) -> $crate::StoreResult<bool>;
            fn replace_recovery_codes(user_id: [&str], hashes: [&[String]], now: [i64]) -> $crate::StoreResult<()>;
            fn use_recovery_code(user_id: [&str], hash: [&str]) -> $crate::StoreResult<bool>;
            fn get_recovery_codes_left(user_id: [&str]) -> $crate::StoreResult<u64>;
            fn delete_recovery_codes(user_id: [&str]) -> $crate::StoreResult<u64>;
            fn add_passkey(passkey: [&$crate::StoredPasskey]) -> $crate::StoreResult<()>;
            fn list_passkeys(user_id: [&str]) -> $crate::StoreResult<Vec<$crate::StoredPasskey>>;
            fn get_passkey(credential_id: [&str]) -> $crate::StoreResult<Option<$crate::StoredPasskey>>;
            fn use_passkey(credential_id: [&str], data: [&str], sign_count: [i64], now: [i64]) -> $crate::StoreResult<bool>;
            fn delete_passkey(user_id: [&str], credential_id: [&str]) -> $crate::StoreResult<bool>;
            fn delete_passkeys(user_id: [&str]) -> $crate::StoreResult<u64>;
            fn put_passkey_ceremony(ceremony: [&$crate::PasskeyCeremony]) -> $crate::StoreResult<()>;
            fn take_passkey_ceremony(id_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::PasskeyCeremony>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, OutboxStore) => {
        $($cb)*! { $args OutboxStore {
            fn enqueue_email(email: [&$crate::OutboxEmail]) -> $crate::StoreResult<()>;
            fn claim_email(lease: [&str], now: [i64], lease_until: [i64]) -> $crate::StoreResult<Option<$crate::OutboxEmail>>;
            fn delete_email(id: [&str], lease: [&str]) -> $crate::StoreResult<bool>;
            fn reschedule_email(id: [&str], lease: [&str], next_attempt_at: [i64], error: [&str]) -> $crate::StoreResult<bool>;
            fn count_outbox() -> $crate::StoreResult<u64>;
        }}
    };
    ([$($cb:tt)*] $args:tt, EmailTokenStore) => {
        $($cb)*! { $args EmailTokenStore {
            fn put_email_token(token: [&$crate::EmailToken]) -> $crate::StoreResult<()>;
            fn get_email_token(token_hash: [&str], purpose: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::EmailToken>>;
            fn take_email_token(token_hash: [&str], purpose: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::EmailToken>>;
        }}
    };
    ([$($cb:tt)*] $args:tt, SignupStore) => {
        $($cb)*! { $args SignupStore {
            fn insert_invitation(invitation: [&$crate::Invitation]) -> $crate::StoreResult<()>;
            fn get_invitation(token_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::Invitation>>;
            fn take_invitation(token_hash: [&str], now: [i64]) -> $crate::StoreResult<Option<$crate::Invitation>>;
            fn list_invitations() -> $crate::StoreResult<Vec<$crate::Invitation>>;
            fn delete_invitation(id: [&str]) -> $crate::StoreResult<bool>;
            fn mark_unverified_signup(user_id: [&str], now: [i64]) -> $crate::StoreResult<()>;
            fn is_unverified_signup(user_id: [&str]) -> $crate::StoreResult<bool>;
            fn clear_unverified_signup(user_id: [&str]) -> $crate::StoreResult<bool>;
        }}
    };
    ([$($cb:tt)*] $args:tt, Maintenance) => {
        $($cb)*! { $args Maintenance {
            fn purge_expired(now: [i64], batch: [u32]) -> $crate::StoreResult<$crate::Purged>;
        }}
    };
}

/// Calls `store_methods!` once per trait of [`Operations`](crate::Operations).
#[macro_export]
macro_rules! for_each_operations_trait {
    ($cb:tt $args:tt) => {
        $crate::store_methods!($cb $args, ClientStore);
        $crate::store_methods!($cb $args, UserStore);
        $crate::store_methods!($cb $args, KeyStore);
        $crate::store_methods!($cb $args, SessionStore);
        $crate::store_methods!($cb $args, ConsentStore);
        $crate::store_methods!($cb $args, InteractionStore);
        $crate::store_methods!($cb $args, CodeStore);
        $crate::store_methods!($cb $args, DeviceCodeStore);
        $crate::store_methods!($cb $args, PushedRequestStore);
        $crate::store_methods!($cb $args, RefreshTokenStore);
        $crate::store_methods!($cb $args, DenylistStore);
        $crate::store_methods!($cb $args, RateLimitStore);
        $crate::store_methods!($cb $args, FailureStore);
        $crate::store_methods!($cb $args, ReplayStore);
        $crate::store_methods!($cb $args, ChangeFeed);
        $crate::store_methods!($cb $args, AuditStore);
        $crate::store_methods!($cb $args, AdminStore);
        $crate::store_methods!($cb $args, FederatedIdentityStore);
        $crate::store_methods!($cb $args, FactorStore);
        $crate::store_methods!($cb $args, OutboxStore);
        $crate::store_methods!($cb $args, EmailTokenStore);
        $crate::store_methods!($cb $args, SignupStore);
    };
}

/// Implements one trait by forwarding each method through `via`.
#[doc(hidden)]
#[macro_export]
macro_rules! __forward {
    (($ty:ty, $field:tt, $via:path) $trait:ident { $(fn $name:ident($($arg:ident: [$($argty:tt)*]),*) -> $ret:ty;)* }) => {
        #[$crate::__private::async_trait]
        impl $crate::$trait for $ty {
            $(async fn $name(&self, $($arg: $($argty)*),*) -> $ret {
                $via(self, stringify!($name), self.$field.$name($($arg),*)).await
            })*
        }
    };
}

/// `delegate!(Wrapper, field, via, Trait)`: see the module documentation.
#[macro_export]
macro_rules! delegate {
    ($ty:ty, $field:tt, $via:path, $trait:ident) => {
        $crate::store_methods!([$crate::__forward]($ty, $field, $via), $trait);
    };
}

/// `delegate!` for every trait of [`Operations`](crate::Operations).
#[macro_export]
macro_rules! delegate_operations {
    ($ty:ty, $field:tt, $via:path) => {
        $crate::for_each_operations_trait!([$crate::__forward]($ty, $field, $via));
    };
}

/// The names of one trait's methods, as a slice.
#[doc(hidden)]
#[macro_export]
macro_rules! __method_names {
    (() $trait:ident { $(fn $name:ident($($arg:ident: [$($argty:tt)*]),*) -> $ret:ty;)* }) => {
        &[$(stringify!($name)),*]
    };
}

/// Whether a store method (by name) only reads; every other one writes.
/// Starting a unit of work or rolling one back writes nothing; its commit
/// is a write.
pub fn is_read(op: &str) -> bool {
    op.starts_with("get_")
        || op.starts_with("list_")
        || op.starts_with("find_")
        || matches!(
            op,
            "changes_after"
                | "latest_change"
                | "is_access_token_denied"
                | "is_code_revoked"
                | "ping"
                | "begin"
                | "rollback"
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_are_told_from_writes() {
        for op in ["get_client", "list_session_families", "find_code", "is_code_revoked", "begin", "rollback"] {
            assert!(super::is_read(op), "{op}");
        }
        for op in ["insert_code", "revoke_refresh_tokens", "deny_access_tokens", "commit", "record_code_access"] {
            assert!(!super::is_read(op), "{op}");
        }
    }
}
