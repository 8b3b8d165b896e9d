//! The device authorization endpoint (RFC 8628 §3.1, §3.2): a device asks
//! for a device code and a user code, and shows the person where to go.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::{ClientCredentials, Endpoint};
use latchkey_core::device::{self, DeviceCode};
use latchkey_core::secret::hash_token;
use latchkey_core::{GrantType, Scope, random};
use latchkey_http::{Form, FormError, FormRejection, json_no_store, payload_too_large};
use latchkey_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::{TokenError, TokenState};

/// The request (RFC 8628 §3.1) with the client's credentials.
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorizationForm {
    scope: Option<String>,
    #[serde(flatten)]
    client: ClientCredentials,
}

/// The answer (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
struct DeviceAuthorizationResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

pub async fn device_authorization(
    State(state): State<TokenState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<DeviceAuthorizationForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(FormRejection::Body(_)) => return payload_too_large(),
        Err(FormRejection::Invalid(FormError::Unsupported(_))) => {
            return TokenError::InvalidRequest("unsupported parameter".into()).into_response();
        }
        Err(e) => return TokenError::InvalidRequest(e.message()).into_response(),
    };
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    authorize(&state, &headers, address, form).await.unwrap_or_else(IntoResponse::into_response)
}

async fn authorize(
    state: &TokenState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    form: DeviceAuthorizationForm,
) -> Result<Response, TokenError> {
    let client = state.client_auth.authenticate(headers, &form.client, Endpoint::Token).await?;
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient(device::GRANT_TYPE));
    }
    // As at the authorization endpoint: a scope is required, and only what
    // the client is registered for.
    let scope = match form.scope.as_deref() {
        None => return Err(TokenError::InvalidScope("scope is required".into())),
        Some(s) => Scope::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()))?,
    };
    if scope.is_empty() {
        return Err(TokenError::InvalidScope("scope is required".into()));
    }
    if let Some(extra) = scope.iter().find(|s| !client.settings.scope.contains(s)) {
        return Err(TokenError::InvalidScope(format!("the client may not request scope {extra}")));
    }
    let now = state.clock.now();
    let settings = &state.settings.device;
    // Pending requests stay bounded: so many per address and minute.
    if settings.max_per_address_per_minute > 0 {
        let bucket = format!("device:{}", latchkey_core::lockout::address_key(address));
        if state.codes.hit(&bucket, 60, now).await? > settings.max_per_address_per_minute {
            let window_end = latchkey_store::window_start(now, 60) + 60;
            return Err(TokenError::TooMany { retry_after: window_end - now });
        }
    }
    let device_code = random::token(32);
    let ttl = settings.code_ttl_seconds.secs();
    // A user code still in use (one in 2.6 × 10^10 per live code) is drawn again.
    let mut attempts = 0;
    let user_code = loop {
        let user_code = device::new_user_code();
        let canonical = device::normalize_user_code(&user_code).expect("a new code is canonical");
        let record = DeviceCode {
            device_code_hash: hash_token(&device_code),
            user_code_hash: device::user_code_hash(&canonical),
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            created_at: now,
            expires_at: now + ttl,
            interval: settings.interval_seconds.secs(),
        };
        match state.codes.insert_device_code(&record).await {
            Ok(()) => break user_code,
            Err(StoreError::Conflict(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let verification_uri = format!("{}/device", state.settings.issuer);
    let complete = format!("{verification_uri}?user_code={user_code}");
    tracing::info!(event = "device_authorization", client_id = %client.client_id, "device code issued");
    let body = DeviceAuthorizationResponse {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete: complete,
        expires_in: ttl,
        interval: settings.interval_seconds.secs(),
    };
    Ok(json_no_store(StatusCode::OK, &body))
}
