//! Clients: registering, replacing the settings of and deleting a client.
//! `latchkey client …`, the admin API's `/clients` and RFC 7591 / 7592
//! registration call these; each checks the metadata in its own words
//! beforehand (`ClientMetadata::validate` underneath).

use latchkey_core::Client;
use latchkey_core::client::ClientSettings;
use latchkey_core::secret::ClientSecretKey;
use latchkey_store::{ClientStore, StoreResult};

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
