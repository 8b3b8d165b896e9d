//! Signing keys in a running server: the key set built from the store, and
//! reloaded on an interval so that rotations made by the CLI, the admin API
//! or another replica take effect without a restart. Creating, rotating and
//! retiring keys are operations of `latchkey_domain::keys`.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Clock;
use latchkey_domain::keys::KeyOpError;
use latchkey_keys::{EncryptionKey, KeyMaterial, KeyRing, KeySet, KeyUse, open_private_key};
use latchkey_store::{KeyState, KeyStore, StoredKey};

/// Builds the key set from the store: the active key signs, every other key
/// that is not past its removal time is published.
pub async fn load_key_set(
    store: &dyn KeyStore,
    encryption: Option<&EncryptionKey>,
    now: i64,
    previous: Option<&KeySet>,
) -> Result<Option<KeySet>, KeyOpError> {
    let keys = store.list_keys().await?;
    record_key_ages(&keys, now);
    let keys: Vec<StoredKey> = keys.into_iter().filter(|k| k.remove_after.is_none_or(|t| t > now)).collect();
    let use_of = |k: &StoredKey| {
        if k.state == KeyState::Active { KeyUse::Signing } else { KeyUse::Published }
    };
    // Publication order: signing key, then next, then retired (newest first).
    let mut ordered: Vec<&StoredKey> = keys.iter().collect();
    ordered.sort_by_key(|k| match k.state {
        KeyState::Active => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
    });
    let fingerprint = KeySet::fingerprint_of(ordered.iter().map(|k| (k.kid.as_str(), use_of(k))));
    if previous.is_some_and(|p| p.fingerprint() == fingerprint) {
        return Ok(None);
    }
    let mut material = Vec::with_capacity(ordered.len());
    for k in ordered {
        let private_pem = match k.state {
            KeyState::Active => Some(open_private_key(&k.private_key, &k.kid, encryption)?),
            _ => None,
        };
        let alg = latchkey_keys::Algorithm::parse(&k.alg).ok_or_else(|| {
            KeyOpError::Refused(format!("signing key {} has an unknown algorithm {:?}", k.kid, k.alg))
        })?;
        material.push(KeyMaterial {
            kid: k.kid.clone(),
            alg,
            key_use: use_of(k),
            public_jwk: k.public_jwk.clone(),
            private_pem,
        });
    }
    Ok(Some(KeySet::build(material)?))
}

/// Reloads keys every `interval` so that rotations made by the CLI or another
/// replica take effect without a restart; also drops keys past removal.
pub fn spawn_refresher(
    store: Arc<dyn KeyStore>,
    ring: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    encryption: Option<EncryptionKey>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let now = clock.now();
            if let Err(e) = store.delete_expired_keys(now).await {
                tracing::warn!(error = %e, "could not delete expired signing keys");
            }
            let current = ring.current();
            match load_key_set(store.as_ref(), encryption.as_ref(), now, Some(&current)).await {
                Ok(Some(set)) => {
                    tracing::info!(
                        signing_kid = set.signing_key().map(|k| k.kid()).unwrap_or("none"),
                        "signing keys reloaded"
                    );
                    ring.replace(set);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not reload signing keys; keeping the current ones")
                }
            }
        }
    })
}

/// Sets the `latchkey_signing_key_age_seconds{state}` gauges (the youngest
/// key of each state; for alerting on a rotation that did not happen). Every
/// load of the key set calls it, from the list it read anyway.
fn record_key_ages(keys: &[StoredKey], now: i64) {
    for state in [KeyState::Next, KeyState::Active, KeyState::Retired] {
        if let Some(k) = keys.iter().filter(|k| k.state == state).max_by_key(|k| k.created_at) {
            metrics::gauge!("latchkey_signing_key_age_seconds", "state" => state.as_str())
                .set((now - k.created_at) as f64);
        }
    }
}
