//! Store latency metrics: `Metered` wraps the store and records every
//! operation's duration in `latchkey_store_operation_seconds{op}` (errors are
//! counted by the backends themselves, in `latchkey_store_errors_total`).

use std::sync::Arc;
use std::time::Instant;

use latchkey_core::grant::{AuthorizationCode, Consent, Interaction, RefreshToken, RefreshTokenRecord, Session};
use latchkey_core::{Client, Scope, User};
use latchkey_store::{Change, ChangeKind, Purged, Redemption, Rotation, Store, StoreResult, StoredKey};

use crate::delegate::delegate;

/// The store, timed.
pub struct Metered(pub Arc<dyn Store>);

async fn timed<T>(_: &Metered, op: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    metrics::histogram!("latchkey_store_operation_seconds", "op" => op).record(started.elapsed().as_secs_f64());
    out
}

delegate!(Metered, 0, timed, ClientStore);
delegate!(Metered, 0, timed, UserStore);
delegate!(Metered, 0, timed, KeyStore);
delegate!(Metered, 0, timed, Health);
delegate!(Metered, 0, timed, SessionStore);
delegate!(Metered, 0, timed, ConsentStore);
delegate!(Metered, 0, timed, InteractionStore);
delegate!(Metered, 0, timed, CodeStore);
delegate!(Metered, 0, timed, RefreshTokenStore);
delegate!(Metered, 0, timed, DenylistStore);
delegate!(Metered, 0, timed, RateLimitStore);
delegate!(Metered, 0, timed, FailureStore);
delegate!(Metered, 0, timed, ReplayStore);
delegate!(Metered, 0, timed, AuditStore);
delegate!(Metered, 0, timed, AdminStore);
delegate!(Metered, 0, timed, ChangeFeed);
delegate!(Metered, 0, timed, Maintenance);
delegate!(Metered, 0, timed, FederatedIdentityStore);
