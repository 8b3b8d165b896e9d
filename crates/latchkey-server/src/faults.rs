//! Fault injection for the end-to-end tests: `FailingStore` fails a chosen
//! write, so that a test can check that no response hands out a credential
//! whose record was not committed. Only the tests' binary
//! (`latchkey-under-test`) installs it, through [`crate::main_with`]; the
//! `latchkey` binary never calls into this module, and nothing in its
//! configuration can turn it on.
//!
//! `LATCHKEY_TEST_FAULTS=PATH` names a file, read before every write, that
//! holds `N [OP] [after]`: the Nth write from when this content appeared
//! (counting only calls of the store method `OP` if given) fails with
//! `Unavailable`: before it reaches the store, or with `after`, once it has
//! committed (its answer lost on the way). Each fault fires once; writing
//! new content arms the next one. Every injected fault is logged.
//!
//! Inside a unit of work every write counts too, and so does its `commit`:
//! a failure before the commit rolls the whole unit back, one `after` it
//! leaves it committed with its answer lost.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latchkey_store::{Store, StoreError, StoreResult, Transaction, UnitOfWork, is_read};

/// The environment variable naming the fault file.
pub const FAULTS_ENV: &str = "LATCHKEY_TEST_FAULTS";

/// Wraps `store` in a `FailingStore` if `LATCHKEY_TEST_FAULTS` is set.
pub fn wrap_from_env(store: Arc<dyn Store>) -> Arc<dyn Store> {
    match std::env::var_os(FAULTS_ENV) {
        Some(path) => {
            tracing::warn!(file = %PathBuf::from(&path).display(), "fault injection is on (test binary)");
            Arc::new(FailingStore::new(store, path.into()))
        }
        None => store,
    }
}

/// The store, failing the write the fault file names.
pub struct FailingStore {
    inner: Arc<dyn Store>,
    trigger: Arc<Trigger>,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn Store>, fault_file: PathBuf) -> Self {
        Self { inner, trigger: Arc::new(Trigger { path: fault_file, armed: Mutex::default() }) }
    }
}

/// A unit of work of a `FailingStore`: its writes and its commit count.
struct FailingTransaction {
    inner: Box<dyn Transaction>,
    trigger: Arc<Trigger>,
}

/// The fault file and what it armed.
struct Trigger {
    path: PathBuf,
    armed: Mutex<Armed>,
}

/// The fault file's content as last seen, and the writes counted since.
#[derive(Default)]
struct Armed {
    content: String,
    counted: u64,
    fired: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Fault {
    None,
    Before,
    After,
}

impl Trigger {
    /// Counts this write and says whether it is the one to fail.
    fn decide(&self, op: &str) -> Fault {
        let content = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if armed.content != content {
            *armed = Armed { content: content.clone(), counted: 0, fired: false };
        }
        let mut words = content.split_whitespace();
        let Some(n) = words.next().and_then(|w| w.parse::<u64>().ok()) else {
            return Fault::None;
        };
        let rest: Vec<&str> = words.collect();
        let after = rest.contains(&"after");
        let only = rest.iter().find(|w| **w != "after");
        if armed.fired || only.is_some_and(|o| *o != op) {
            return Fault::None;
        }
        armed.counted += 1;
        if armed.counted < n {
            return Fault::None;
        }
        armed.fired = true;
        if after { Fault::After } else { Fault::Before }
    }
}

/// The store and its units of work, for `inject`.
trait HasTrigger {
    fn trigger(&self) -> &Trigger;
}

impl HasTrigger for FailingStore {
    fn trigger(&self) -> &Trigger {
        &self.trigger
    }
}

impl HasTrigger for FailingTransaction {
    fn trigger(&self) -> &Trigger {
        &self.trigger
    }
}

async fn inject<S: HasTrigger, T>(
    this: &S,
    op: &'static str,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    if is_read(op) {
        return call.await;
    }
    match this.trigger().decide(op) {
        Fault::None => call.await,
        Fault::Before => {
            tracing::warn!(op, when = "before", "injected store failure");
            Err(StoreError::Unavailable(format!("injected failure of {op}")))
        }
        Fault::After => {
            let committed = call.await.is_ok();
            tracing::warn!(op, when = "after", committed, "injected store failure");
            Err(StoreError::Unavailable(format!("injected failure of {op} (after it ran)")))
        }
    }
}

latchkey_store::delegate_operations!(FailingStore, inner, inject);
latchkey_store::delegate!(FailingStore, inner, inject, Health);
latchkey_store::delegate!(FailingStore, inner, inject, Maintenance);
latchkey_store::delegate_operations!(FailingTransaction, inner, inject);

#[async_trait]
impl UnitOfWork for FailingStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = self.inner.begin().await?;
        Ok(Box::new(FailingTransaction { inner, trigger: self.trigger.clone() }))
    }
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        let inner = self.inner.begin_writing().await?;
        Ok(Box::new(FailingTransaction { inner, trigger: self.trigger.clone() }))
    }
}

#[async_trait]
impl Transaction for FailingTransaction {
    /// A failure before the commit rolls the unit of work back: nothing of
    /// it is written.
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.trigger.decide("commit") {
            Fault::None => self.inner.commit().await,
            Fault::Before => {
                let rolled_back = self.inner.rollback().await.is_ok();
                tracing::warn!(op = "commit", when = "before", rolled_back, "injected store failure");
                Err(StoreError::Unavailable("injected failure of commit".into()))
            }
            Fault::After => {
                let committed = self.inner.commit().await.is_ok();
                tracing::warn!(op = "commit", when = "after", committed, "injected store failure");
                Err(StoreError::Unavailable("injected failure of commit (after it ran)".into()))
            }
        }
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.inner.rollback().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_write_fails_once_and_new_content_rearms() {
        let path = std::env::temp_dir().join(format!("latchkey-faults-{}", std::process::id()));
        std::fs::write(&path, "3").unwrap();
        let t = Trigger { path: path.clone(), armed: Mutex::default() };
        let seen: Vec<Fault> = (0..5).map(|_| t.decide("insert_code")).collect();
        assert_eq!(seen, [Fault::None, Fault::None, Fault::Before, Fault::None, Fault::None]);
        std::fs::write(&path, "1 rotate_refresh_token after").unwrap();
        assert_eq!(t.decide("insert_code"), Fault::None, "other methods are not counted");
        assert_eq!(t.decide("rotate_refresh_token"), Fault::After);
        assert_eq!(t.decide("rotate_refresh_token"), Fault::None);
        std::fs::write(&path, "").unwrap();
        assert_eq!(t.decide("insert_code"), Fault::None, "an empty file injects nothing");
        std::fs::remove_file(&path).unwrap();
    }
}
