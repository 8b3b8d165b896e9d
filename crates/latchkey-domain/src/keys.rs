//! The signing-key lifecycle over the shared store: keys are created on
//! first start, promoted `next` → `active` → `retired` by a rotation (CLI or
//! admin API), and retired early on demand. A new key is always published
//! (as `next`) before it signs.

use latchkey_core::Clock;
use latchkey_keys::{EncryptionKey, generate_rsa, open_private_key, seal_private_key};
use latchkey_store::{KeyState, KeyStore, StoreError, StoredKey};

/// What the key operations need of the configuration (`[keys]`).
#[derive(Clone)]
pub struct KeySettings {
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
    bits: u32,
    encryption: Option<&EncryptionKey>,
    now: i64,
) -> Result<StoredKey, KeyOpError> {
    let generated = generate_rsa(bits)?;
    Ok(StoredKey {
        private_key: seal_private_key(&generated.private_pem, &generated.kid, encryption)?,
        public_jwk: generated.public_jwk.to_string(),
        kid: generated.kid,
        alg: "RS256".into(),
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
fn start_generating(state: KeyState, settings: &KeySettings, now: i64) -> Generation {
    let bits = settings.rsa_bits;
    let enc = settings.encryption_key.clone();
    tokio::task::spawn_blocking(move || new_key(state, bits, enc.as_ref(), now))
}

async fn finish(generation: Generation) -> Result<StoredKey, KeyOpError> {
    generation.await.map_err(|e| KeyOpError::Refused(format!("key generation task failed: {e}")))?
}

async fn generate(state: KeyState, settings: &KeySettings, now: i64) -> Result<StoredKey, KeyOpError> {
    finish(start_generating(state, settings, now)).await
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

/// Makes sure there is an active and a next key. Replicas starting together
/// race safely: the store's unique indexes admit one of each, and a loser's
/// insert fails with a conflict that is ignored.
pub async fn ensure_keys(store: &dyn KeyStore, clock: &dyn Clock, settings: &KeySettings) -> Result<(), KeyOpError> {
    let existing = store.list_keys().await?;
    check_encryption(&existing, settings)?;
    let missing: Vec<KeyState> =
        [KeyState::Active, KeyState::Next].into_iter().filter(|s| !existing.iter().any(|k| k.state == *s)).collect();
    // On a first start both keys are generated at once, one per core: ready
    // then waits for the slower generation, not for the sum.
    let generations: Vec<Generation> = missing.iter().map(|s| start_generating(*s, settings, clock.now())).collect();
    for generation in generations {
        let key = finish(generation).await?;
        let state = key.state;
        match store.insert_key(&key).await {
            Ok(()) => tracing::info!(kid = %key.kid, state = state.as_str(), "signing key created"),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Promotes the next key, retires the active one, creates a new next key.
/// Refuses when the next key has been published for less than
/// `keys.min_publish_seconds`, unless forced: resource servers may not have
/// fetched it yet.
pub async fn rotate(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    settings: &KeySettings,
    force: bool,
) -> Result<(String, String), KeyOpError> {
    ensure_keys(store, clock, settings).await?;
    let now = clock.now();
    let keys = store.list_keys().await?;
    let next =
        keys.iter().find(|k| k.state == KeyState::Next).ok_or_else(|| KeyOpError::Refused("no next key".into()))?;
    let age = now - next.created_at;
    if !force && age < settings.min_publish_seconds {
        return Err(KeyOpError::Refused(format!(
            "the next key {} has been published for {age} s only; resource servers may not have it yet \
             (keys.min_publish_seconds = {}). Wait, or pass --force",
            next.kid, settings.min_publish_seconds
        )));
    }
    let new_next = generate(KeyState::Next, settings, now).await?;
    store.rotate_keys(&next.kid, &new_next, now, now + settings.retired_grace_seconds).await?;
    tracing::info!(active = %next.kid, next = %new_next.kid, "signing keys rotated");
    Ok((next.kid.clone(), new_next.kid))
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
