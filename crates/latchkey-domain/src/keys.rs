//! The signing-key lifecycle over the shared store: keys are created on
//! first start, promoted `next` → `active` → `retired` by a rotation (CLI or
//! admin API), and retired early on demand. A new key is always published
//! (as `next`) before it signs. Each configured algorithm (`keys.algorithms`)
//! has its own keys and its own next, active and retired ones; a rotation
//! rotates every algorithm.

use latchkey_core::Clock;
use latchkey_keys::{Algorithm, EncryptionKey, generate, open_private_key, seal_private_key};
use latchkey_store::{KeyState, KeyStore, StoreError, StoredKey};

/// What the key operations need of the configuration (`[keys]`).
#[derive(Clone)]
pub struct KeySettings {
    /// The algorithms keys are kept for (RS256 always among them).
    pub algorithms: Vec<Algorithm>,
    /// Size of new RSA keys.
    pub rsa_bits: u32,
    /// Seals private keys at rest, if set.
    pub encryption_key: Option<EncryptionKey>,
    /// How long a next key must have been published before a rotation
    /// (without force) makes it sign.
    pub min_publish_seconds: i64,
    /// How long a retired key stays published: until every token it signed
    /// has expired and every cache of the JWKS has been refreshed.
    pub retired_grace_seconds: i64,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyOpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] latchkey_keys::KeyError),
    #[error("no key with kid {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Refused(String),
}

/// Generates a key in the given state, sealed if an encryption key is set.
pub fn new_key(
    state: KeyState,
    alg: Algorithm,
    bits: u32,
    encryption: Option<&EncryptionKey>,
    now: i64,
) -> Result<StoredKey, KeyOpError> {
    let generated = generate(alg, bits)?;
    Ok(StoredKey {
        private_key: seal_private_key(&generated.private_pem, &generated.kid, encryption)?,
        public_jwk: generated.public_jwk.to_string(),
        kid: generated.kid,
        alg: alg.as_str().into(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        remove_after: None,
    })
}

type Generation = tokio::task::JoinHandle<Result<StoredKey, KeyOpError>>;

/// Starts generating a key on the blocking pool: RSA key generation takes
/// hundreds of milliseconds and must not hold an executor thread.
fn start_generating(state: KeyState, alg: Algorithm, settings: &KeySettings, now: i64) -> Generation {
    let bits = settings.rsa_bits;
    let enc = settings.encryption_key.clone();
    tokio::task::spawn_blocking(move || new_key(state, alg, bits, enc.as_ref(), now))
}

async fn finish(generation: Generation) -> Result<StoredKey, KeyOpError> {
    generation.await.map_err(|e| KeyOpError::Refused(format!("key generation task failed: {e}")))?
}

/// Refuses to work on keys this process could not open: a CLI run without
/// (or with another) encryption key would otherwise create keys that the
/// servers cannot use.
fn check_encryption(keys: &[StoredKey], settings: &KeySettings) -> Result<(), KeyOpError> {
    for k in keys.iter().filter(|k| k.state != KeyState::Retired) {
        open_private_key(&k.private_key, &k.kid, settings.encryption_key.as_ref()).map_err(|e| {
            KeyOpError::Refused(format!(
                "signing key {} cannot be opened ({e}); use the same keys.encryption_key as the servers",
                k.kid
            ))
        })?;
        if settings.encryption_key.is_some() != k.private_key.starts_with("enc:") {
            return Err(KeyOpError::Refused(format!(
                "signing key {} is {} but keys.encryption_key is {}; use the same setting as the servers",
                k.kid,
                if k.private_key.starts_with("enc:") { "encrypted" } else { "not encrypted" },
                if settings.encryption_key.is_some() { "set" } else { "not set" },
            )));
        }
    }
    Ok(())
}

/// Makes sure there is an active and a next key of every configured
/// algorithm. Replicas starting together race safely: the store's unique
/// indexes admit one of each per algorithm, and a loser's insert fails with
/// a conflict that is ignored.
pub async fn ensure_keys(store: &dyn KeyStore, clock: &dyn Clock, settings: &KeySettings) -> Result<(), KeyOpError> {
    let existing = store.list_keys().await?;
    check_encryption(&existing, settings)?;
    let mut missing = Vec::new();
    for alg in &settings.algorithms {
        for state in [KeyState::Active, KeyState::Next] {
            if !existing.iter().any(|k| k.state == state && k.alg == alg.as_str()) {
                missing.push((state, *alg));
            }
        }
    }
    // The missing keys are generated at once, one per core: ready then
    // waits for the slowest generation, not for the sum.
    let generations: Vec<Generation> =
        missing.iter().map(|(state, alg)| start_generating(*state, *alg, settings, clock.now())).collect();
    for generation in generations {
        let key = finish(generation).await?;
        let state = key.state;
        match store.insert_key(&key).await {
            Ok(()) => tracing::info!(kid = %key.kid, alg = %key.alg, state = state.as_str(), "signing key created"),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One algorithm's rotation: the key that signs now, and the new next key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotated {
    pub alg: String,
    pub active: String,
    pub next: String,
}

/// For every configured algorithm, promotes the next key, retires the
/// active one and creates a new next key. Refuses when a next key has been
/// published for less than `keys.min_publish_seconds`, unless forced:
/// resource servers may not have fetched it yet. The default algorithm
/// (RS256) comes first in the answer.
pub async fn rotate(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    settings: &KeySettings,
    force: bool,
) -> Result<Vec<Rotated>, KeyOpError> {
    ensure_keys(store, clock, settings).await?;
    let now = clock.now();
    let keys = store.list_keys().await?;
    let mut nexts = Vec::new();
    for alg in &settings.algorithms {
        let next = keys
            .iter()
            .find(|k| k.state == KeyState::Next && k.alg == alg.as_str())
            .ok_or_else(|| KeyOpError::Refused(format!("no next {alg} key")))?;
        let age = now - next.created_at;
        if !force && age < settings.min_publish_seconds {
            return Err(KeyOpError::Refused(format!(
                "the next key {} has been published for {age} s only; resource servers may not have it yet \
                 (keys.min_publish_seconds = {}). Wait, or pass --force",
                next.kid, settings.min_publish_seconds
            )));
        }
        nexts.push((*alg, next));
    }
    let generations: Vec<Generation> =
        nexts.iter().map(|(alg, _)| start_generating(KeyState::Next, *alg, settings, now)).collect();
    let mut rotated = Vec::new();
    for ((alg, next), generation) in nexts.into_iter().zip(generations) {
        let new_next = finish(generation).await?;
        store.rotate_keys(&next.kid, &new_next, now, now + settings.retired_grace_seconds).await?;
        tracing::info!(%alg, active = %next.kid, next = %new_next.kid, "signing keys rotated");
        rotated.push(Rotated { alg: alg.as_str().into(), active: next.kid.clone(), next: new_next.kid });
    }
    Ok(rotated)
}

/// Retires a key that is not signing. A `next` key is replaced by a fresh one;
/// a retired key can be withdrawn from the JWKS at once with `now` (after a
/// compromise: tokens it signed stop verifying).
pub async fn retire(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    settings: &KeySettings,
    kid: &str,
    immediately: bool,
) -> Result<String, KeyOpError> {
    let now = clock.now();
    let keys = store.list_keys().await?;
    let key = keys.iter().find(|k| k.kid == kid).ok_or_else(|| KeyOpError::UnknownKey(kid.to_string()))?;
    let remove_after = if immediately { now } else { now + settings.retired_grace_seconds };
    match key.state {
        KeyState::Active => Err(KeyOpError::Refused(format!(
            "{kid} is the signing key; run `latchkey keys rotate` first, then retire it"
        ))),
        KeyState::Next => {
            store.retire_next_key(kid, now, remove_after).await?;
            ensure_keys(store, clock, settings).await?;
            if immediately {
                store.delete_expired_keys(now).await?;
            }
            Ok(format!("retired {kid}; a new next key was created"))
        }
        KeyState::Retired if immediately => {
            store.set_key_remove_after(kid, now).await?;
            store.delete_expired_keys(now).await?;
            Ok(format!("removed {kid}: servers stop publishing it within keys.refresh_interval_seconds"))
        }
        KeyState::Retired => Err(KeyOpError::Refused(format!(
            "{kid} is already retired; pass --now to stop publishing it before its tokens expire"
        ))),
    }
}

/// What a rotation answers (CLI `--json`, admin API): RS256's keys as
/// `active` and `next`, as before other algorithms existed, and every
/// algorithm's in `algorithms`.
pub fn rotation_json(rotated: &[Rotated]) -> serde_json::Value {
    let first = rotated.first();
    serde_json::json!({
        "active": first.map(|r| r.active.as_str()),
        "next": first.map(|r| r.next.as_str()),
        "algorithms": rotated,
    })
}
