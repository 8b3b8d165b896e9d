//! In-memory caches of the rows read on every introspection and UserInfo
//! request: clients, users, and "is this access token revoked" answers.
//!
//! `Cached` wraps the store. Every write that can change a cached answer goes
//! through it, so it (1) drops the entry in this process at once and (2)
//! appends to the change feed (`ChangeFeed`), which every server polls
//! (`poll_changes`) to drop the same entry; the CLI records its writes the
//! same way. A change made elsewhere therefore applies here within one poll
//! interval; `max_age` bounds how long any entry is trusted without a read
//! (a writer that crashed between its write and its feed entry, say).
//!
//! A read that raced an invalidation must not put the old row back: each map
//! has a generation, bumped by every invalidation, and a fetched row is stored
//! only if the generation it started under is still current.
//!
//! Inside a unit of work, reads go to the transaction (which sees its own
//! writes) and the changes it makes are applied and recorded once it has
//! committed; a rolled-back unit of work changes nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use latchkey_core::{Client, Clock, User};
use latchkey_store::{
    Change, ChangeFeed, ChangeKind, ClientStore, DenylistStore, IssuedToken, Store, StoreResult, Transaction,
    UnitOfWork, UserStore,
};

/// How the caches behave (`[cache]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub poll_interval: Duration,
    pub max_age: Duration,
}

/// More entries than this and a map starts over (a flood of distinct ids
/// must not grow memory without bound).
const CAPACITY: usize = 50_000;

struct Entries<V> {
    map: HashMap<String, (V, Instant)>,
    generation: u64,
}

/// One cache: entries with their fetch time, and the generation.
struct Map<V> {
    name: &'static str,
    inner: Mutex<Entries<V>>,
}

impl<V: Clone> Map<V> {
    fn new(name: &'static str) -> Self {
        Self { name, inner: Mutex::new(Entries { map: HashMap::new(), generation: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        // A panic while holding the lock cannot leave the map half-written.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached value if it is younger than `max_age`, else the generation
    /// a fetch must start under.
    fn get(&self, key: &str, max_age: Duration) -> Result<V, u64> {
        let entries = self.lock();
        match entries.map.get(key) {
            Some((value, at)) if at.elapsed() < max_age => {
                metrics::counter!("latchkey_cache_lookups_total", "cache" => self.name, "result" => "hit").increment(1);
                Ok(value.clone())
            }
            _ => {
                metrics::counter!("latchkey_cache_lookups_total", "cache" => self.name, "result" => "miss")
                    .increment(1);
                Err(entries.generation)
            }
        }
    }

    fn put(&self, key: &str, value: V, generation: u64) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return; // invalidated while we were reading
        }
        if entries.map.len() >= CAPACITY {
            entries.map.clear();
        }
        entries.map.insert(key.to_string(), (value, Instant::now()));
    }

    fn remove(&self, key: &str) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.map.remove(key);
    }

    fn clear(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.map.clear();
    }

    /// Returns the cached value or fetches it; only `Some` answers are kept
    /// (an id that does not exist yet may be created by another process).
    async fn get_or_fetch<F>(&self, key: &str, max_age: Duration, fetch: F) -> StoreResult<Option<V>>
    where
        F: Future<Output = StoreResult<Option<V>>>,
    {
        let generation = match self.get(key, max_age) {
            Ok(value) => return Ok(Some(value)),
            Err(generation) => generation,
        };
        let fetched = fetch.await?;
        if let Some(value) = &fetched {
            self.put(key, value.clone(), generation);
        }
        Ok(fetched)
    }
}

/// The three caches of one process.
pub struct Caches {
    settings: CacheSettings,
    clients: Map<Client>,
    users: Map<User>,
    /// Access-token ids to whether they are denied; both answers are kept.
    denied: Map<bool>,
    /// Completed reads of the change feed, so that a test can wait for one
    /// that began after its write.
    polls: AtomicU64,
}

impl Caches {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            clients: Map::new("client"),
            users: Map::new("user"),
            denied: Map::new("denylist"),
            polls: AtomicU64::new(0),
        }
    }

    /// How many times [`poll_changes`] has read the change feed to its end.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Acquire)
    }

    /// Drops what `change` makes stale.
    pub fn apply(&self, change: &Change) {
        match change.kind {
            ChangeKind::Client => self.clients.remove(&change.subject),
            ChangeKind::User => self.users.remove(&change.subject),
            ChangeKind::AccessToken => self.denied.remove(&change.subject),
            ChangeKind::AccessTokens => self.denied.clear(),
        }
    }
}

/// The store, with reads of clients, users and the denylist served from
/// memory when `caches` is set. Writes are recorded in the change feed either
/// way (the CLI runs without caches but must tell the servers).
pub struct Cached {
    inner: Arc<dyn Store>,
    changes: Changes,
}

/// Where a write's change goes: this process's caches, and the feed.
#[derive(Clone)]
struct Changes {
    feed: Arc<dyn Store>,
    caches: Option<Arc<Caches>>,
    clock: Arc<dyn Clock>,
}

impl Changes {
    /// Drops the stale entry here, then tells every other process. A failed
    /// feed write is logged, not returned: the write itself took effect, and
    /// other processes stop trusting the entry after `max_age` anyway.
    async fn changed(&self, kind: ChangeKind, subject: &str) {
        let change = Change { seq: 0, kind, subject: subject.to_string() };
        if let Some(caches) = &self.caches {
            caches.apply(&change);
        }
        if let Err(e) = self.feed.record_change(kind, subject, self.clock.now()).await {
            tracing::warn!(error = %e, kind = kind.as_str(), "cannot record a change for other servers' caches");
        }
    }
}

impl Cached {
    pub fn new(inner: Arc<dyn Store>, caches: Option<Arc<Caches>>, clock: Arc<dyn Clock>) -> Self {
        Self { changes: Changes { feed: inner.clone(), caches, clock }, inner }
    }

    fn caches(&self) -> Option<&Caches> {
        self.changes.caches.as_deref()
    }

    async fn changed(&self, kind: ChangeKind, subject: &str) {
        self.changes.changed(kind, subject).await;
    }
}

async fn direct<S, T>(_: &S, _op: &'static str, f: impl Future<Output = T>) -> T {
    f.await
}

#[async_trait]
impl ClientStore for Cached {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        self.inner.insert_client(client).await
    }
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        match self.caches() {
            Some(c) => c.clients.get_or_fetch(client_id, c.settings.max_age, self.inner.get_client(client_id)).await,
            None => self.inner.get_client(client_id).await,
        }
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.inner.list_clients().await
    }
    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let updated = self.inner.update_client(client).await?;
        self.changed(ChangeKind::Client, &client.client_id).await;
        Ok(updated)
    }
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete_client(client_id).await?;
        self.changed(ChangeKind::Client, client_id).await;
        Ok(deleted)
    }
}

#[async_trait]
impl UserStore for Cached {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.inner.insert_user(user).await
    }
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        match self.caches() {
            Some(c) => c.users.get_or_fetch(id, c.settings.max_age, self.inner.get_user(id)).await,
            None => self.inner.get_user(id).await,
        }
    }
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_username(username).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users().await
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let updated = self.inner.update_user(user).await?;
        self.changed(ChangeKind::User, &user.id).await;
        Ok(updated)
    }
    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete_user(id).await?;
        self.changed(ChangeKind::User, id).await;
        Ok(deleted)
    }
}

// Denying several access tokens at once (a revoked family, a session's
// families) names ids the caches may hold under other keys' answers: every
// denylist answer goes.

#[async_trait]
impl DenylistStore for Cached {
    async fn deny_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.inner.deny_access_token(jti, expires_at).await?;
        self.changed(ChangeKind::AccessToken, jti).await;
        Ok(())
    }
    async fn deny_access_tokens(&self, tokens: &[IssuedToken]) -> StoreResult<()> {
        self.inner.deny_access_tokens(tokens).await?;
        if !tokens.is_empty() {
            self.changed(ChangeKind::AccessTokens, "").await;
        }
        Ok(())
    }
    async fn is_access_token_denied(&self, jti: &str) -> StoreResult<bool> {
        match self.caches() {
            Some(c) => {
                let fetch = async { self.inner.is_access_token_denied(jti).await.map(Some) };
                Ok(c.denied.get_or_fetch(jti, c.settings.max_age, fetch).await?.unwrap_or(true))
            }
            None => self.inner.is_access_token_denied(jti).await,
        }
    }
}

latchkey_store::delegate!(Cached, inner, direct, KeyStore);
latchkey_store::delegate!(Cached, inner, direct, Health);
latchkey_store::delegate!(Cached, inner, direct, SessionStore);
latchkey_store::delegate!(Cached, inner, direct, ConsentStore);
latchkey_store::delegate!(Cached, inner, direct, InteractionStore);
latchkey_store::delegate!(Cached, inner, direct, CodeStore);
latchkey_store::delegate!(Cached, inner, direct, DeviceCodeStore);
latchkey_store::delegate!(Cached, inner, direct, PushedRequestStore);
latchkey_store::delegate!(Cached, inner, direct, RefreshTokenStore);
latchkey_store::delegate!(Cached, inner, direct, RateLimitStore);
latchkey_store::delegate!(Cached, inner, direct, FailureStore);
latchkey_store::delegate!(Cached, inner, direct, ReplayStore);
latchkey_store::delegate!(Cached, inner, direct, AuditStore);
latchkey_store::delegate!(Cached, inner, direct, AdminStore);
latchkey_store::delegate!(Cached, inner, direct, ChangeFeed);
latchkey_store::delegate!(Cached, inner, direct, Maintenance);
latchkey_store::delegate!(Cached, inner, direct, FederatedIdentityStore);
latchkey_store::delegate!(Cached, inner, direct, FactorStore);
latchkey_store::delegate!(Cached, inner, direct, OutboxStore);
latchkey_store::delegate!(Cached, inner, direct, EmailTokenStore);
latchkey_store::delegate!(Cached, inner, direct, SignupStore);

#[async_trait]
impl UnitOfWork for Cached {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = self.inner.begin().await?;
        Ok(Box::new(CachedTransaction { inner, changes: self.changes.clone(), pending: Mutex::default() }))
    }
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = self.inner.begin_writing().await?;
        Ok(Box::new(CachedTransaction { inner, changes: self.changes.clone(), pending: Mutex::default() }))
    }
}

/// A unit of work of a `Cached` store: reads go to the transaction, and the
/// changes its writes make wait for its commit.
struct CachedTransaction {
    inner: Box<dyn Transaction>,
    changes: Changes,
    pending: Mutex<Vec<(ChangeKind, String)>>,
}

impl CachedTransaction {
    fn changed(&self, kind: ChangeKind, subject: &str) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push((kind, subject.to_string()));
    }
}

#[async_trait]
impl ClientStore for CachedTransaction {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        self.inner.insert_client(client).await
    }
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        self.inner.get_client(client_id).await
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.inner.list_clients().await
    }
    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let updated = self.inner.update_client(client).await?;
        self.changed(ChangeKind::Client, &client.client_id);
        Ok(updated)
    }
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete_client(client_id).await?;
        self.changed(ChangeKind::Client, client_id);
        Ok(deleted)
    }
}

#[async_trait]
impl UserStore for CachedTransaction {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.inner.insert_user(user).await
    }
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.inner.get_user(id).await
    }
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_username(username).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users().await
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let updated = self.inner.update_user(user).await?;
        self.changed(ChangeKind::User, &user.id);
        Ok(updated)
    }
    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let deleted = self.inner.delete_user(id).await?;
        self.changed(ChangeKind::User, id);
        Ok(deleted)
    }
}

#[async_trait]
impl DenylistStore for CachedTransaction {
    async fn deny_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.inner.deny_access_token(jti, expires_at).await?;
        self.changed(ChangeKind::AccessToken, jti);
        Ok(())
    }
    async fn deny_access_tokens(&self, tokens: &[IssuedToken]) -> StoreResult<()> {
        self.inner.deny_access_tokens(tokens).await?;
        if !tokens.is_empty() {
            self.changed(ChangeKind::AccessTokens, "");
        }
        Ok(())
    }
    async fn is_access_token_denied(&self, jti: &str) -> StoreResult<bool> {
        self.inner.is_access_token_denied(jti).await
    }
}

latchkey_store::delegate!(CachedTransaction, inner, direct, KeyStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, SessionStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, ConsentStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, InteractionStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, CodeStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, DeviceCodeStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, PushedRequestStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, RefreshTokenStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, RateLimitStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, FailureStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, ReplayStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, AuditStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, AdminStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, ChangeFeed);
latchkey_store::delegate!(CachedTransaction, inner, direct, FederatedIdentityStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, FactorStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, OutboxStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, EmailTokenStore);
latchkey_store::delegate!(CachedTransaction, inner, direct, SignupStore);

#[async_trait]
impl Transaction for CachedTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let Self { inner, changes, pending } = *self;
        inner.commit().await?;
        for (kind, subject) in pending.into_inner().unwrap_or_else(|p| p.into_inner()) {
            changes.changed(kind, &subject).await;
        }
        Ok(())
    }
    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.inner.rollback().await
    }
}

/// Reads the change feed every `poll_interval` and applies it to `caches`,
/// starting after `after` (the feed's newest entry when the caches were
/// created empty). Runs until the process ends.
pub async fn poll_changes(feed: Arc<dyn ChangeFeed>, caches: Arc<Caches>, mut after: i64) {
    const PAGE: u32 = 1_000;
    let mut ticker = tokio::time::interval(caches.settings.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        loop {
            match feed.changes_after(after, PAGE).await {
                Ok(changes) => {
                    if failing {
                        tracing::info!("change feed readable again");
                        failing = false;
                    }
                    for change in &changes {
                        caches.apply(change);
                    }
                    after = changes.last().map_or(after, |c| c.seq);
                    if changes.len() < PAGE as usize {
                        break;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the change feed; cached entries expire after max_age");
                        failing = true;
                    }
                    break;
                }
            }
        }
        caches.polls.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fetch_that_raced_an_invalidation_is_not_stored() {
        let map: Map<u32> = Map::new("test");
        let max_age = Duration::from_secs(60);
        let generation = map.get("k", max_age).unwrap_err();
        map.remove("k"); // a write lands while the fetch is in flight
        map.put("k", 1, generation);
        assert!(map.get("k", max_age).is_err(), "the stale row was kept");
        let generation = map.get("k", max_age).unwrap_err();
        map.put("k", 2, generation);
        assert_eq!(map.get("k", max_age), Ok(2));
    }

    #[tokio::test]
    async fn entries_expire_after_max_age() {
        let map: Map<u32> = Map::new("test");
        let generation = map.get("k", Duration::ZERO).unwrap_err();
        map.put("k", 1, generation);
        assert_eq!(map.get("k", Duration::from_secs(60)), Ok(1));
        assert!(map.get("k", Duration::ZERO).is_err());
    }

    #[tokio::test]
    async fn changes_drop_what_they_name() {
        let caches =
            Caches::new(CacheSettings { poll_interval: Duration::from_secs(1), max_age: Duration::from_secs(60) });
        let max_age = caches.settings.max_age;
        for jti in ["a", "b"] {
            let g = caches.denied.get(jti, max_age).unwrap_err();
            caches.denied.put(jti, false, g);
        }
        caches.apply(&Change { seq: 1, kind: ChangeKind::AccessToken, subject: "a".into() });
        assert!(caches.denied.get("a", max_age).is_err());
        assert_eq!(caches.denied.get("b", max_age), Ok(false));
        caches.apply(&Change { seq: 2, kind: ChangeKind::AccessTokens, subject: String::new() });
        assert!(caches.denied.get("b", max_age).is_err());
    }
}
