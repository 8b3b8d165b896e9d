//! OAuth 2.0 Dynamic Client Registration (RFC 7591) and its client
//! configuration endpoint (RFC 7592): a registered client reads, replaces and
//! deletes its registration at `registration_client_uri` with the
//! `registration_access_token` it received (stored only as a hash).
//!
//! The server mounts this router only when registration is open or guarded
//! by an initial access token; when it is closed the endpoint does not exist
//! and discovery does not name it.

pub mod software_statement;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path};
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::audit::AuditEvent;
use latchkey_core::client::ClientSettings;
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{
    Client, ClientMetadata, Clock, ErrorCode, MetadataError, OAuthError, RegistrationPolicy, SelfRegistrationPolicy,
};
use latchkey_domain::clients::{self, Replaced};
use latchkey_http::{bearer_token, json_no_store, oauth_error_response};
use latchkey_store::{AuditStore, ClientStore, RateLimitStore, StoreError};
pub use software_statement::SoftwareStatementPolicy;
use software_statement::StatementError;

/// Largest registration request accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// What the registration endpoint needs.
#[derive(Clone)]
pub struct RegistrationState {
    pub clients: Arc<dyn ClientStore>,
    pub clock: Arc<dyn Clock>,
    pub policy: RegistrationPolicy,
    /// `Some` in `token` mode: the initial access token callers must present.
    pub initial_access_token: Option<Arc<str>>,
    /// The registration endpoint's full URL; a client's configuration
    /// endpoint is this plus `/{client_id}`.
    pub endpoint: Arc<str>,
    /// What self-registered clients may ask for.
    pub self_policy: Arc<SelfRegistrationPolicy>,
    /// Registrations allowed per source address and window (0: no limit),
    /// for callers without the initial access token.
    pub limit: RegistrationLimit,
    pub audit: Arc<dyn AuditStore>,
    /// Software statements (RFC 7591 §2.3): trusted keys, accepted issuers,
    /// whether one is required.
    pub software_statements: Arc<SoftwareStatementPolicy>,
}

/// Registrations per source address, counted in the shared store.
#[derive(Clone)]
pub struct RegistrationLimit {
    pub counter: Arc<dyn RateLimitStore>,
    pub per_address: u64,
    pub window_seconds: u32,
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
}

/// Routes, relative to the issuer's path.
pub fn router<S>(path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    RegistrationState: FromRef<S>,
{
    Router::new().route(path, post(register).layer(DefaultBodyLimit::max(MAX_BODY))).route(
        &format!("{path}/{{client_id}}"),
        get(read).put(replace).delete(remove).layer(DefaultBodyLimit::max(MAX_BODY)),
    )
}

/// Everything that can go wrong at this endpoint.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("no initial access token was presented")]
    MissingToken,
    #[error("the initial access token is wrong")]
    WrongToken,
    #[error("content type must be application/json")]
    NotJson,
    #[error("request body too large")]
    TooLarge,
    #[error("malformed client metadata: {0}")]
    Malformed(String),
    #[error("the registration access token is missing, wrong, or not this client's")]
    NotAuthorized,
    #[error("{0}")]
    BadUpdate(String),
    #[error("too many registrations from one address")]
    TooMany { retry_after: u32 },
    #[error("{0}")]
    InvalidStatement(&'static str),
    #[error("{0}")]
    UnapprovedStatement(&'static str),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let error = match &self {
            Self::MissingToken | Self::WrongToken => {
                OAuthError::new(ErrorCode::InvalidToken, "a valid initial access token is required")
            }
            // RFC 7592 §2: an unknown client and a wrong token look the same.
            Self::NotAuthorized => {
                let mut res = oauth_error_response(&OAuthError::new(
                    ErrorCode::InvalidToken,
                    "a valid registration access token for this client is required",
                ));
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
                return res;
            }
            Self::BadUpdate(m) => OAuthError::invalid_request(m.clone()),
            Self::TooMany { retry_after } => {
                tracing::info!("registration refused: too many from one address");
                let mut res = oauth_error_response(&OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many registrations from this address; try again later",
                ));
                *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                return res;
            }
            Self::NotJson => OAuthError::invalid_request("content type must be application/json"),
            Self::TooLarge => OAuthError::invalid_request("request body too large"),
            Self::Malformed(m) => OAuthError::new(ErrorCode::InvalidClientMetadata, m.clone()),
            Self::InvalidStatement(m) => OAuthError::new(ErrorCode::InvalidSoftwareStatement, *m),
            Self::UnapprovedStatement(m) => OAuthError::new(ErrorCode::UnapprovedSoftwareStatement, *m),
            Self::Metadata(e) => e.clone().into(),
            Self::Store(StoreError::Unavailable(_)) => {
                tracing::warn!(error = %self, "registration: store unavailable");
                OAuthError::unavailable()
            }
            Self::Store(_) => {
                tracing::error!(error = %self, "registration failed");
                OAuthError::server_error()
            }
        };
        let mut res = oauth_error_response(&error);
        if matches!(self, Self::TooLarge) {
            *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        }
        res
    }
}

/// Checks the initial access token in `token` mode: `Ok(true)` when the
/// caller presented it, `Ok(false)` in open mode.
fn authorize(state: &RegistrationState, headers: &HeaderMap) -> Result<bool, RegistrationError> {
    let Some(expected) = &state.initial_access_token else {
        return Ok(false);
    };
    let presented = bearer_token(headers).ok_or(RegistrationError::MissingToken)?;
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(true)
    } else {
        Err(RegistrationError::WrongToken)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Counts one registration attempt from `address`.
async fn count_attempt(state: &RegistrationState, address: std::net::IpAddr) -> Result<(), RegistrationError> {
    let limit = &state.limit;
    if limit.per_address == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let hits = limit.counter.hit(&format!("register:{address}"), limit.window_seconds, now).await?;
    if hits > limit.per_address {
        let window_end = latchkey_store::window_start(now, limit.window_seconds) + i64::from(limit.window_seconds);
        return Err(RegistrationError::TooMany { retry_after: (window_end - now).max(1) as u32 });
    }
    Ok(())
}

/// The request body as a JSON object (registration and replacement).
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Value, RegistrationError> {
    if !is_json(headers) {
        return Err(RegistrationError::NotJson);
    }
    let body = body.map_err(|_| RegistrationError::TooLarge)?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| RegistrationError::Malformed(format!("not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(RegistrationError::Malformed("the body must be a JSON object".into()));
    }
    Ok(value)
}

impl From<StatementError> for RegistrationError {
    fn from(e: StatementError) -> Self {
        match e {
            StatementError::Invalid(m) => Self::InvalidStatement(m),
            StatementError::Unapproved(m) => Self::UnapprovedStatement(m),
        }
    }
}

/// Metadata checked as every self-registration is: a software statement's
/// claims over the body's members (RFC 7591 §2.3), then the rules all
/// clients follow, then the operator's policy.
fn checked_settings(
    state: &RegistrationState,
    mut value: serde_json::Value,
) -> Result<ClientSettings, RegistrationError> {
    let members = value.as_object_mut().ok_or_else(|| RegistrationError::Malformed("not a JSON object".into()))?;
    let statement = state.software_statements.apply(members, state.clock.now())?;
    let metadata: ClientMetadata =
        serde_json::from_value(value).map_err(|e| RegistrationError::Malformed(e.to_string()))?;
    let scope_given = metadata.scope.is_some();
    // Where every new client follows FAPI 2.0, one that registers itself
    // cannot opt out (an operator can, with the CLI or the admin API).
    if state.policy.fapi2_by_default && metadata.fapi2_security_profile == Some(false) {
        return Err(latchkey_core::MetadataError::InvalidClientMetadata(
            "fapi2_security_profile cannot be false here: this server requires the FAPI 2.0 Security Profile".into(),
        )
        .into());
    }
    let mut settings = metadata.validate(&state.policy)?;
    state.self_policy.apply(&mut settings, scope_given)?;
    settings.dynamically_registered = true;
    settings.software_statement_issuer = statement.issuer;
    Ok(settings)
}

async fn register(
    State(state): State<RegistrationState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, RegistrationError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.limit.trusted_proxies);
    // The per-address limit is for anonymous callers (open mode, or a wrong
    // token): whoever holds the operator's initial access token may
    // provision as many clients as it needs.
    let authorized = authorize(&state, &headers);
    if !matches!(authorized, Ok(true)) {
        count_attempt(&state, address).await?;
    }
    authorized?;
    let value = json_object(&headers, body)?;
    let mut settings = checked_settings(&state, value)?;
    let now = state.clock.now();
    let registration_token = latchkey_core::random::token(32);
    settings.registration_access_token_hash = Some(hash_token(&registration_token));
    let (client, secret) =
        clients::create_client(&*state.clients, settings, now, state.policy.client_secret_key.as_ref()).await?;
    let event = AuditEvent::new(now, "client.created", "anonymous")
        .subject(&client.client_id)
        .client(&client.client_id)
        .ip(address)
        .detail("via", "registration endpoint")
        .detail("client_name", client.settings.client_name.as_str());
    let event = with_statement_issuer(event, &client);
    latchkey_http::audit(state.audit.as_ref(), event).await;

    let mut body = configuration(&state, &client, secret);
    body["registration_access_token"] = registration_token.into();
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Names the issuer of the software statement the client registered with.
fn with_statement_issuer(event: AuditEvent, client: &Client) -> AuditEvent {
    match &client.settings.software_statement_issuer {
        Some(iss) => event.detail("software_statement_iss", iss.as_str()),
        None => event,
    }
}

/// The client's metadata as RFC 7591 §3.2.1 and RFC 7592 §3 return it, with
/// a secret when one was just issued.
fn configuration(state: &RegistrationState, client: &Client, new_secret: Option<String>) -> serde_json::Value {
    let mut body = client.metadata_json();
    if let Some(obj) = body.as_object_mut() {
        if let Some(secret) = new_secret {
            obj.insert("client_secret".into(), secret.into());
            obj.insert("client_secret_expires_at".into(), 0.into());
        }
        obj.insert("registration_client_uri".into(), format!("{}/{}", state.endpoint, client.client_id).into());
    }
    body
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = json_no_store(status, body);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The client named in the path, if the bearer token is its registration
/// access token.
async fn authorized_client(
    state: &RegistrationState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Client, RegistrationError> {
    let token = bearer_token(headers).ok_or(RegistrationError::NotAuthorized)?;
    let client = state.clients.get_client(client_id).await?.ok_or(RegistrationError::NotAuthorized)?;
    let expected = client.settings.registration_access_token_hash.as_deref().ok_or(RegistrationError::NotAuthorized)?;
    if constant_time_eq(hash_token(token).as_bytes(), expected.as_bytes()) {
        Ok(client)
    } else {
        Err(RegistrationError::NotAuthorized)
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
async fn read(
    State(state): State<RegistrationState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    let client = authorized_client(&state, &headers, &client_id).await?;
    Ok(json_response(StatusCode::OK, &configuration(&state, &client, None)))
}

/// The token exchange lists only narrow through RFC 7592: one left out
/// keeps its registered value (an operator's narrowing survives a client
/// that does not know the extension), and one sent must stay within it.
fn narrow_exchange_lists(
    new: &mut ClientSettings,
    old: &ClientSettings,
    sent: &[String],
) -> Result<(), RegistrationError> {
    for (name, new, old) in [
        ("token_exchange_audiences", &mut new.token_exchange_audiences, &old.token_exchange_audiences),
        (
            "token_exchange_subject_clients",
            &mut new.token_exchange_subject_clients,
            &old.token_exchange_subject_clients,
        ),
    ] {
        if !sent.iter().any(|s| s == name) {
            new.clone_from(old);
        } else if !old.is_empty() && (new.is_empty() || new.iter().any(|v| !old.contains(v))) {
            return Err(MetadataError::InvalidClientMetadata(format!("{name} may only be narrowed here")).into());
        }
    }
    Ok(())
}

/// `require_mfa` only rises through RFC 7592: left out, the registered value
/// stays (as the exchange lists do); sent as false while it is on, refused
/// (an operator turns it off).
fn keep_mfa_requirement(
    new: &mut ClientSettings,
    old: &ClientSettings,
    sent: &[String],
) -> Result<(), RegistrationError> {
    if !sent.iter().any(|s| s == "require_mfa") {
        new.require_mfa = old.require_mfa;
    } else if old.require_mfa && !new.require_mfa {
        return Err(MetadataError::InvalidClientMetadata("require_mfa may only be turned on here".into()).into());
    }
    Ok(())
}

/// Members a replacement must not carry (RFC 7592 §2.2).
const SERVER_ONLY: [&str; 4] =
    ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"];

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the body replaces every
/// registered value, checked as a new registration would be. Moving to a
/// secret method issues a secret; the registration access token stays.
async fn replace(
    State(state): State<RegistrationState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, RegistrationError> {
    let mut client = authorized_client(&state, &headers, &client_id).await?;
    let value = json_object(&headers, body)?;
    let members = value.as_object().expect("json_object returns objects");
    if members.get("client_id").and_then(|v| v.as_str()) != Some(client_id.as_str()) {
        return Err(RegistrationError::BadUpdate("client_id must be present and name this client".into()));
    }
    if let Some(member) = SERVER_ONLY.iter().find(|m| members.contains_key(**m)) {
        return Err(RegistrationError::BadUpdate(format!("{member} must not be sent (RFC 7592 §2.2)")));
    }
    // A secret, if sent, must be the current one (§2.2): a client cannot set its own.
    if let Some(sent) = members.get("client_secret") {
        let ok = sent.as_str().is_some_and(|s| client.verify_secret(s, state.policy.client_secret_key.as_ref()));
        if !ok {
            return Err(RegistrationError::BadUpdate("client_secret does not match the client's".into()));
        }
    }
    let sent: Vec<String> = members.keys().cloned().collect();
    let mut settings = checked_settings(&state, value)?;
    settings.registration_access_token_hash = client.settings.registration_access_token_hash.take();
    settings.audiences = std::mem::take(&mut client.settings.audiences);
    settings.introspection = client.settings.introspection;
    narrow_exchange_lists(&mut settings, &client.settings, &sent)?;
    keep_mfa_requirement(&mut settings, &client.settings, &sent)?;

    let secret_key = state.policy.client_secret_key.as_ref();
    let Some(Replaced { new_secret }) =
        clients::replace_client(&*state.clients, &mut client, settings, state.clock.now(), secret_key).await?
    else {
        return Err(RegistrationError::NotAuthorized); // deleted meanwhile
    };
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.limit.trusted_proxies);
    let event = AuditEvent::new(client.updated_at, "client.updated", format!("client:{}", client.client_id))
        .subject(&client.client_id)
        .client(&client.client_id)
        .ip(address)
        .detail("via", "client configuration endpoint");
    let event = with_statement_issuer(event, &client);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(json_response(StatusCode::OK, &configuration(&state, &client, new_secret)))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client, its consents
/// and refresh tokens go; its access tokens stop validating.
async fn remove(
    State(state): State<RegistrationState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, RegistrationError> {
    let client = authorized_client(&state, &headers, &client_id).await?;
    // The console's own client has no registration access token; the
    // domain's refusal is the same answer as a token that is not its.
    clients::delete_client(&*state.clients, &client.client_id).await.map_err(|e| match e {
        clients::DeleteClientError::Protected(_) => RegistrationError::NotAuthorized,
        clients::DeleteClientError::Store(e) => RegistrationError::Store(e),
    })?;
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.limit.trusted_proxies);
    let event = AuditEvent::new(state.clock.now(), "client.deleted", format!("client:{}", client.client_id))
        .subject(&client.client_id)
        .client(&client.client_id)
        .ip(address)
        .detail("via", "client configuration endpoint");
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod exchange_lists {
    use latchkey_core::ClientMetadata;

    use super::*;

    fn settings(audiences: &[&str]) -> ClientSettings {
        let mut s = serde_json::from_value::<ClientMetadata>(serde_json::json!({
            "grant_types": ["client_credentials", latchkey_core::client::TOKEN_EXCHANGE]
        }))
        .unwrap()
        .validate(&RegistrationPolicy::default())
        .unwrap();
        s.token_exchange_audiences = audiences.iter().map(|a| a.to_string()).collect();
        s
    }

    #[test]
    fn rfc_7592_only_narrows_the_token_exchange_lists() {
        let old = settings(&["a", "b"]);
        let sent = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Left out: kept.
        let mut new = settings(&[]);
        narrow_exchange_lists(&mut new, &old, &sent(&["client_name"])).unwrap();
        assert_eq!(new.token_exchange_audiences, ["a", "b"]);
        // Sent narrower: taken.
        let mut new = settings(&["b"]);
        narrow_exchange_lists(&mut new, &old, &sent(&["token_exchange_audiences"])).unwrap();
        assert_eq!(new.token_exchange_audiences, ["b"]);
        // Wider, or emptied (no narrowing at all): refused.
        for wider in [&["a", "c"][..], &[]] {
            let mut new = settings(wider);
            let e = narrow_exchange_lists(&mut new, &old, &sent(&["token_exchange_audiences"])).unwrap_err();
            assert!(e.to_string().contains("only be narrowed"), "{wider:?}: {e}");
        }
        // No list before: anything sent narrows.
        let mut new = settings(&["z"]);
        narrow_exchange_lists(&mut new, &settings(&[]), &sent(&["token_exchange_audiences"])).unwrap();
        assert_eq!(new.token_exchange_audiences, ["z"]);
    }

    #[test]
    fn rfc_7592_keeps_require_mfa_and_never_turns_it_off() {
        let sent = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut on = settings(&[]);
        on.require_mfa = true;
        // Left out: kept.
        let mut new = settings(&[]);
        keep_mfa_requirement(&mut new, &on, &sent(&["client_name"])).unwrap();
        assert!(new.require_mfa);
        // Turned off here: refused; turned on: taken.
        let e = keep_mfa_requirement(&mut settings(&[]), &on, &sent(&["require_mfa"])).unwrap_err();
        assert!(e.to_string().contains("only be turned on"), "{e}");
        let mut new = on.clone();
        keep_mfa_requirement(&mut new, &settings(&[]), &sent(&["require_mfa"])).unwrap();
        assert!(new.require_mfa);
    }
}
