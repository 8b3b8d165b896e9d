//! Registered clients and the validation of client metadata (RFC 7591 §2),
//! shared by the CLI and the registration endpoint so that both accept
//! exactly the same registrations.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::fapi2::{self, Fapi2Client};
use crate::redirect_uri::{validate_redirect_uri, validate_web_uri};
use crate::scope::Scope;
use crate::secret::ClientSecretKey;

/// Grant types a client may be registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// The device authorization grant (RFC 8628).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// Token exchange (RFC 8693), by its URN everywhere.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => crate::device::GRANT_TYPE,
            Self::TokenExchange => TOKEN_EXCHANGE,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            crate::device::GRANT_TYPE => Some(Self::DeviceCode),
            TOKEN_EXCHANGE => Some(Self::TokenExchange),
            _ => None,
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client (native or browser app) that holds no secret.
    None,
    /// A JWT signed with the client's private key (RFC 7523, OIDC Core §9);
    /// the client registers its public keys (`jwks` or `jwks_uri`), no secret.
    PrivateKeyJwt,
    /// A JWT signed with HMAC, keyed by the client secret (OIDC Core §9). The
    /// secret is derived, not stored (see [`crate::secret::ClientSecretKey`]),
    /// so this needs `keys.encryption_key`.
    ClientSecretJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 5] =
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None, Self::PrivateKeyJwt, Self::ClientSecretJwt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
        }
    }

    /// Whether the method authenticates with a signed JWT (RFC 7523).
    pub fn uses_assertion(self) -> bool {
        matches!(self, Self::PrivateKeyJwt | Self::ClientSecretJwt)
    }

    /// The algorithms this method's assertions may be signed with.
    pub fn assertion_algorithms(self) -> &'static [&'static str] {
        match self {
            Self::PrivateKeyJwt => &crate::client_keys::ASSERTION_ALGORITHMS,
            Self::ClientSecretJwt => &crate::client_keys::HMAC_ALGORITHMS,
            _ => &[],
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// Everything registered about a client except its identity and secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub scope: Scope,
    #[serde(default)]
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The `iss` of the verified software statement (RFC 7591 §2.3) the
    /// client registered with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement_issuer: Option<String>,
    /// OIDC Back-Channel Logout 1.0: where logout tokens are posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// First-party client: its consent screen is skipped.
    #[serde(default)]
    pub skip_consent: bool,
    /// Resource indicators (RFC 8707) this client may ask access tokens for.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// A resource server allowed to introspect any token, not only its own.
    #[serde(default)]
    pub introspection: bool,
    /// Token exchange (RFC 8693): the audiences (client ids) and resources
    /// this client may exchange tokens for. Empty: any registered client and
    /// any resource the server knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
    /// Token exchange: the clients whose tokens this client may present as
    /// subject tokens. Empty: any (the token must still be issued to this
    /// client or name it in `aud`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_subject_clients: Vec<String>,
    /// Registered through the registration endpoint rather than by an operator.
    #[serde(default)]
    pub dynamically_registered: bool,
    /// The client's public keys (a JWK Set): for `private_key_jwt`, and to
    /// check its signed request objects (RFC 9101).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys (as `jwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm the client's assertions may use, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// RFC 9126 §6: this client's authorization requests must come through
    /// the pushed authorization request endpoint.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101 §10.5: this client's authorization requests must be signed
    /// request objects.
    #[serde(default)]
    pub require_signed_request_object: bool,
    /// JARM §3: the algorithm of this client's signed authorization
    /// responses (`response_mode` `jwt`, …); RS256 when not named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_signed_response_alg: Option<String>,
    /// OIDC Registration §2: the algorithm of this client's ID tokens (and
    /// logout tokens); RS256 when not named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// OIDC Registration §2: when named, UserInfo answers this client with
    /// a JWT signed with it (`application/jwt`); plain JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// RFC 9449 §5.2: this client's token requests must carry a DPoP proof
    /// (its access tokens are always DPoP-bound).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// This client follows the FAPI 2.0 Security Profile (docs/advanced-protocols.md, "FAPI 2.0"):
    /// pushed requests, PKCE, `private_key_jwt`, DPoP-bound tokens, short
    /// codes, and PS256/ES256/EdDSA signatures only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fapi2_security_profile: bool,
    /// SHA-256 of the RFC 7592 registration access token (dynamically
    /// registered clients only); the token itself is shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_hash: Option<String>,
    /// Extension (docs/mfa.md): everyone signing in to this client gives a
    /// second factor (or sets one up right after the password).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_mfa: bool,
    /// OpenID Connect Registration §2: the `acr` values asked for when a
    /// request names none. Here they are the client's requirement: a session
    /// weaker than the weakest of them is stepped up, and one that cannot
    /// be is `unmet_authentication_requirements` (docs/mfa.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_acr_values: Vec<String>,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    /// `None` for public clients. Only the hash is ever stored.
    pub secret_hash: Option<String>,
    pub settings: ClientSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a client's secret is kept: `client_secret_basic` and `_post` secrets
/// are random and stored as a hash; `client_secret_jwt` ones are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretKind {
    None,
    Hashed,
    Derived,
}

impl SecretKind {
    fn of(method: AuthMethod) -> Self {
        match method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => Self::Hashed,
            AuthMethod::ClientSecretJwt => Self::Derived,
            AuthMethod::None | AuthMethod::PrivateKeyJwt => Self::None,
        }
    }
}

impl Client {
    /// Replaces the settings. A client that moves to a method with another
    /// kind of secret gets a fresh one (returned once; never stored in
    /// plain); one that moves away from secrets loses it.
    pub fn replace_settings(
        &mut self,
        settings: ClientSettings,
        now: i64,
        secret_key: Option<&ClientSecretKey>,
    ) -> Option<String> {
        let changes_kind = SecretKind::of(self.settings.token_endpoint_auth_method)
            != SecretKind::of(settings.token_endpoint_auth_method);
        self.settings = settings;
        self.updated_at = now;
        if changes_kind { self.issue_secret(secret_key) } else { None }
    }

    /// A newly registered client with a fresh id and, for clients with a
    /// secret, a fresh 256-bit one, returned once.
    pub fn register(
        settings: ClientSettings,
        now: i64,
        secret_key: Option<&ClientSecretKey>,
    ) -> (Self, Option<String>) {
        let mut client = Self {
            client_id: crate::random::client_id(),
            secret_hash: None,
            settings,
            created_at: now,
            updated_at: now,
        };
        let secret = client.issue_secret(secret_key);
        (client, secret)
    }

    /// Gives the client a new secret as its method needs (the old one stops
    /// working) and returns it; `None` for methods without a secret, and for
    /// `client_secret_jwt` without the server's key, which registration
    /// refuses beforehand.
    pub fn issue_secret(&mut self, secret_key: Option<&ClientSecretKey>) -> Option<String> {
        let (secret, stored) = match (SecretKind::of(self.settings.token_endpoint_auth_method), secret_key) {
            (SecretKind::Hashed, _) => {
                let secret = crate::random::client_secret();
                let stored = crate::secret::hash_client_secret(&secret);
                (Some(secret), Some(stored))
            }
            (SecretKind::Derived, Some(key)) => {
                let (secret, stored) = key.issue(&self.client_id);
                (Some(secret), Some(stored))
            }
            (SecretKind::Derived, None) | (SecretKind::None, _) => (None, None),
        };
        self.secret_hash = stored;
        secret
    }

    /// Whether `secret` is this client's secret (compared in constant time).
    pub fn verify_secret(&self, secret: &str, secret_key: Option<&ClientSecretKey>) -> bool {
        match (self.secret_hash.as_deref(), self.assertion_secret(secret_key)) {
            (_, Some(derived)) => crate::secret::constant_time_eq(secret.as_bytes(), derived.as_bytes()),
            (Some(stored), None) => crate::secret::verify_client_secret(secret, stored),
            (None, None) => false,
        }
    }

    /// The HMAC key of a `client_secret_jwt` client's assertions: its
    /// secret, derived again.
    pub fn assertion_secret(&self, secret_key: Option<&ClientSecretKey>) -> Option<String> {
        secret_key?.recover(&self.client_id, self.secret_hash.as_deref()?)
    }

    pub fn is_public(&self) -> bool {
        !self.settings.token_endpoint_auth_method.is_confidential()
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.settings.grant_types.contains(&grant)
    }

    /// The registered redirect URI that equals `candidate` byte for byte.
    pub fn redirect_uri_matches(&self, candidate: &str) -> bool {
        self.settings.redirect_uris.iter().any(|u| u == candidate)
    }

    /// Metadata as RFC 7591 §3.2.1 returns it (without secrets).
    pub fn metadata_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.settings).expect("client settings serialize");
        if let Some(obj) = v.as_object_mut() {
            obj.remove("skip_consent");
            obj.remove("dynamically_registered");
            obj.remove("audiences");
            obj.remove("introspection");
            obj.remove("registration_access_token_hash");
            obj.remove("software_statement_issuer");
            if self.settings.backchannel_logout_uri.is_none() {
                obj.remove("backchannel_logout_session_required");
            }
            obj.insert("client_id".into(), self.client_id.clone().into());
            obj.insert("client_id_issued_at".into(), self.created_at.into());
        }
        v
    }
}

/// Client metadata as submitted (RFC 7591 §2 names). Unknown members are
/// ignored, as §2 requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub policy_uri: Option<String>,
    #[serde(default)]
    pub tos_uri: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub contacts: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub software_id: Option<String>,
    #[serde(default)]
    pub software_version: Option<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: Option<bool>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: Option<bool>,
    #[serde(default)]
    pub require_signed_request_object: Option<bool>,
    #[serde(default)]
    pub authorization_signed_response_alg: Option<String>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<String>,
    pub dpop_bound_access_tokens: Option<bool>,
    #[serde(default)]
    pub fapi2_security_profile: Option<bool>,
    /// Extension (docs/device-and-exchange.md): see
    /// [`ClientSettings::token_exchange_audiences`].
    #[serde(default)]
    pub token_exchange_audiences: Option<Vec<String>>,
    /// Extension: see [`ClientSettings::token_exchange_subject_clients`].
    #[serde(default)]
    pub token_exchange_subject_clients: Option<Vec<String>>,
    /// Extension: see [`ClientSettings::require_mfa`].
    #[serde(default)]
    pub require_mfa: Option<bool>,
    #[serde(default)]
    pub default_acr_values: Option<Vec<String>>,
}

/// What the operator allows, for registrations from either door.
#[derive(Debug, Clone, Default)]
pub struct RegistrationPolicy {
    /// Permit plain-http redirect URIs on non-loopback hosts (development only).
    pub allow_insecure_redirects: bool,
    /// The key `client_secret_jwt` secrets are derived with; without it that
    /// method is refused.
    pub client_secret_key: Option<ClientSecretKey>,
    /// The algorithms we sign with (`keys.algorithms`); empty: RS256 only.
    pub signing_algorithms: Vec<String>,
    /// Clients that do not say follow the FAPI 2.0 Security Profile
    /// (`fapi2.default_for_new_clients`).
    pub fapi2_by_default: bool,
}

impl RegistrationPolicy {
    /// What a client may name as `*_signed_response_alg`.
    pub fn signing_algorithms(&self) -> Vec<&str> {
        if self.signing_algorithms.is_empty() {
            vec!["RS256"]
        } else {
            self.signing_algorithms.iter().map(String::as_str).collect()
        }
    }
}

/// What the operator allows clients that register themselves (RFC 7591 and
/// 7592), beyond the rules every client follows. Empty lists allow anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfRegistrationPolicy {
    /// Hosts of http(s) redirect URIs: `app.example` exactly, or
    /// `*.app.example` for its subdomains.
    pub redirect_hosts: Vec<String>,
    /// Schemes of redirect URIs (`https`, `com.example.app`, ...).
    pub redirect_schemes: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
}

impl SelfRegistrationPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.redirect_hosts.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(parent) => host.strip_suffix(parent).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == *pattern,
        })
    }

    fn check_redirect(&self, field: &str, uri: &str) -> Result<(), MetadataError> {
        let refused = |why: String| MetadataError::InvalidRedirectUri(format!("{field}: {uri:?} {why}"));
        let parsed = url::Url::parse(uri).map_err(|_| refused("is not a URI".into()))?;
        if !self.redirect_schemes.is_empty() && !self.redirect_schemes.iter().any(|s| s == parsed.scheme()) {
            return Err(refused(format!(
                "uses a scheme this server does not allow ({})",
                self.redirect_schemes.join(", ")
            )));
        }
        if !self.redirect_hosts.is_empty() && matches!(parsed.scheme(), "http" | "https") {
            let host = parsed.host_str().unwrap_or_default();
            if !self.host_allowed(host) {
                return Err(refused("is on a host this server does not allow".into()));
            }
        }
        Ok(())
    }

    /// Applies the policy to settings that passed `ClientMetadata::validate`.
    /// `scope_given`: whether the client asked for a scope; a default scope
    /// is narrowed to what is allowed instead of refused.
    pub fn apply(&self, settings: &mut ClientSettings, scope_given: bool) -> Result<(), MetadataError> {
        for uri in &settings.redirect_uris {
            self.check_redirect("redirect_uris", uri)?;
        }
        for uri in &settings.post_logout_redirect_uris {
            self.check_redirect("post_logout_redirect_uris", uri)?;
        }
        // Token exchange turns a token a person gave one app into one for
        // another service: never open to self-registration by default.
        if self.grant_types.is_empty() && settings.grant_types.contains(&GrantType::TokenExchange) {
            return Err(MetadataError::InvalidClientMetadata(format!(
                "grant type {TOKEN_EXCHANGE} is open to self-registered clients only when \
                 registration.allowed_grant_types names it"
            )));
        }
        if !self.grant_types.is_empty()
            && let Some(g) = settings.grant_types.iter().find(|g| !self.grant_types.contains(g))
        {
            return Err(MetadataError::InvalidClientMetadata(format!(
                "grant type {} is not open to self-registered clients",
                g.as_str()
            )));
        }
        if !self.scopes.is_empty() {
            let allowed = |t: &str| self.scopes.iter().any(|s| s == t);
            let outside: Option<String> = settings.scope.iter().find(|t| !allowed(t)).map(str::to_string);
            if let Some(t) = outside {
                if scope_given {
                    return Err(MetadataError::InvalidClientMetadata(format!(
                        "scope {t} is not open to self-registered clients"
                    )));
                }
                settings.scope = Scope::from_tokens(settings.scope.iter().filter(|t| allowed(t)).collect::<Vec<_>>());
            }
        }
        Ok(())
    }
}

/// Why metadata was refused; maps to RFC 7591 §3.2.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("{0}")]
    InvalidRedirectUri(String),
    #[error("{0}")]
    InvalidClientMetadata(String),
}

impl From<MetadataError> for OAuthError {
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::InvalidRedirectUri(m) => OAuthError::new(ErrorCode::InvalidRedirectUri, m),
            MetadataError::InvalidClientMetadata(m) => OAuthError::new(ErrorCode::InvalidClientMetadata, m),
        }
    }
}

/// Resource indicators a client may ask tokens for: absolute URIs without
/// a fragment (RFC 8707 §2). Shared by the CLI and the admin API.
pub fn check_audiences(list: &[String]) -> Result<(), String> {
    match list.iter().find(|a| url::Url::parse(a).is_err() || a.contains('#')) {
        Some(a) => Err(format!("audience {a:?} must be an absolute URI without a fragment")),
        None => Ok(()),
    }
}

/// The most entries of each token exchange list.
const MAX_EXCHANGE_ENTRIES: usize = 50;

/// A token exchange list: client ids or absolute URIs, only for clients
/// with the grant.
fn check_exchange_list(field: &str, list: &[String], exchanges: bool) -> Result<(), MetadataError> {
    if list.is_empty() {
        return Ok(());
    }
    if !exchanges {
        return Err(bad(format!("{field} needs the grant type {TOKEN_EXCHANGE}")));
    }
    if list.len() > MAX_EXCHANGE_ENTRIES {
        return Err(bad(format!("at most {MAX_EXCHANGE_ENTRIES} {field} may be registered")));
    }
    for v in list {
        check_text(field, v)?;
        if v.is_empty() || v.contains(char::is_whitespace) || v.contains('#') {
            return Err(bad(format!("{field}: {v:?} must be a client id or an absolute URI without a fragment")));
        }
    }
    Ok(())
}

const MAX_REDIRECT_URIS: usize = 20;
const MAX_CONTACTS: usize = 10;
const MAX_TEXT: usize = 200;

fn bad(m: impl Into<String>) -> MetadataError {
    MetadataError::InvalidClientMetadata(m.into())
}

fn check_text(field: &str, value: &str) -> Result<(), MetadataError> {
    if value.chars().count() > MAX_TEXT {
        return Err(bad(format!("{field} is longer than {MAX_TEXT} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(bad(format!("{field} must not contain control characters")));
    }
    Ok(())
}

fn dedup(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn check_redirects(field: &str, uris: &[String], policy: &RegistrationPolicy) -> Result<(), MetadataError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::InvalidRedirectUri(format!(
            "at most {MAX_REDIRECT_URIS} {field} may be registered"
        )));
    }
    for uri in uris {
        validate_redirect_uri(uri, policy.allow_insecure_redirects)
            .map_err(|why| MetadataError::InvalidRedirectUri(format!("{field}: {uri:?} {why}")))?;
    }
    Ok(())
}

impl ClientMetadata {
    /// Validates the metadata and fills in defaults (RFC 7591 §2: grant type
    /// `authorization_code`, response type `code`, `client_secret_basic`).
    pub fn validate(self, policy: &RegistrationPolicy) -> Result<ClientSettings, MetadataError> {
        let auth_method = match self.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(m) => AuthMethod::parse(m)
                .filter(|m| *m != AuthMethod::ClientSecretJwt || policy.client_secret_key.is_some())
                .ok_or_else(|| {
                    let why = if m == AuthMethod::ClientSecretJwt.as_str() {
                        " here (it needs the server's keys.encryption_key)"
                    } else {
                        ""
                    };
                    bad(format!(
                        "token_endpoint_auth_method {m:?} is not supported{why}; use client_secret_basic, \
                         client_secret_post, private_key_jwt{} or none",
                        if policy.client_secret_key.is_some() { ", client_secret_jwt" } else { "" }
                    ))
                })?,
        };
        // The client's public keys: for private_key_jwt, and for signed
        // request objects (RFC 9101) whatever the authentication method.
        let (jwks, jwks_uri) = match (self.jwks, self.jwks_uri) {
            (Some(_), Some(_)) => {
                return Err(bad("jwks and jwks_uri must not both be present (RFC 7591 §2)"));
            }
            (Some(jwks), None) => {
                crate::client_keys::validate_client_jwks(&jwks).map_err(|why| bad(format!("jwks: {why}")))?;
                (Some(jwks), None)
            }
            (None, Some(uri)) => {
                validate_web_uri(&uri, policy.allow_insecure_redirects)
                    .map_err(|why| bad(format!("jwks_uri: {uri:?} {why}")))?;
                (None, Some(uri))
            }
            (None, None) if auth_method == AuthMethod::PrivateKeyJwt => {
                return Err(bad("private_key_jwt needs the client's public keys: jwks or jwks_uri"));
            }
            (None, None) => (None, None),
        };
        let token_endpoint_auth_signing_alg = match self.token_endpoint_auth_signing_alg {
            None => None,
            Some(alg) if !auth_method.uses_assertion() => {
                return Err(bad(format!(
                    "token_endpoint_auth_signing_alg {alg:?} applies to private_key_jwt and client_secret_jwt only"
                )));
            }
            Some(alg) if auth_method.assertion_algorithms().contains(&alg.as_str()) => Some(alg),
            Some(alg) => {
                return Err(bad(format!(
                    "token_endpoint_auth_signing_alg {alg:?} is not supported with {}; use {}",
                    auth_method.as_str(),
                    auth_method.assertion_algorithms().join(", ")
                )));
            }
        };

        // Algorithms we sign responses for this client with: those we keep keys for.
        let signing_alg = |field: &str, alg: Option<String>| -> Result<Option<String>, MetadataError> {
            match alg {
                Some(alg) if !policy.signing_algorithms().contains(&alg.as_str()) => Err(bad(format!(
                    "{field} {alg:?} is not supported; use {}",
                    policy.signing_algorithms().join(", ")
                ))),
                alg => Ok(alg),
            }
        };
        let authorization_signed_response_alg =
            signing_alg("authorization_signed_response_alg", self.authorization_signed_response_alg)?;
        let id_token_signed_response_alg =
            signing_alg("id_token_signed_response_alg", self.id_token_signed_response_alg)?;
        let userinfo_signed_response_alg =
            signing_alg("userinfo_signed_response_alg", self.userinfo_signed_response_alg)?;

        let grant_types = match self.grant_types {
            None => vec![GrantType::AuthorizationCode],
            Some(list) if list.is_empty() => return Err(bad("grant_types must not be empty")),
            Some(list) => {
                let mut out = Vec::new();
                for g in dedup(list) {
                    let grant = GrantType::parse(&g).ok_or_else(|| {
                        bad(format!(
                            "grant type {g:?} is not supported; use authorization_code, refresh_token, \
                             client_credentials, {} or {TOKEN_EXCHANGE}",
                            crate::device::GRANT_TYPE
                        ))
                    })?;
                    out.push(grant);
                }
                out
            }
        };
        let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
        // A device signs people in too (RFC 8628), with no redirect URI.
        let uses_device = grant_types.contains(&GrantType::DeviceCode);
        if grant_types.contains(&GrantType::RefreshToken) && !uses_code && !uses_device {
            return Err(bad("the refresh_token grant type requires authorization_code or the device_code grant"));
        }
        if grant_types.contains(&GrantType::ClientCredentials) && !auth_method.is_confidential() {
            return Err(bad("a public client (token_endpoint_auth_method none) cannot use client_credentials"));
        }
        let exchanges = grant_types.contains(&GrantType::TokenExchange);
        if exchanges && !auth_method.is_confidential() {
            return Err(bad(format!("a public client (token_endpoint_auth_method none) cannot use {TOKEN_EXCHANGE}")));
        }
        let token_exchange_audiences = dedup(self.token_exchange_audiences.unwrap_or_default());
        check_exchange_list("token_exchange_audiences", &token_exchange_audiences, exchanges)?;
        let token_exchange_subject_clients = dedup(self.token_exchange_subject_clients.unwrap_or_default());
        check_exchange_list("token_exchange_subject_clients", &token_exchange_subject_clients, exchanges)?;

        let default_acr_values = dedup(self.default_acr_values.unwrap_or_default());
        if let Some(v) = default_acr_values.iter().find(|v| !crate::acr::KNOWN.contains(&v.as_str())) {
            return Err(bad(format!(
                "default_acr_values: {:?} is not supported; use {}",
                v.chars().take(MAX_TEXT).collect::<String>(),
                crate::acr::KNOWN.join(", ")
            )));
        }

        let response_types = match self.response_types {
            None if uses_code => vec!["code".to_string()],
            None => vec![],
            Some(list) => dedup(list),
        };
        for r in &response_types {
            if r != "code" {
                return Err(bad(format!("response type {r:?} is not supported; use code")));
            }
        }
        if uses_code != response_types.iter().any(|r| r == "code") {
            return Err(bad("response_types code and grant_types authorization_code go together (RFC 7591 §2.1)"));
        }

        let redirect_uris = dedup(self.redirect_uris);
        if uses_code && redirect_uris.is_empty() {
            return Err(MetadataError::InvalidRedirectUri(
                "redirect_uris is required for the authorization_code grant type".into(),
            ));
        }
        check_redirects("redirect_uris", &redirect_uris, policy)?;
        let post_logout_redirect_uris = dedup(self.post_logout_redirect_uris.unwrap_or_default());
        check_redirects("post_logout_redirect_uris", &post_logout_redirect_uris, policy)?;

        let client_name = self.client_name.unwrap_or_default().trim().to_string();
        check_text("client_name", &client_name)?;

        let scope = match self.scope.as_deref() {
            Some(s) => Scope::parse(s).map_err(|e| bad(format!("scope: {e}")))?,
            None => {
                let mut tokens = vec!["openid", "profile", "email", "phone"];
                if grant_types.contains(&GrantType::RefreshToken) {
                    tokens.push("offline_access");
                }
                if !uses_code && !uses_device {
                    tokens.clear();
                }
                Scope::from_tokens(tokens)
            }
        };

        let contacts = dedup(self.contacts.unwrap_or_default());
        if contacts.len() > MAX_CONTACTS {
            return Err(bad(format!("at most {MAX_CONTACTS} contacts may be registered")));
        }
        for c in &contacts {
            check_text("contacts", c)?;
            if c.is_empty() {
                return Err(bad("contacts must not contain empty values"));
            }
        }

        let link = |field: &str, v: Option<String>| -> Result<Option<String>, MetadataError> {
            match v {
                None => Ok(None),
                Some(v) => {
                    validate_web_uri(&v, policy.allow_insecure_redirects)
                        .map_err(|why| bad(format!("{field}: {v:?} {why}")))?;
                    Ok(Some(v))
                }
            }
        };
        let client_uri = link("client_uri", self.client_uri)?;
        let logo_uri = link("logo_uri", self.logo_uri)?;
        let policy_uri = link("policy_uri", self.policy_uri)?;
        let tos_uri = link("tos_uri", self.tos_uri)?;
        let backchannel_logout_uri = match self.backchannel_logout_uri {
            None => None,
            Some(uri) => {
                validate_web_uri(&uri, policy.allow_insecure_redirects)
                    .map_err(|why| bad(format!("backchannel_logout_uri: {uri:?} {why}")))?;
                Some(uri)
            }
        };
        for (field, v) in [("software_id", &self.software_id), ("software_version", &self.software_version)] {
            if let Some(v) = v {
                check_text(field, v)?;
            }
        }

        let fapi2_security_profile = self.fapi2_security_profile.unwrap_or(policy.fapi2_by_default);
        if fapi2_security_profile {
            fapi2::check(&Fapi2Client {
                auth_method,
                assertion_alg: token_endpoint_auth_signing_alg.as_deref(),
                grant_types: &grant_types,
                signed_response_algs: [
                    ("id_token_signed_response_alg", id_token_signed_response_alg.as_deref(), true),
                    ("userinfo_signed_response_alg", userinfo_signed_response_alg.as_deref(), false),
                    ("authorization_signed_response_alg", authorization_signed_response_alg.as_deref(), false),
                ],
            })
            .map_err(bad)?;
        }

        Ok(ClientSettings {
            client_name,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            token_endpoint_auth_method: auth_method,
            scope,
            contacts,
            client_uri,
            logo_uri,
            policy_uri,
            tos_uri,
            software_id: self.software_id,
            software_version: self.software_version,
            software_statement_issuer: None,
            backchannel_logout_session_required: self.backchannel_logout_session_required.unwrap_or(false),
            backchannel_logout_uri,
            skip_consent: false,
            dynamically_registered: false,
            audiences: Vec::new(),
            introspection: false,
            token_exchange_audiences,
            token_exchange_subject_clients,
            jwks,
            jwks_uri,
            token_endpoint_auth_signing_alg,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests.unwrap_or(false),
            require_signed_request_object: self.require_signed_request_object.unwrap_or(false),
            authorization_signed_response_alg,
            id_token_signed_response_alg,
            userinfo_signed_response_alg,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
            fapi2_security_profile,
            registration_access_token_hash: None,
            require_mfa: self.require_mfa.unwrap_or(false),
            default_acr_values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(json: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let s = meta(serde_json::json!({"redirect_uris": ["https://a.example/cb"]}))
            .validate(&RegistrationPolicy::default())
            .unwrap();
        assert_eq!(s.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(s.response_types, vec!["code"]);
        assert_eq!(s.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert!(s.scope.contains("openid"));
        assert!(!s.scope.contains("offline_access"));
    }

    #[test]
    fn token_exchange_is_confidential_and_closed_to_self_registration_by_default() {
        let p = RegistrationPolicy::default();
        let te = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"grant_types": ["client_credentials", TOKEN_EXCHANGE]});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            meta(v).validate(&p)
        };
        let s =
            te(serde_json::json!({"token_exchange_audiences": ["orders", "https://api.example", "orders"]})).unwrap();
        assert_eq!(s.grant_types, vec![GrantType::ClientCredentials, GrantType::TokenExchange]);
        assert_eq!(s.token_exchange_audiences, vec!["orders", "https://api.example"], "deduplicated");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["grant_types"][1], TOKEN_EXCHANGE, "stored and shown by its URN");
        assert_eq!(GrantType::parse(TOKEN_EXCHANGE), Some(GrantType::TokenExchange));
        for (extra, why) in [
            (serde_json::json!({"token_endpoint_auth_method": "none"}), "public client"),
            (serde_json::json!({"token_exchange_subject_clients": ["a b"]}), "must be a client id"),
            (serde_json::json!({"token_exchange_audiences": ["https://a.example#x"]}), "without a fragment"),
        ] {
            let e = te(extra.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{extra}: {e}");
        }
        let e = meta(serde_json::json!({"grant_types": ["client_credentials"], "token_exchange_audiences": ["a"]}))
            .validate(&p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs the grant type"), "{e}");

        // Self-registration: only when the operator's list names the grant.
        let mut settings = te(serde_json::json!({})).unwrap();
        let open = SelfRegistrationPolicy::default();
        let e = open.apply(&mut settings.clone(), false).unwrap_err().to_string();
        assert!(e.contains("registration.allowed_grant_types"), "{e}");
        let named = SelfRegistrationPolicy {
            grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
            ..SelfRegistrationPolicy::default()
        };
        named.apply(&mut settings, false).unwrap();
    }

    #[test]
    fn refuses_inconsistent_or_unsupported_metadata() {
        let p = RegistrationPolicy::default();
        let cases = [
            (serde_json::json!({}), "redirect_uris is required"),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
                "not supported",
            ),
            (serde_json::json!({"grant_types": ["refresh_token"]}), "requires authorization_code"),
            (
                serde_json::json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                "public client",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "not supported",
            ),
            (serde_json::json!({"grant_types": ["client_credentials"], "response_types": ["code"]}), "go together"),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_jwt"}),
                "not supported",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "jwks or jwks_uri",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}}),
                "must not both be present",
            ),
            (serde_json::json!({"redirect_uris": ["https://a.example/cb"], "jwks": {"keys": []}}), "jwks: must hold"),
            (serde_json::json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "javascript:x"}), "logo_uri"),
            (serde_json::json!({"redirect_uris": ["https://a.example/cb"], "scope": "a \"b\""}), "scope"),
        ];
        for (json, needle) in cases {
            let err = meta(json.clone()).validate(&p).unwrap_err();
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
        let err = meta(serde_json::json!({"redirect_uris": ["http://evil.example/cb"]})).validate(&p).unwrap_err();
        assert!(matches!(err, MetadataError::InvalidRedirectUri(_)));
    }

    #[test]
    fn client_credentials_client_needs_no_redirect_uri() {
        let s = meta(serde_json::json!({"grant_types": ["client_credentials"], "scope": "api:read"}))
            .validate(&RegistrationPolicy::default())
            .unwrap();
        assert!(s.response_types.is_empty());
        assert_eq!(s.scope.to_string(), "api:read");
    }

    fn web(extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({"redirect_uris": ["https://a.example/cb"]});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn counts_and_lengths_on_both_sides_of_their_limits() {
        let p = RegistrationPolicy::default();
        let uris = |n: usize| (0..n).map(|i| format!("https://a.example/cb{i}")).collect::<Vec<_>>();
        let ok = meta(serde_json::json!({"redirect_uris": uris(MAX_REDIRECT_URIS)})).validate(&p);
        assert_eq!(ok.unwrap().redirect_uris.len(), 20);
        let err = meta(serde_json::json!({"redirect_uris": uris(MAX_REDIRECT_URIS + 1)})).validate(&p).unwrap_err();
        assert!(matches!(&err, MetadataError::InvalidRedirectUri(m) if m.contains("at most 20")), "{err}");
        let err = meta(web(serde_json::json!({"post_logout_redirect_uris": uris(21)}))).validate(&p).unwrap_err();
        assert!(err.to_string().contains("post_logout_redirect_uris"), "{err}");

        let contacts = |n: usize| (0..n).map(|i| format!("ops{i}@a.example")).collect::<Vec<_>>();
        assert!(meta(web(serde_json::json!({"contacts": contacts(MAX_CONTACTS)}))).validate(&p).is_ok());
        let err = meta(web(serde_json::json!({"contacts": contacts(MAX_CONTACTS + 1)}))).validate(&p).unwrap_err();
        assert!(err.to_string().contains("at most 10 contacts"), "{err}");
        let err = meta(web(serde_json::json!({"contacts": [""]}))).validate(&p).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");

        // Characters, not bytes: 200 two-byte characters are fine.
        let name = "é".repeat(MAX_TEXT);
        let s = meta(web(serde_json::json!({"client_name": name}))).validate(&p).unwrap();
        assert_eq!(s.client_name.chars().count(), 200);
        for field in ["client_name", "software_id", "software_version"] {
            let err = meta(web(serde_json::json!({field: "x".repeat(MAX_TEXT + 1)}))).validate(&p).unwrap_err();
            assert!(err.to_string().contains(&format!("{field} is longer than 200")), "{field}: {err}");
            let err = meta(web(serde_json::json!({field: "bell\u{7}"}))).validate(&p).unwrap_err();
            assert!(err.to_string().contains("control characters"), "{field}: {err}");
        }
    }

    #[test]
    fn duplicates_are_dropped_in_order_and_names_trimmed() {
        let s = meta(serde_json::json!({
            "redirect_uris": ["https://a.example/2", "https://a.example/1", "https://a.example/2"],
            "grant_types": ["authorization_code", "refresh_token", "authorization_code"],
            "response_types": ["code", "code"],
            "client_name": "  Spaced  ",
        }))
        .validate(&RegistrationPolicy::default())
        .unwrap();
        assert_eq!(s.redirect_uris, ["https://a.example/2", "https://a.example/1"]);
        assert_eq!(s.grant_types, [GrantType::AuthorizationCode, GrantType::RefreshToken]);
        assert_eq!(s.response_types, ["code"]);
        assert_eq!(s.client_name, "Spaced");
        assert!(s.scope.contains("offline_access"), "the refresh grant adds offline_access to the default scope");
    }

    #[test]
    fn signing_algorithms_belong_to_their_method() {
        let key = ClientSecretKey::new([7; 32]);
        let p = RegistrationPolicy { client_secret_key: Some(key), ..Default::default() };
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        let ok = meta(web(serde_json::json!({"token_endpoint_auth_method": "client_secret_jwt",
            "token_endpoint_auth_signing_alg": "HS256"})))
        .validate(&p);
        assert_eq!(ok.unwrap().token_endpoint_auth_signing_alg.as_deref(), Some("HS256"));
        for (json, needle) in [
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
                "not supported with client_secret_jwt",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks, "token_endpoint_auth_signing_alg": "HS256"}),
                "not supported with private_key_jwt",
            ),
            (
                serde_json::json!({"token_endpoint_auth_signing_alg": "RS256"}),
                "private_key_jwt and client_secret_jwt only",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks, "jwks_uri": "https://a.example/jwks"}),
                "must not both",
            ),
        ] {
            let err = meta(web(json.clone())).validate(&p).unwrap_err();
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn self_registration_hosts_match_exactly_or_by_subdomain() {
        let policy = SelfRegistrationPolicy {
            redirect_hosts: vec!["app.example".into(), "*.corp.example".into()],
            ..Default::default()
        };
        for yes in ["app.example", "APP.example", "a.corp.example", "x.y.corp.example"] {
            assert!(policy.host_allowed(yes), "{yes}");
        }
        for no in [
            "evilapp.example",
            "a.app.example",
            "corp.example",
            ".corp.example",
            "evilcorp.example",
            "corp.example.evil",
        ] {
            assert!(!policy.host_allowed(no), "{no}");
        }
    }

    #[test]
    fn self_registration_policy_applies_to_every_uri_grant_and_scope() {
        let p = RegistrationPolicy::default();
        let settings = |json: serde_json::Value| meta(json).validate(&p).unwrap();
        let policy = SelfRegistrationPolicy {
            redirect_hosts: vec!["app.example".into()],
            redirect_schemes: vec!["https".into(), "com.example.app".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["openid".into(), "profile".into()],
        };
        let mut ok = settings(serde_json::json!({"redirect_uris": ["https://app.example/cb", "com.example.app:/cb"]}));
        policy.apply(&mut ok, false).unwrap();
        assert_eq!(ok.scope.to_string(), "openid profile", "a default scope is narrowed to what is open");
        for (json, scope_given, needle) in [
            (
                serde_json::json!({"redirect_uris": ["https://other.example/cb"]}),
                false,
                "host this server does not allow",
            ),
            (serde_json::json!({"redirect_uris": ["http://localhost/cb"]}), false, "scheme this server does not allow"),
            (
                serde_json::json!({"redirect_uris": ["https://app.example/cb"], "post_logout_redirect_uris": ["https://other.example/"]}),
                false,
                "post_logout_redirect_uris",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "refresh_token"]}),
                false,
                "refresh_token is not open",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid email"}),
                true,
                "email is not open",
            ),
        ] {
            let mut s = settings(json.clone());
            let err = policy.apply(&mut s, scope_given).unwrap_err();
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
        // Hosts are checked for web URIs only; an empty list allows anything.
        let open = SelfRegistrationPolicy::default();
        let mut s = settings(serde_json::json!({"redirect_uris": ["http://localhost/cb"], "scope": "anything"}));
        open.apply(&mut s, true).unwrap();
    }

    #[test]
    fn audiences_are_absolute_uris_without_fragments() {
        assert_eq!(check_audiences(&["https://api.example".into(), "urn:example:api".into()]), Ok(()));
        for bad in ["/api", "api.example", "https://api.example#x", ""] {
            assert!(check_audiences(&[bad.to_string()]).unwrap_err().contains(bad), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_match_byte_for_byte() {
        let (client, _) = Client::register(
            meta(serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"}))
                .validate(&RegistrationPolicy::default())
                .unwrap(),
            0,
            None,
        );
        assert!(client.redirect_uri_matches("https://a.example/cb"));
        for near in
            ["https://a.example/cb/", "https://A.example/cb", "https://a.example/cb?", "https://a.example:443/cb"]
        {
            assert!(!client.redirect_uri_matches(near), "{near}");
        }
        assert!(client.is_public() && client.allows_grant(GrantType::AuthorizationCode));
        assert!(!client.allows_grant(GrantType::ClientCredentials));
    }

    #[test]
    fn default_acr_values_name_classes_this_server_knows() {
        let base = serde_json::json!({"redirect_uris": ["https://a.example/cb"]});
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            meta(v).validate(&RegistrationPolicy::default())
        };
        let s = with(
            serde_json::json!({"default_acr_values": ["urn:latchkey:acr:mfa", "phr", "phr"], "require_mfa": true}),
        )
        .unwrap();
        assert_eq!((s.default_acr_values, s.require_mfa), (vec!["urn:latchkey:acr:mfa".into(), "phr".into()], true));
        let e = with(serde_json::json!({"default_acr_values": ["urn:mace:gold"]})).unwrap_err();
        assert!(e.to_string().contains("default_acr_values"), "{e}");
        assert!(!with(serde_json::json!({})).unwrap().require_mfa, "off by default");
    }
}
