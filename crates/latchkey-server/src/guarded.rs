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

use latchkey_core::grant::{AuthorizationCode, Consent, Interaction, RefreshToken, RefreshTokenRecord, Session};
use latchkey_core::{Client, Scope, User};
use latchkey_store::{Change, ChangeKind, Purged, Redemption, Rotation, Store, StoreError, StoreResult, StoredKey};
use latchkey_store_redis::{Backends, backends_of};

use crate::delegate::{delegate, is_read};
use crate::health::StoreHealth;

/// The store, failing fast on a backend that is down.
pub struct Guarded {
    inner: Arc<dyn Store>,
    health: Arc<StoreHealth>,
    /// Redis holds the hot state: calls need one backend or the other.
    with_redis: bool,
}

impl Guarded {
    pub fn new(inner: Arc<dyn Store>, health: Arc<StoreHealth>, with_redis: bool) -> Self {
        Self { inner, health, with_redis }
    }

    fn needs(&self, op: &str) -> Backends {
        if self.with_redis { backends_of(op) } else { Backends { sql: true, redis: false } }
    }
}

fn fail_fast(backend: &'static str) -> StoreError {
    metrics::counter!("latchkey_store_fail_fast_total", "backend" => backend).increment(1);
    StoreError::Unavailable(format!("{backend} is down (failing fast)"))
}

/// How long a read may try a backend that is marked down.
const TRIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

async fn guard<T>(this: &Guarded, op: &'static str, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let needs = this.needs(op);
    if let Some(down) = this.health.down_among(needs) {
        let trial = if is_read(op) { this.health.trial(needs) } else { None };
        let Some(trial) = trial else {
            return Err(fail_fast(down));
        };
        let result = match tokio::time::timeout(TRIAL_TIMEOUT, call).await {
            Ok(Err(StoreError::Unavailable(_))) | Err(_) => return Err(fail_fast(down)),
            // It answered (even an error of its own): it is back.
            Ok(answered) => answered,
        };
        drop(trial);
        this.health.call_succeeded(needs);
        return result;
    }
    let result = if is_read(op) {
        tokio::select! {
            biased;
            result = call => result,
            down = this.health.goes_down(needs) => Err(fail_fast(down)),
        }
    } else {
        call.await
    };
    match &result {
        Ok(_) => this.health.call_succeeded(needs),
        Err(e @ StoreError::Unavailable(_)) => this.health.call_failed(!is_read(op), e),
        Err(_) => {}
    }
    result
}

delegate!(Guarded, inner, guard, ClientStore);
delegate!(Guarded, inner, guard, UserStore);
delegate!(Guarded, inner, guard, KeyStore);
delegate!(Guarded, inner, guard, Health);
delegate!(Guarded, inner, guard, SessionStore);
delegate!(Guarded, inner, guard, ConsentStore);
delegate!(Guarded, inner, guard, InteractionStore);
delegate!(Guarded, inner, guard, CodeStore);
delegate!(Guarded, inner, guard, RefreshTokenStore);
delegate!(Guarded, inner, guard, DenylistStore);
delegate!(Guarded, inner, guard, RateLimitStore);
delegate!(Guarded, inner, guard, FailureStore);
delegate!(Guarded, inner, guard, ReplayStore);
delegate!(Guarded, inner, guard, AuditStore);
delegate!(Guarded, inner, guard, AdminStore);
delegate!(Guarded, inner, guard, ChangeFeed);
delegate!(Guarded, inner, guard, Maintenance);
delegate!(Guarded, inner, guard, FederatedIdentityStore);
