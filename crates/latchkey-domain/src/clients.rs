//! Clients: registering, replacing the settings of, rotating the secret of
//! and deleting a client; an operator's settings checked from JSON (the
//! admin API and the admin console); finding clients.
//! `latchkey client …`, the admin API's `/clients`, the admin console and
//! RFC 7591 / 7592 registration call these; the CLI and registration check
//! the metadata in their own words beforehand (`ClientMetadata::validate`
//! underneath).

use latchkey_core::client::{AuthMethod, ClientSettings, MetadataError, check_audiences};
use latchkey_core::secret::ClientSecretKey;
use latchkey_core::{Client, ClientMetadata, RegistrationPolicy};
use latchkey_store::{ClientStore, Store, StoreError, StoreResult};
use serde_json::{Map, Value};

/// Members an operator's client body may carry: RFC 7591 metadata (and the
/// extensions registration accepts) ...
pub const METADATA: &[&str] = &[
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "scope",
    "contacts",
    "post_logout_redirect_uris",
    "software_id",
    "software_version",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "require_pushed_authorization_requests",
    "require_signed_request_object",
    "authorization_signed_response_alg",
    "id_token_signed_response_alg",
    "userinfo_signed_response_alg",
    "dpop_bound_access_tokens",
    "fapi2_security_profile",
    "jwks_uri",
    "jwks",
    "token_endpoint_auth_signing_alg",
    "token_exchange_audiences",
    "token_exchange_subject_clients",
    "require_mfa",
    "default_acr_values",
];
/// ... and the settings only operators set.
pub const OPERATOR: &[&str] = &["skip_consent", "audiences", "introspection"];

/// Why an operator's client body was refused. The message is what the admin
/// API answers; [`SettingsError::member`] names the member at fault where
/// one is, for a form to show the error beside its field.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown member {0:?}")]
    Unknown(String),
    /// The body does not have the shape of client metadata (a list where a
    /// string belongs, …).
    #[error("invalid client metadata: {0}")]
    Shape(String),
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    #[error("client_name is required")]
    NameRequired,
    #[error("{0} must be a boolean")]
    NotBoolean(&'static str),
    #[error("audiences must be an array of strings")]
    AudiencesShape,
    #[error("{0}")]
    Audiences(String),
}

impl SettingsError {
    /// The member the error is about, when it names one.
    pub fn member(&self) -> Option<&'static str> {
        match self {
            Self::Unknown(_) => None,
            Self::NameRequired => Some("client_name"),
            Self::NotBoolean(name) => Some(name),
            Self::AudiencesShape | Self::Audiences(_) => Some("audiences"),
            Self::Metadata(MetadataError::InvalidRedirectUri(m)) if m.contains("post_logout") => {
                Some("post_logout_redirect_uris")
            }
            Self::Metadata(MetadataError::InvalidRedirectUri(_)) => Some("redirect_uris"),
            Self::Metadata(MetadataError::InvalidClientMetadata(m)) | Self::Shape(m) => {
                // The longest member the message names ("post_logout_redirect_uris"
                // before "redirect_uris").
                METADATA.iter().filter(|name| m.contains(**name)).max_by_key(|name| name.len()).copied()
            }
        }
    }
}

/// An operator's client body (the admin API's JSON, the console's form
/// read into the same members), checked as `latchkey client create` checks
/// its flags: the metadata by `ClientMetadata::validate` under `policy`, a
/// name required, the operator's settings (`skip_consent`, `introspection`,
/// `audiences`) read beside it. Members left out take their defaults.
pub fn settings_from_json(
    policy: &RegistrationPolicy,
    body: Map<String, Value>,
) -> Result<ClientSettings, SettingsError> {
    if let Some(unknown) = body.keys().find(|k| !METADATA.contains(&k.as_str()) && !OPERATOR.contains(&k.as_str())) {
        return Err(SettingsError::Unknown(unknown.clone()));
    }
    let mut metadata_members = body.clone();
    metadata_members.retain(|k, _| METADATA.contains(&k.as_str()));
    let metadata: ClientMetadata =
        serde_json::from_value(Value::Object(metadata_members)).map_err(|e| SettingsError::Shape(e.to_string()))?;
    let mut settings = metadata.validate(policy)?;
    if settings.client_name.trim().is_empty() {
        return Err(SettingsError::NameRequired);
    }
    let flag = |name: &'static str| match body.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(SettingsError::NotBoolean(name)),
    };
    settings.skip_consent = flag("skip_consent")?;
    settings.introspection = flag("introspection")?;
    settings.audiences = match body.get("audiences") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| SettingsError::AudiencesShape)?,
    };
    check_audiences(&settings.audiences).map_err(SettingsError::Audiences)?;
    Ok(settings)
}

/// An operator replaces `client`'s settings (the admin API's PUT, `latchkey
/// client update`, the console's edit form): as [`replace_client`], keeping
/// what only registration sets: whether the client registered itself, its
/// RFC 7592 access (the registration access token) and who vouched for it
/// (the software statement's issuer).
pub async fn operator_replace<S: ClientStore + ?Sized>(
    store: &S,
    client: &mut Client,
    mut settings: ClientSettings,
    now: i64,
    secret_key: Option<&ClientSecretKey>,
) -> StoreResult<Option<Replaced>> {
    settings.dynamically_registered = client.settings.dynamically_registered;
    settings.registration_access_token_hash = client.settings.registration_access_token_hash.take();
    settings.software_statement_issuer = client.settings.software_statement_issuer.take();
    replace_client(store, client, settings, now, secret_key).await
}

/// Clients whose id or name contains `query` (ignoring case), in the
/// store's order, at most `limit` after skipping `offset`; and whether more
/// matched. A scan: clients number in the hundreds.
pub async fn search(store: &dyn Store, query: &str, offset: usize, limit: usize) -> StoreResult<(Vec<Client>, bool)> {
    let needle = query.trim().to_lowercase();
    let mut found: Vec<Client> = store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| {
            needle.is_empty()
                || c.client_id.to_lowercase().contains(&needle)
                || c.settings.client_name.to_lowercase().contains(&needle)
        })
        .skip(offset)
        .take(limit + 1)
        .collect();
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

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
/// whether there was such a client. The admin console's own client is
/// refused ([`DeleteClientError::Protected`]), whichever door asks.
pub async fn delete_client<S: ClientStore + ?Sized>(store: &S, client_id: &str) -> Result<bool, DeleteClientError> {
    if is_protected(client_id) {
        return Err(DeleteClientError::Protected(client_id.to_string()));
    }
    Ok(store.delete_client(client_id).await?)
}

/// Why a client cannot be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteClientError {
    #[error(
        "client {0} is the admin console's own client; the server registers it while admin.console is on, \
         and it cannot be deleted"
    )]
    Protected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The client id of the admin console (docs/admin-console.md): the server
/// registers it at startup while `admin.console` is on.
pub const CONSOLE_CLIENT_ID: &str = "latchkey-admin-console";

/// Clients no operator tool may delete: the console's own.
pub fn is_protected(client_id: &str) -> bool {
    client_id == CONSOLE_CLIENT_ID
}

/// The console's client as it should be: confidential with a secret nobody
/// knows (its codes are redeemed in the server's own process, never at
/// `/token`), the code flow only, first-party (no consent screen).
pub fn console_client_settings(redirect_uri: &str) -> ClientSettings {
    ClientSettings {
        client_name: "Latchkey admin console".into(),
        redirect_uris: vec![redirect_uri.to_string()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![latchkey_core::GrantType::AuthorizationCode],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        scope: latchkey_core::Scope::parse("openid profile groups").expect("a valid scope"),
        contacts: Vec::new(),
        client_uri: None,
        logo_uri: None,
        policy_uri: None,
        tos_uri: None,
        software_id: None,
        software_version: None,
        software_statement_issuer: None,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        skip_consent: true,
        audiences: Vec::new(),
        introspection: false,
        token_exchange_audiences: Vec::new(),
        token_exchange_subject_clients: Vec::new(),
        dynamically_registered: false,
        jwks: None,
        jwks_uri: None,
        token_endpoint_auth_signing_alg: None,
        require_pushed_authorization_requests: false,
        require_signed_request_object: false,
        authorization_signed_response_alg: None,
        id_token_signed_response_alg: None,
        userinfo_signed_response_alg: None,
        dpop_bound_access_tokens: false,
        fapi2_security_profile: false,
        registration_access_token_hash: None,
        require_mfa: false,
        default_acr_values: Vec::new(),
    }
}

/// Registers the console's client, or brings its redirect URIs up to date:
/// idempotent, and safe when replicas start at once (an insert that loses
/// the race reads what won). Returns whether anything was written.
pub async fn ensure_console_client<S: ClientStore + ?Sized>(
    store: &S,
    redirect_uri: &str,
    now: i64,
) -> StoreResult<bool> {
    let want = console_client_settings(redirect_uri);
    for _ in 0..2 {
        match store.get_client(CONSOLE_CLIENT_ID).await? {
            Some(mut client) => {
                // Operators may have changed other settings (require_mfa,
                // default_acr_values): only what the console depends on is reset.
                let s = &mut client.settings;
                if s.redirect_uris == want.redirect_uris && s.grant_types == want.grant_types && s.skip_consent {
                    return Ok(false);
                }
                s.redirect_uris = want.redirect_uris.clone();
                s.grant_types = want.grant_types.clone();
                s.response_types = want.response_types.clone();
                s.skip_consent = true;
                client.updated_at = now;
                store.update_client(&client).await?;
                return Ok(true);
            }
            None => {
                let (mut client, _secret) = Client::register(want.clone(), now, None);
                client.client_id = CONSOLE_CLIENT_ID.to_string();
                match store.insert_client(&client).await {
                    Ok(()) => return Ok(true),
                    // Another replica inserted it first: read that one.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(false)
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
