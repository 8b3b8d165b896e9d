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

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use latchkey_core::grant::{AuthorizationCode, Consent, Interaction, RefreshToken, RefreshTokenRecord, Session};
use latchkey_core::{Client, Scope, User};
use latchkey_store::{Change, ChangeKind, Purged, Redemption, Rotation, Store, StoreError, StoreResult, StoredKey};

use crate::delegate::{delegate, is_read};

/// The environment variable naming the fault file.
pub const FAULTS_ENV: &str = "LATCHKEY_TEST_FAULTS";

/// Wraps `store` in a `FailingStore` if `LATCHKEY_TEST_FAULTS` is set.
pub fn wrap_from_env(store: Arc<dyn Store>) -> Arc<dyn Store> {
    match std::env::var_os(FAULTS_ENV) {
        Some(path) => {
            tracing::warn!(file = %PathBuf::from(&path).display(), "fault injection is on (test binary)");
            Arc::new(FailingStore { inner: store, trigger: Trigger { path: path.into(), armed: Mutex::default() } })
        }
        None => store,
    }
}

/// The store, failing the write the fault file names.
pub struct FailingStore {
    inner: Arc<dyn Store>,
    trigger: Trigger,
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

async fn inject<T>(
    this: &FailingStore,
    op: &'static str,
    call: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    if is_read(op) {
        return call.await;
    }
    match this.trigger.decide(op) {
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

delegate!(FailingStore, inner, inject, ClientStore);
delegate!(FailingStore, inner, inject, UserStore);
delegate!(FailingStore, inner, inject, KeyStore);
delegate!(FailingStore, inner, inject, Health);
delegate!(FailingStore, inner, inject, SessionStore);
delegate!(FailingStore, inner, inject, ConsentStore);
delegate!(FailingStore, inner, inject, InteractionStore);
delegate!(FailingStore, inner, inject, CodeStore);
delegate!(FailingStore, inner, inject, RefreshTokenStore);
delegate!(FailingStore, inner, inject, DenylistStore);
delegate!(FailingStore, inner, inject, RateLimitStore);
delegate!(FailingStore, inner, inject, FailureStore);
delegate!(FailingStore, inner, inject, ReplayStore);
delegate!(FailingStore, inner, inject, AuditStore);
delegate!(FailingStore, inner, inject, AdminStore);
delegate!(FailingStore, inner, inject, ChangeFeed);
delegate!(FailingStore, inner, inject, Maintenance);
delegate!(FailingStore, inner, inject, FederatedIdentityStore);

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
