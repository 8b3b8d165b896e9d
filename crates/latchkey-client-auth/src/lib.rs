//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3, RFC 7523, OIDC Core §9): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt`, `client_secret_jwt`, and `none`
//! for public clients.

mod assertion;
mod keys;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::secret::ClientSecretKey;
use latchkey_core::{AuthMethod, Client, Clock, ErrorCode, OAuthError};
use latchkey_http::{oauth_error_response, store_error_response};
use latchkey_store::{ClientStore, ReplayStore, StoreError};

pub use assertion::JWT_BEARER;
pub use keys::{ClientKeys, KeyFetchSettings};

/// Why a client was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("more than one client authentication method was used")]
    MultipleMethods,
    #[error("client_id in the body differs from the one in the Authorization header")]
    ConflictingClientId,
    #[error("no client_id")]
    NoClient,
    #[error("malformed Authorization header")]
    MalformedHeader,
    #[error("unknown client")]
    UnknownClient,
    #[error("wrong client secret")]
    WrongSecret,
    #[error("the client is registered for {registered}, not {used}")]
    WrongMethod { registered: &'static str, used: &'static str },
    #[error("client_assertion_type must be {JWT_BEARER}")]
    UnsupportedAssertionType,
    #[error("client_assertion is missing")]
    MissingAssertion,
    #[error("client assertion refused: {0}")]
    BadAssertion(&'static str),
    #[error("client assertion already used")]
    ReplayedAssertion,
    #[error("the client's keys could not be fetched: {0}")]
    KeysUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientAuthError {
    /// The response: 400 for a malformed request, else 401 with a Basic
    /// challenge (RFC 6749 §5.2; a 401 always names a scheme).
    pub fn response(self) -> Response {
        let error = match &self {
            Self::MultipleMethods => {
                return oauth_error_response(&OAuthError::invalid_request(
                    "use exactly one client authentication method",
                ));
            }
            Self::ConflictingClientId => {
                return oauth_error_response(&OAuthError::invalid_request(
                    "client_id differs from the client the credentials name",
                ));
            }
            Self::UnsupportedAssertionType => {
                return oauth_error_response(&OAuthError::invalid_request(format!(
                    "client_assertion_type must be {JWT_BEARER}"
                )));
            }
            Self::MissingAssertion => {
                return oauth_error_response(&OAuthError::invalid_request("client_assertion is missing"));
            }
            Self::Store(e) => return store_error_response(e),
            Self::NoClient => OAuthError::new(ErrorCode::InvalidClient, "client authentication is required"),
            _ => OAuthError::new(ErrorCode::InvalidClient, "client authentication failed"),
        };
        tracing::info!(reason = %self, "client authentication failed");
        let mut res = oauth_error_response(&error);
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey\""));
        res
    }
}

/// What the client presented as proof.
#[derive(Debug)]
enum Proof {
    Secret(String),
    /// The JWT and its (unverified) header.
    Assertion(String, assertion::Object),
    Nothing,
}

/// Credentials as presented.
#[derive(Debug)]
struct Presented {
    client_id: String,
    proof: Proof,
    method: AuthMethod,
}

/// The client credentials a form may carry (RFC 6749 §2.3.1, RFC 7521 §4.2);
/// endpoints flatten it into their own form (`#[serde(flatten)]`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
}

/// Whether the request carries an `Authorization: Basic` header.
pub fn uses_basic(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
}

fn form_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: id and secret are form-url-encoded before Basic encoding.
    let mut out = String::new();
    for (k, v) in url::form_urlencoded::parse(format!("x={s}").as_bytes()) {
        if k == "x" {
            out = v.into_owned();
        }
    }
    Some(out)
}

fn presented(headers: &HeaderMap, form: &ClientCredentials) -> Result<Presented, ClientAuthError> {
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let basic = match auth_headers.next() {
        None => None,
        Some(value) => {
            if auth_headers.next().is_some() {
                return Err(ClientAuthError::MalformedHeader);
            }
            let value = value.to_str().map_err(|_| ClientAuthError::MalformedHeader)?;
            let (scheme, rest) = value.split_once(' ').ok_or(ClientAuthError::MalformedHeader)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(ClientAuthError::MalformedHeader);
            }
            let decoded = STANDARD.decode(rest.trim()).map_err(|_| ClientAuthError::MalformedHeader)?;
            let decoded = String::from_utf8(decoded).map_err(|_| ClientAuthError::MalformedHeader)?;
            let (id, secret) = decoded.split_once(':').ok_or(ClientAuthError::MalformedHeader)?;
            let id = form_decode(id).ok_or(ClientAuthError::MalformedHeader)?;
            let secret = form_decode(secret).ok_or(ClientAuthError::MalformedHeader)?;
            if id.is_empty() {
                return Err(ClientAuthError::MalformedHeader);
            }
            Some((id, secret))
        }
    };
    let form_id = form.client_id.as_deref();
    let form_secret = form.client_secret.as_deref();
    let assertion = form.client_assertion.as_deref();
    let assertion_type = form.client_assertion_type.as_deref();
    if assertion.is_some() || assertion_type.is_some() {
        if basic.is_some() || form_secret.is_some() {
            return Err(ClientAuthError::MultipleMethods);
        }
        if assertion_type != Some(JWT_BEARER) {
            return Err(ClientAuthError::UnsupportedAssertionType);
        }
        let assertion = assertion.ok_or(ClientAuthError::MissingAssertion)?;
        let (client_id, header) = assertion::claimed_client(assertion)?;
        if form_id.is_some_and(|f| f != client_id) {
            return Err(ClientAuthError::ConflictingClientId);
        }
        // The algorithm names the method, which must be the registered one:
        // an HMAC assertion never reaches a client registered for public keys.
        let hmac = header.get("alg").and_then(|a| a.as_str()).is_some_and(|a| a.starts_with("HS"));
        return Ok(Presented {
            client_id,
            proof: Proof::Assertion(assertion.to_string(), header),
            method: if hmac { AuthMethod::ClientSecretJwt } else { AuthMethod::PrivateKeyJwt },
        });
    }
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(ClientAuthError::MultipleMethods),
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(ClientAuthError::ConflictingClientId);
            }
            Ok(Presented { client_id: id, proof: Proof::Secret(secret), method: AuthMethod::ClientSecretBasic })
        }
        (None, Some(secret)) => Ok(Presented {
            client_id: form_id.ok_or(ClientAuthError::NoClient)?.to_string(),
            proof: Proof::Secret(secret.to_string()),
            method: AuthMethod::ClientSecretPost,
        }),
        (None, None) => Ok(Presented {
            client_id: form_id.ok_or(ClientAuthError::NoClient)?.to_string(),
            proof: Proof::Nothing,
            method: AuthMethod::None,
        }),
    }
}

/// The endpoints that take client credentials; each is an accepted
/// audience of the assertions sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspection,
    Revocation,
}

/// Authenticates clients; one per server, shared by the endpoints that
/// take client credentials.
#[derive(Clone)]
pub struct ClientAuthenticator {
    clients: Arc<dyn ClientStore>,
    replay: Arc<dyn ReplayStore>,
    keys: ClientKeys,
    /// Derives `client_secret_jwt` secrets; `None` without `keys.encryption_key`.
    secret_key: Option<ClientSecretKey>,
    clock: Arc<dyn Clock>,
    issuer: Arc<str>,
    /// Full URLs of the token, introspection and revocation endpoints.
    endpoints: Arc<[String; 3]>,
}

impl ClientAuthenticator {
    pub fn new(
        clients: Arc<dyn ClientStore>,
        replay: Arc<dyn ReplayStore>,
        keys: ClientKeys,
        secret_key: Option<ClientSecretKey>,
        clock: Arc<dyn Clock>,
        issuer: &str,
    ) -> Self {
        Self {
            clients,
            replay,
            keys,
            secret_key,
            clock,
            issuer: issuer.into(),
            endpoints: Arc::new(
                ["/token", "/introspect", "/revoke"].map(|p| format!("{}{p}", issuer.trim_end_matches('/'))),
            ),
        }
    }

    /// Authenticates the client of a request to `endpoint` (whose URL a
    /// client assertion may name as its audience). The method used
    /// must be the one the client registered; secrets are compared in
    /// constant time.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        form: &ClientCredentials,
        endpoint: Endpoint,
    ) -> Result<Client, ClientAuthError> {
        let p = presented(headers, form)?;
        let client = self.clients.get_client(&p.client_id).await?.ok_or(ClientAuthError::UnknownClient)?;
        let registered = client.settings.token_endpoint_auth_method;
        if registered != p.method {
            return Err(ClientAuthError::WrongMethod { registered: registered.as_str(), used: p.method.as_str() });
        }
        match &p.proof {
            Proof::Secret(secret) => {
                if !client.verify_secret(secret, self.secret_key.as_ref()) {
                    return Err(ClientAuthError::WrongSecret);
                }
            }
            Proof::Assertion(jwt, header) => self.check_assertion(&client, jwt, header, endpoint).await?,
            Proof::Nothing => {}
        }
        Ok(client)
    }
}

impl IntoResponse for ClientAuthError {
    fn into_response(self) -> Response {
        self.response()
    }
}
