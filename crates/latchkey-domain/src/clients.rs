//! Clients: registering, replacing the settings of, rotating the secret of
//! and deleting a client.
//! `latchkey client …`, the admin API's `/clients` and RFC 7591 / 7592
//! registration call these; each checks the metadata in its own words
//! beforehand (`ClientMetadata::validate` underneath).

use latchkey_core::Client;
use latchkey_core::client::{AuthMethod, ClientSettings};
use latchkey_core::secret::ClientSecretKey;
use latchkey_store::{ClientStore, StoreError, StoreResult};

/// Registers a client with `settings` (already checked): a fresh id and,
/// for a method with a secret, a fresh secret, stored only hashed (or, for
/// `client_secret_jwt`, derivable with `secret_key`) and returned once.
pub async fn create_client<S: ClientStore + ?Sized>(
    store: &S,
    settings: ClientSettings,
    now: i64,
    secret_key: Option<&ClientSecretKey>,
) -> StoreResult<(Client, Option<String>)> {
    let (client, secret) = Client::register(settings, now, secret_key);
    store.insert_client(&client).await?;
    Ok((client, secret))
}

/// What replacing a client's settings did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The new secret, returned once, if the client moved to a method with
    /// another kind of secret.
    pub new_secret: Option<String>,
}

/// Replaces `client`'s settings with `settings` (already checked, with what
/// the caller keeps from the old ones) and saves it. A move to another kind
/// of secret issues a fresh one; a move away from secrets drops it. `None`
/// if the client was deleted meanwhile.
pub async fn replace_client<S: ClientStore + ?Sized>(
    store: &S,
    client: &mut Client,
    settings: ClientSettings,
    now: i64,
    secret_key: Option<&ClientSecretKey>,
) -> StoreResult<Option<Replaced>> {
    let new_secret = client.replace_settings(settings, now, secret_key);
    Ok(store.update_client(client).await?.then_some(Replaced { new_secret }))
}

/// Deletes client `client_id` with its consents and refresh tokens (the
/// store's cascade); its access tokens stop validating with it. Returns
/// whether there was such a client.
pub async fn delete_client<S: ClientStore + ?Sized>(store: &S, client_id: &str) -> StoreResult<bool> {
    store.delete_client(client_id).await
}

/// Why a client's secret cannot be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateSecretError {
    #[error("client {0} is public and has no secret")]
    Public(String),
    #[error("client {0} authenticates with private_key_jwt and has no secret; update its keys instead")]
    PrivateKeyJwt(String),
    #[error("client {0} uses client_secret_jwt, whose secrets need keys.encryption_key as the servers have it")]
    NeedsEncryptionKey(String),
    /// The client was deleted meanwhile.
    #[error("no client with id {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues `client` a fresh secret (stored hashed, or derived for
/// `client_secret_jwt`) and saves it; the old secret stops working at once,
/// on every replica. Returns the new secret, to be shown once.
pub async fn rotate_secret<S: ClientStore + ?Sized>(
    store: &S,
    client: &mut Client,
    now: i64,
    secret_key: Option<&ClientSecretKey>,
) -> Result<String, RotateSecretError> {
    let id = client.client_id.clone();
    match client.settings.token_endpoint_auth_method {
        AuthMethod::None => return Err(RotateSecretError::Public(id)),
        AuthMethod::PrivateKeyJwt => return Err(RotateSecretError::PrivateKeyJwt(id)),
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt => {}
    }
    let Some(secret) = client.issue_secret(secret_key) else {
        return Err(RotateSecretError::NeedsEncryptionKey(id));
    };
    client.updated_at = now;
    if !store.update_client(client).await? {
        return Err(RotateSecretError::NotFound(client.client_id.clone()));
    }
    Ok(secret)
}
