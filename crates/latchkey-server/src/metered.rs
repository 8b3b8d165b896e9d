//! Store latency metrics: `Metered` wraps the store and records every
//! operation's duration in `latchkey_store_operation_seconds{op}` (errors are
//! counted by the backends themselves, in `latchkey_store_errors_total`).
//! Inside a unit of work each operation is timed the same way, and so are
//! `begin` and `commit`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use latchkey_store::{Store, StoreResult, Transaction, UnitOfWork};

/// The store, timed.
pub struct Metered(pub Arc<dyn Store>);

/// A unit of work of a `Metered` store, timed.
struct MeteredTransaction(Box<dyn Transaction>);

async fn timed<S, T>(_: &S, op: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    metrics::histogram!("latchkey_store_operation_seconds", "op" => op).record(started.elapsed().as_secs_f64());
    out
}

latchkey_store::delegate_operations!(Metered, 0, timed);
latchkey_store::delegate!(Metered, 0, timed, Health);
latchkey_store::delegate!(Metered, 0, timed, Maintenance);
latchkey_store::delegate_operations!(MeteredTransaction, 0, timed);

#[async_trait]
impl UnitOfWork for Metered {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let tx = timed(self, "begin", self.0.begin()).await?;
        Ok(Box::new(MeteredTransaction(tx)))
    }
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        let tx = timed(self, "begin", self.0.begin_writing()).await?;
        Ok(Box::new(MeteredTransaction(tx)))
    }
}

#[async_trait]
impl Transaction for MeteredTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let this = *self;
        timed(&(), "commit", this.0.commit()).await
    }
    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let this = *self;
        timed(&(), "rollback", this.0.rollback()).await
    }
}
