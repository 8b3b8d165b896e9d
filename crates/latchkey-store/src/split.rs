//! Hot state in one store, durable state in another: `Split` is a [`Store`]
//! that routes each trait to one half. With Redis configured, the hot half
//! is Redis (sessions, pending interactions, pushed requests, codes, the denylist, rate-limit
//! and sign-in failure counters, one-time use) and the durable half the SQL
//! database (clients, users, keys, consents, refresh tokens, the audit log,
//! the change feed, admin tokens, upstream links, second factors, the outbox, email links).
//!
//! A unit of work of a `Split` is the durable half's transaction; hot-state
//! operations made through it take effect at once (see [`Transaction`]).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    CodeStore, DenylistStore, DeviceCodeStore, FailureStore, Health, InteractionStore, Maintenance, Purged,
    PushedRequestStore, RateLimitStore, ReplayStore, SessionStore, Store, StoreResult, Transaction, UnitOfWork,
};

/// What the hot half stores.
pub trait HotStore:
    SessionStore
    + InteractionStore
    + CodeStore
    + DeviceCodeStore
    + PushedRequestStore
    + DenylistStore
    + RateLimitStore
    + FailureStore
    + ReplayStore
    + Health
{
}

impl<T> HotStore for T where
    T: SessionStore
        + InteractionStore
        + CodeStore
        + DeviceCodeStore
        + PushedRequestStore
        + DenylistStore
        + RateLimitStore
        + FailureStore
        + ReplayStore
        + Health
{
}

/// The half of a `Split` that serves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Hot,
    Durable,
    /// `ping`: a split store is healthy when both halves are.
    Both,
}

/// The methods of the hot half's traits (besides `Health`).
const HOT: &[&[&str]] = &[
    crate::store_methods!([crate::__method_names](), SessionStore),
    crate::store_methods!([crate::__method_names](), InteractionStore),
    crate::store_methods!([crate::__method_names](), CodeStore),
    crate::store_methods!([crate::__method_names](), DeviceCodeStore),
    crate::store_methods!([crate::__method_names](), PushedRequestStore),
    crate::store_methods!([crate::__method_names](), DenylistStore),
    crate::store_methods!([crate::__method_names](), RateLimitStore),
    crate::store_methods!([crate::__method_names](), FailureStore),
    crate::store_methods!([crate::__method_names](), ReplayStore),
];

/// A store of hot state beside a store of durable state. Cheap to clone.
#[derive(Clone)]
pub struct Split {
    hot: Arc<dyn HotStore>,
    durable: Arc<dyn Store>,
}

impl Split {
    pub fn new(hot: Arc<dyn HotStore>, durable: Arc<dyn Store>) -> Self {
        Self { hot, durable }
    }

    /// Which half serves `op` (a store trait method's name, or `begin`,
    /// `commit`, `rollback`): what a wrapper that watches each backend's
    /// health needs to know.
    pub fn half_of(op: &str) -> Half {
        if op == "ping" {
            Half::Both
        } else if HOT.iter().any(|methods| methods.contains(&op)) {
            Half::Hot
        } else {
            Half::Durable
        }
    }
}

async fn direct<S, T>(_: &S, _op: &'static str, call: impl Future<Output = T>) -> T {
    call.await
}

crate::delegate!(Split, hot, direct, SessionStore);
crate::delegate!(Split, hot, direct, InteractionStore);
crate::delegate!(Split, hot, direct, CodeStore);
crate::delegate!(Split, hot, direct, DeviceCodeStore);
crate::delegate!(Split, hot, direct, PushedRequestStore);
crate::delegate!(Split, hot, direct, DenylistStore);
crate::delegate!(Split, hot, direct, RateLimitStore);
crate::delegate!(Split, hot, direct, FailureStore);
crate::delegate!(Split, hot, direct, ReplayStore);
crate::delegate!(Split, durable, direct, ClientStore);
crate::delegate!(Split, durable, direct, UserStore);
crate::delegate!(Split, durable, direct, KeyStore);
crate::delegate!(Split, durable, direct, ConsentStore);
crate::delegate!(Split, durable, direct, RefreshTokenStore);
crate::delegate!(Split, durable, direct, ChangeFeed);
crate::delegate!(Split, durable, direct, AuditStore);
crate::delegate!(Split, durable, direct, AdminStore);
crate::delegate!(Split, durable, direct, FederatedIdentityStore);
crate::delegate!(Split, durable, direct, FactorStore);
crate::delegate!(Split, durable, direct, OutboxStore);
crate::delegate!(Split, durable, direct, EmailTokenStore);
crate::delegate!(Split, durable, direct, SignupStore);

#[async_trait]
impl Health for Split {
    async fn ping(&self) -> StoreResult<()> {
        self.durable.ping().await?;
        self.hot.ping().await
    }
}

#[async_trait]
impl Maintenance for Split {
    /// The hot half expires its records on its own (Redis keys carry TTLs);
    /// this purges the durable half.
    async fn purge_expired(&self, now: i64, batch: u32) -> StoreResult<Purged> {
        self.durable.purge_expired(now, batch).await
    }
}

#[async_trait]
impl UnitOfWork for Split {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Ok(Box::new(SplitTransaction { hot: self.hot.clone(), durable: self.durable.begin().await? }))
    }
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        Ok(Box::new(SplitTransaction { hot: self.hot.clone(), durable: self.durable.begin_writing().await? }))
    }
}

/// A unit of work of a `Split`: the durable half's transaction, and the hot half.
struct SplitTransaction {
    hot: Arc<dyn HotStore>,
    durable: Box<dyn Transaction>,
}

crate::delegate!(SplitTransaction, hot, direct, SessionStore);
crate::delegate!(SplitTransaction, hot, direct, InteractionStore);
crate::delegate!(SplitTransaction, hot, direct, CodeStore);
crate::delegate!(SplitTransaction, hot, direct, DeviceCodeStore);
crate::delegate!(SplitTransaction, hot, direct, PushedRequestStore);
crate::delegate!(SplitTransaction, hot, direct, DenylistStore);
crate::delegate!(SplitTransaction, hot, direct, RateLimitStore);
crate::delegate!(SplitTransaction, hot, direct, FailureStore);
crate::delegate!(SplitTransaction, hot, direct, ReplayStore);
crate::delegate!(SplitTransaction, durable, direct, ClientStore);
crate::delegate!(SplitTransaction, durable, direct, UserStore);
crate::delegate!(SplitTransaction, durable, direct, KeyStore);
crate::delegate!(SplitTransaction, durable, direct, ConsentStore);
crate::delegate!(SplitTransaction, durable, direct, RefreshTokenStore);
crate::delegate!(SplitTransaction, durable, direct, ChangeFeed);
crate::delegate!(SplitTransaction, durable, direct, AuditStore);
crate::delegate!(SplitTransaction, durable, direct, AdminStore);
crate::delegate!(SplitTransaction, durable, direct, FederatedIdentityStore);
crate::delegate!(SplitTransaction, durable, direct, FactorStore);
crate::delegate!(SplitTransaction, durable, direct, OutboxStore);
crate::delegate!(SplitTransaction, durable, direct, EmailTokenStore);
crate::delegate!(SplitTransaction, durable, direct, SignupStore);

#[async_trait]
impl Transaction for SplitTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.durable.commit().await
    }
    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.durable.rollback().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_has_its_half() {
        for op in [
            "insert_session",
            "redeem_code",
            "poll_device_code",
            "find_user_code",
            "take_pushed_request",
            "record_code_access",
            "deny_access_tokens",
            "hit",
            "first_use",
        ] {
            assert_eq!(Split::half_of(op), Half::Hot, "{op}");
        }
        for op in ["get_client", "rotate_refresh_token", "revoke_refresh_tokens", "append_audit", "begin", "commit"] {
            assert_eq!(Split::half_of(op), Half::Durable, "{op}");
        }
        assert_eq!(Split::half_of("ping"), Half::Both);
    }
}
