//! Client authentication at the token, introspection, revocation and pushed
//! authorization request endpoints (RFC 6749 §2.3, RFC 7523, OIDC Core §9, RFC 9126): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt`, `client_secret_jwt`, and `none`
//! for public clients; and the signed request objects (RFC 9101) clients
//! sign with the same keys as their `private_key_jwt` assertions.

mod assertion;
pub mod dpop;
mod keys;
mod request_object;

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
pub use dpop::{DpopError, DpopSettings, DpopVerifier};
pub use keys::{ClientKeys, KeyFetchSettings};
pub use request_object::{REQUEST_OBJECT_ALGORITHMS, RequestObjectError};

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
    /// RFC 9126 §2: the pushed authorization request endpoint.
    PushedAuthorization,
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
    /// Full URLs of the token, introspection, revocation and pushed
    /// authorization request endpoints.
    endpoints: Arc<[String; 4]>,
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
                ["/token", "/introspect", "/revoke", "/par"].map(|p| format!("{}{p}", issuer.trim_end_matches('/'))),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for value in authorization {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn basic(user_pass: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_pass))
    }

    fn form(body: &str) -> ClientCredentials {
        latchkey_http::Params::parse(body.as_bytes()).unwrap().deserialize().unwrap()
    }

    /// An unsigned assertion is enough here: `presented` only reads who it
    /// claims to be and which algorithm it names.
    fn assertion(alg: &str, sub: &str) -> String {
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", b64(serde_json::json!({"alg": alg})), b64(serde_json::json!({"sub": sub})))
    }

    fn assertion_form(jwt: &str, extra: &str) -> ClientCredentials {
        form(&format!("client_assertion_type={}&client_assertion={jwt}{extra}", JWT_BEARER.replace(':', "%3A")))
    }

    #[test]
    fn each_method_is_recognised_by_what_it_sends() {
        let p = presented(&headers(&[&basic("app:s3cret")]), &form("")).unwrap();
        assert_eq!((p.client_id.as_str(), p.method), ("app", AuthMethod::ClientSecretBasic));
        assert!(matches!(p.proof, Proof::Secret(ref s) if s == "s3cret"));

        let p = presented(&HeaderMap::new(), &form("client_id=app&client_secret=s3cret")).unwrap();
        assert_eq!((p.client_id.as_str(), p.method), ("app", AuthMethod::ClientSecretPost));
        assert!(matches!(p.proof, Proof::Secret(ref s) if s == "s3cret"));

        let p = presented(&HeaderMap::new(), &form("client_id=app")).unwrap();
        assert_eq!((p.client_id.as_str(), p.method), ("app", AuthMethod::None));
        assert!(matches!(p.proof, Proof::Nothing));

        for (alg, method) in [("RS256", AuthMethod::PrivateKeyJwt), ("HS256", AuthMethod::ClientSecretJwt)] {
            let jwt = assertion(alg, "app");
            let p = presented(&HeaderMap::new(), &assertion_form(&jwt, "")).unwrap();
            assert_eq!((p.client_id.as_str(), p.method), ("app", method), "{alg}");
            assert!(matches!(p.proof, Proof::Assertion(ref j, ref h) if *j == jwt && h["alg"] == alg), "{alg}");
        }
        // The same client_id in the body as in the credentials is fine.
        let p = presented(&headers(&[&basic("app:s")]), &form("client_id=app")).unwrap();
        assert_eq!(p.method, AuthMethod::ClientSecretBasic);
        let p = presented(&HeaderMap::new(), &assertion_form(&assertion("ES256", "app"), "&client_id=app")).unwrap();
        assert_eq!(p.method, AuthMethod::PrivateKeyJwt);
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_the_scheme_is_case_insensitive() {
        // RFC 6749 §2.3.1: `%3A` is a colon inside the id, `+` a space.
        let p = presented(&headers(&[&basic("my%3Aapp:a+b%25c:d")]), &form("")).unwrap();
        assert_eq!(p.client_id, "my:app");
        assert!(matches!(p.proof, Proof::Secret(ref s) if s == "a b%c:d"), "{p:?}");
        let value = format!("bAsIc   {}", STANDARD.encode("app:s"));
        assert!(uses_basic(&headers(&[&value])));
        assert_eq!(presented(&headers(&[&value]), &form("")).unwrap().client_id, "app");
        // An empty secret is a secret (and a wrong one, later); an empty id is not an id.
        assert!(
            matches!(presented(&headers(&[&basic("app:")]), &form("")).unwrap().proof, Proof::Secret(ref s) if s.is_empty())
        );
        assert!(!uses_basic(&headers(&["Bearer abc"])));
        assert!(!uses_basic(&HeaderMap::new()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, b':', b's']));
        for value in ["Basic", "Basic !!!", "Bearer abc", &basic("no-colon"), &basic(":secret"), &not_utf8] {
            let err = presented(&headers(&[value]), &form("")).unwrap_err();
            assert!(matches!(err, ClientAuthError::MalformedHeader), "{value}: {err}");
        }
        let two = basic("app:s");
        let err = presented(&headers(&[&two, &two]), &form("")).unwrap_err();
        assert!(matches!(err, ClientAuthError::MalformedHeader), "two Authorization headers: {err}");
    }

    #[test]
    fn one_method_at_a_time_for_one_client() {
        let b = basic("app:s");
        let jwt = assertion("RS256", "app");
        for (h, f, want) in [
            (vec![b.as_str()], form("client_secret=s"), "MultipleMethods"),
            (vec![b.as_str()], assertion_form(&jwt, ""), "MultipleMethods"),
            (vec![], assertion_form(&jwt, "&client_id=app&client_secret=s"), "MultipleMethods"),
            (vec![b.as_str()], form("client_id=other"), "ConflictingClientId"),
            (vec![], assertion_form(&jwt, "&client_id=other"), "ConflictingClientId"),
            (vec![], form("client_secret=s"), "NoClient"),
            (vec![], form(""), "NoClient"),
            (vec![], form(&format!("client_assertion={jwt}")), "UnsupportedAssertionType"),
            (vec![], form("client_assertion_type=urn%3Aother&client_assertion=x"), "UnsupportedAssertionType"),
            (vec![], form(&format!("client_assertion_type={}", JWT_BEARER.replace(':', "%3A"))), "MissingAssertion"),
            (vec![], assertion_form("not-a-jwt", ""), "BadAssertion"),
            (vec![], assertion_form(&assertion("RS256", ""), ""), "BadAssertion"),
        ] {
            let err = presented(&headers(&h), &f).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{h:?} {f:?}: {err:?}");
        }
    }

    #[test]
    fn malformed_requests_answer_400_and_failed_authentication_401_with_a_challenge() {
        for err in [
            ClientAuthError::MultipleMethods,
            ClientAuthError::ConflictingClientId,
            ClientAuthError::UnsupportedAssertionType,
            ClientAuthError::MissingAssertion,
        ] {
            let res = err.response();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
        }
        for err in [
            ClientAuthError::NoClient,
            ClientAuthError::MalformedHeader,
            ClientAuthError::UnknownClient,
            ClientAuthError::WrongSecret,
            ClientAuthError::BadAssertion("expired"),
            ClientAuthError::ReplayedAssertion,
            ClientAuthError::KeysUnavailable("timeout".into()),
        ] {
            let res = err.response();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Basic realm=\"latchkey\"");
        }
    }
}
