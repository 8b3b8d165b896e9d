//! Failing fast during an outage: `Guarded` wraps the store and answers
//! `Unavailable` at once for a call that needs a backend the health probe
//! found down, instead of letting it wait for a pool or command timeout
//! (two 5 s pool timeouts made a sign-in wait 10 s for its 503). Reads in
//! flight when their backend goes down are abandoned too; writes in flight
//! run to their end, because abandoning one could leave a commit behind
//! that the client never hears of.
//!
//! One read at a time still tries a backend marked down, for at most
//! `TRIAL_TIMEOUT`: when the store is back (a Redis restart between two
//! probes, say), that read succeeds, marks it up, and the request is served
//! instead of getting a 503 until the next probe.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_store::{Store, StoreError, StoreResult, Transaction, UnitOfWork, is_read};
use latchkey_store_redis::{Backends, backends_of};

use crate::health::StoreHealth;

/// The store, failing fast on a backend that is down.
pub struct Guarded {
    inner: Arc<dyn Store>,
    guard: Guard,
}

/// A unit of work of a `Guarded` store: each of its operations (and its
/// commit) is guarded like a call on the store.
struct GuardedTransaction {
    inner: Box<dyn Transaction>,
    guard: Guard,
}

/// What a guarded call consults.
#[derive(Clone)]
struct Guard {
    health: Arc<StoreHealth>,
    /// Redis holds the hot state: calls need one backend or the other.
    with_redis: bool,
}

impl Guarded {
    pub fn new(inner: Arc<dyn Store>, health: Arc<StoreHealth>, with_redis: bool) -> Self {
        Self { inner, guard: Guard { health, with_redis } }
    }
}

impl Guard {
    fn needs(&self, op: &str) -> Backends {
        if self.with_redis { backends_of(op) } else { Backends { sql: true, redis: false } }
    }
}

/// The store and its units of work, for `guarded`.
trait HasGuard {
    fn guard(&self) -> &Guard;
}

impl HasGuard for Guard {
    fn guard(&self) -> &Guard {
        self
    }
}

impl HasGuard for Guarded {
    fn guard(&self) -> &Guard {
        &self.guard
    }
}

impl HasGuard for GuardedTransaction {
    fn guard(&self) -> &Guard {
        &self.guard
    }
}

fn fail_fast(backend: &'static str) -> StoreError {
    metrics::counter!("latchkey_store_fail_fast_total", "backend" => backend).increment(1);
    StoreError::Unavailable(format!("{backend} is down (failing fast)"))
}

/// How long a read may try a backend that is marked down.
const TRIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

async fn guarded<S: HasGuard, T>(
    this: &S,
    op: &'static str,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let Guard { health, .. } = this.guard();
    let needs = this.guard().needs(op);
    if let Some(down) = health.down_among(needs) {
        let trial = if is_read(op) { health.trial(needs) } else { None };
        let Some(trial) = trial else {
            return Err(fail_fast(down));
        };
        let result = match tokio::time::timeout(TRIAL_TIMEOUT, call).await {
            Ok(Err(StoreError::Unavailable(_))) | Err(_) => return Err(fail_fast(down)),
            // It answered (even an error of its own): it is back.
            Ok(answered) => answered,
        };
        drop(trial);
        health.call_succeeded(needs);
        return result;
    }
    let result = if is_read(op) {
        tokio::select! {
            biased;
            result = call => result,
            down = health.goes_down(needs) => Err(fail_fast(down)),
        }
    } else {
        call.await
    };
    match &result {
        Ok(_) => health.call_succeeded(needs),
        Err(e @ StoreError::Unavailable(_)) => health.call_failed(!is_read(op), e),
        Err(_) => {}
    }
    result
}

latchkey_store::delegate_operations!(Guarded, inner, guarded);
latchkey_store::delegate!(Guarded, inner, guarded, Health);
latchkey_store::delegate!(Guarded, inner, guarded, Maintenance);
latchkey_store::delegate_operations!(GuardedTransaction, inner, guarded);

#[async_trait]
impl UnitOfWork for Guarded {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = guarded(self, "begin", self.inner.begin()).await?;
        Ok(Box::new(GuardedTransaction { inner, guard: self.guard.clone() }))
    }
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = guarded(self, "begin", self.inner.begin_writing()).await?;
        Ok(Box::new(GuardedTransaction { inner, guard: self.guard.clone() }))
    }
}

#[async_trait]
impl Transaction for GuardedTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let Self { inner, guard } = *self;
        guarded(&guard, "commit", inner.commit()).await
    }
    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let Self { inner, guard } = *self;
        guarded(&guard, "rollback", inner.rollback()).await
    }
}
