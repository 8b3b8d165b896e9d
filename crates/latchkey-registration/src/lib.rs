//! OAuth 2.0 Dynamic Client Registration (RFC 7591).
//!
//! The server mounts this router only when registration is open or guarded
//! by an initial access token; when it is closed the endpoint does not exist
//! and discovery does not name it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_core::client::ClientSettings;
use latchkey_core::secret::constant_time_eq;
use latchkey_core::{Client, ClientMetadata, Clock, ErrorCode, MetadataError, OAuthError, RegistrationPolicy};
use latchkey_http::{bearer_token, json_no_store, oauth_error_response};
use latchkey_store::{ClientStore, StoreError};

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
}

/// Routes, relative to the issuer's path.
pub fn router<S>(path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    RegistrationState: FromRef<S>,
{
    Router::new().route(path, post(register).layer(DefaultBodyLimit::max(MAX_BODY)))
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
            Self::NotJson => OAuthError::invalid_request("content type must be application/json"),
            Self::TooLarge => OAuthError::invalid_request("request body too large"),
            Self::Malformed(m) => OAuthError::new(ErrorCode::InvalidClientMetadata, m.clone()),
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

fn authorize(state: &RegistrationState, headers: &HeaderMap) -> Result<(), RegistrationError> {
    let Some(expected) = &state.initial_access_token else {
        return Ok(());
    };
    let presented = bearer_token(headers).ok_or(RegistrationError::MissingToken)?;
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
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

async fn register(
    State(state): State<RegistrationState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, RegistrationError> {
    authorize(&state, &headers)?;
    if !is_json(&headers) {
        return Err(RegistrationError::NotJson);
    }
    let body = body.map_err(|_| RegistrationError::TooLarge)?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| RegistrationError::Malformed(format!("not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(RegistrationError::Malformed("the body must be a JSON object".into()));
    }
    let metadata: ClientMetadata =
        serde_json::from_value(value).map_err(|e| RegistrationError::Malformed(e.to_string()))?;
    let mut settings: ClientSettings = metadata.validate(&state.policy)?;
    settings.dynamically_registered = true;

    let now = state.clock.now();
    let (client, secret) = Client::register(settings, now);
    state.clients.insert_client(&client).await?;
    tracing::info!(client_id = %client.client_id, "client registered dynamically");

    let mut body = client.metadata_json();
    if let (Some(obj), Some(secret)) = (body.as_object_mut(), secret) {
        obj.insert("client_secret".into(), secret.into());
        obj.insert("client_secret_expires_at".into(), 0.into());
    }
    let mut res = json_no_store(StatusCode::CREATED, &body);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(res)
}
