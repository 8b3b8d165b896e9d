//! The token endpoint (RFC 6749 §3.2; one module per grant, dispatched on
//! `grant_type`) and UserInfo (OIDC Core §5.3).

mod access;
mod device_authorization;
mod grant;
mod introspect;
mod mint;
mod revoke;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_client_auth::{
    ClientAuthError, ClientAuthenticator, ClientCredentials, DpopError, DpopVerifier, Endpoint,
};
use latchkey_core::{Clock, ErrorCode, OAuthError};
use latchkey_http::{
    Form, FormError, FormRejection, json_no_store, oauth_error_response, payload_too_large, store_error_response,
};
use latchkey_keys::KeyRing;
use latchkey_store::{ClientStore, DenylistStore, Store, StoreError, UserStore};
use serde::Deserialize;

/// Settings the token endpoint needs.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    /// Lifetimes of tokens, and how refresh tokens behave (`[tokens]`).
    pub tokens: latchkey_config::Tokens,
    /// The device authorization grant (`[device]`).
    pub device: latchkey_config::Device,
    /// Proxies whose `X-Forwarded-For` names the caller (the device
    /// authorization endpoint's per-address limit).
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
    /// The algorithm of access tokens (`keys.algorithm`).
    pub access_token_alg: &'static str,
}

impl TokenSettings {
    pub fn from_config(config: &latchkey_config::Config) -> Self {
        Self {
            issuer: config.issuer.clone(),
            tokens: config.tokens.clone(),
            device: config.device.clone(),
            trusted_proxies: config.http.trusted_proxies.clone().into(),
            access_token_alg: config.keys.algorithm.as_str(),
        }
    }

    /// `aud` of access tokens issued without a resource indicator:
    /// `tokens.default_audience`, else the issuer.
    pub fn default_audience(&self) -> &str {
        self.tokens.default_audience.as_deref().unwrap_or(&self.issuer)
    }
}

/// What the token and UserInfo endpoints need.
#[derive(Clone)]
pub struct TokenState {
    pub settings: Arc<TokenSettings>,
    pub clients: Arc<dyn ClientStore>,
    pub users: Arc<dyn UserStore>,
    /// Codes, with their units of work (recording what a code issued, revoking it).
    pub codes: Arc<dyn Store>,
    /// Refresh tokens, with their units of work (revoking a family).
    pub refresh: Arc<dyn Store>,
    pub denylist: Arc<dyn DenylistStore>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub client_auth: ClientAuthenticator,
    pub audit: Arc<dyn latchkey_store::AuditStore>,
    /// DPoP proofs (RFC 9449) at the token endpoint and UserInfo.
    pub dpop: DpopVerifier,
}

/// Routes, relative to the issuer's path.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    TokenState: FromRef<S>,
{
    Router::new()
        .route("/token", post(token).layer(DefaultBodyLimit::max(16 * 1024)))
        .route(
            "/device_authorization",
            post(device_authorization::device_authorization).layer(DefaultBodyLimit::max(16 * 1024)),
        )
        .route("/introspect", post(introspect::introspect).layer(DefaultBodyLimit::max(16 * 1024)))
        .route("/revoke", post(revoke::revoke).layer(DefaultBodyLimit::max(16 * 1024)))
        .route(
            "/userinfo",
            axum::routing::get(userinfo::get)
                .post(userinfo::post)
                .options(userinfo::preflight)
                .layer(DefaultBodyLimit::max(16 * 1024)),
        )
}

/// A token request (RFC 6749 §4.1.3, §6, §4.4), tagged by `grant_type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
        /// RFC 8707's resource indicator, or `audience` (the older name many clients send).
        resource: Option<String>,
        audience: Option<String>,
    },
    /// RFC 8628 §3.4.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode {
        device_code: String,
    },
    /// RFC 8693 §2.1.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange(grant::token_exchange::ExchangeRequest),
}

impl TokenRequest {
    fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
            Self::DeviceCode { .. } => "device_code",
            Self::TokenExchange(_) => "token_exchange",
        }
    }
}

/// The token endpoint's form: the request and the client's credentials.
#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(flatten)]
    request: TokenRequest,
    #[serde(flatten)]
    client: ClientCredentials,
}

/// Everything that can go wrong at the token endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("unsupported grant_type {0}")]
    UnsupportedGrantType(String),
    #[error("the client may not use grant {0}")]
    UnauthorizedClient(&'static str),
    #[error("client authentication: {0}")]
    Client(#[from] ClientAuthError),
    #[error("the code is unknown or expired")]
    CodeNotFound,
    #[error("the code was issued to another client")]
    CodeClientMismatch,
    #[error("the code was already used")]
    CodeAlreadyUsed,
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    #[error("PKCE verification failed: {0}")]
    Pkce(&'static str),
    #[error("the user no longer exists or is disabled")]
    UserGone,
    #[error("the refresh token is unknown, expired or revoked")]
    RefreshTokenInvalid,
    #[error("the refresh token was issued to another client")]
    RefreshClientMismatch,
    #[error("the refresh token was already used; its family was revoked")]
    RefreshTokenReused,
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("invalid target: {0}")]
    InvalidTarget(String),
    #[error("the device code is unknown or another client's")]
    DeviceCodeInvalid,
    #[error("the device code expired")]
    DeviceCodeExpired,
    #[error("the device code was already used")]
    DeviceCodeUsed,
    #[error("the person has not decided yet")]
    AuthorizationPending,
    #[error("polled too often")]
    SlowDown,
    #[error("the person denied the device")]
    DeviceDenied,
    #[error("too many device authorizations from one address")]
    TooMany { retry_after: i64 },
    #[error("signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Dpop(#[from] DpopError),
    #[error("the client must send a DPoP proof (dpop_bound_access_tokens)")]
    DpopRequired,
    /// A FAPI 2.0 client's proof in an algorithm the profile does not allow.
    #[error("the DPoP proof's algorithm is not PS256, ES256 or EdDSA (FAPI 2.0)")]
    DpopAlgorithm,
    #[error("{0}")]
    DpopKeyMismatch(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TokenError {
    fn response(self) -> Response {
        let grant = |d: &'static str| OAuthError::new(ErrorCode::InvalidGrant, d);
        let error = match self {
            Self::Client(e) => return e.response(),
            Self::Store(e) => return store_error_response(&e),
            Self::Signing(ref e) => {
                tracing::error!(error = %e, "token signing failed");
                OAuthError::server_error()
            }
            Self::InvalidRequest(m) => OAuthError::invalid_request(m),
            Self::Dpop(DpopError::Store(e)) => return store_error_response(&e),
            Self::Dpop(DpopError::Invalid(why)) => OAuthError::new(ErrorCode::InvalidDpopProof, why),
            // 400 at the token endpoint (RFC 9449 §8); the nonce is in DPoP-Nonce.
            Self::Dpop(DpopError::UseNonce) => {
                OAuthError::new(ErrorCode::UseDpopNonce, "the DPoP proof must carry the nonce in DPoP-Nonce")
            }
            Self::DpopRequired => {
                OAuthError::new(ErrorCode::InvalidDpopProof, "this client must send a DPoP proof with token requests")
            }
            Self::DpopAlgorithm => OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's DPoP proofs must be signed with PS256, ES256 or EdDSA (FAPI 2.0)",
            ),
            Self::DpopKeyMismatch(why) => grant(why),
            Self::UnsupportedGrantType(_) => {
                OAuthError::new(ErrorCode::UnsupportedGrantType, "the grant type is not supported")
            }
            Self::UnauthorizedClient(g) => {
                OAuthError::new(ErrorCode::UnauthorizedClient, format!("the client is not registered for {g}"))
            }
            Self::CodeNotFound | Self::CodeClientMismatch => grant("the code is invalid or expired"),
            Self::CodeAlreadyUsed => grant("the code was already used"),
            Self::RedirectUriMismatch => grant("redirect_uri does not match the authorization request"),
            Self::Pkce(why) => grant(why),
            Self::UserGone => grant("the user is no longer active"),
            Self::RefreshTokenInvalid | Self::RefreshClientMismatch => grant("the refresh token is invalid or expired"),
            Self::RefreshTokenReused => grant("the refresh token was already used"),
            Self::InvalidScope(m) => OAuthError::new(ErrorCode::InvalidScope, m),
            Self::InvalidTarget(m) => OAuthError::new(ErrorCode::InvalidTarget, m),
            Self::DeviceCodeInvalid => grant("the device code is invalid"),
            Self::DeviceCodeUsed => grant("the device code was already used"),
            Self::DeviceCodeExpired => OAuthError::new(ErrorCode::ExpiredToken, "the device code expired"),
            Self::AuthorizationPending => {
                OAuthError::new(ErrorCode::AuthorizationPending, "the user has not yet approved or denied the request")
            }
            Self::SlowDown => OAuthError::new(ErrorCode::SlowDown, "poll less often: the interval grew by 5 seconds"),
            // A token endpoint error: 400 (RFC 6749 §5.2), not the 403 of other endpoints.
            Self::TooMany { retry_after } => {
                let error = OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many device authorizations from this address; try again later",
                );
                let mut res = latchkey_http::oauth_error_with_status(StatusCode::TOO_MANY_REQUESTS, &error);
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after.max(1).into());
                return res;
            }
            Self::DeviceDenied => {
                let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                return latchkey_http::oauth_error_with_status(StatusCode::BAD_REQUEST, &error);
            }
        };
        oauth_error_response(&error)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        self.response()
    }
}

async fn token(
    State(state): State<TokenState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        // An oversized body is 413 here (introspection and revocation answer 400).
        Err(FormRejection::Body(_)) => return payload_too_large(),
        Err(FormRejection::Invalid(FormError::Unsupported(grant_type))) => {
            return TokenError::UnsupportedGrantType(grant_type).into_response();
        }
        Err(e) => return TokenError::InvalidRequest(e.message()).into_response(),
    };
    let mut res = token_inner(&state, &headers, form).await.unwrap_or_else(IntoResponse::into_response);
    if let Some(nonce) = state.dpop.nonce_header() {
        res.headers_mut().insert("dpop-nonce", nonce);
    }
    res
}

async fn token_inner(state: &TokenState, headers: &HeaderMap, form: TokenForm) -> Result<Response, TokenError> {
    if let TokenRequest::ClientCredentials { resource: Some(_), audience: Some(_), .. } = &form.request {
        return Err(TokenError::InvalidRequest("send resource or audience, not both".into()));
    }
    let client = state.client_auth.authenticate(headers, &form.client, Endpoint::Token).await?;
    let proof = state.dpop.from_headers(headers, "POST", "/token", None).await?;
    let fapi2 = client.settings.fapi2_security_profile;
    if proof.is_none() && (client.settings.dpop_bound_access_tokens || fapi2) {
        return Err(TokenError::DpopRequired);
    }
    // FAPI 2.0 Security Profile §5.6: no RS256, in proofs too.
    if fapi2 && proof.as_ref().is_some_and(|p| !latchkey_core::fapi2::allows(p.alg)) {
        return Err(TokenError::DpopAlgorithm);
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let grant_type = form.request.grant_type();
    let response = match form.request {
        TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
            grant::authorization_code::exchange(
                state,
                &client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                jkt,
            )
            .await?
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            grant::refresh_token::refresh(state, &client, &refresh_token, scope.as_deref(), jkt).await?
        }
        TokenRequest::ClientCredentials { scope, resource, audience } => {
            let resource = resource.or(audience);
            grant::client_credentials::issue(state, &client, scope.as_deref(), resource.as_deref(), jkt).await?
        }
        TokenRequest::DeviceCode { device_code } => grant::device_code::poll(state, &client, &device_code, jkt).await?,
        TokenRequest::TokenExchange(request) => grant::token_exchange::exchange(state, &client, request, jkt).await?,
    };
    metrics::counter!("latchkey_tokens_issued_total", "grant_type" => grant_type).increment(1);
    Ok(json_no_store(StatusCode::OK, &response))
}
