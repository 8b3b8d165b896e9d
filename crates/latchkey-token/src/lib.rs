//! The token endpoint (RFC 6749 §3.2; one module per grant, dispatched on
//! `grant_type`) and UserInfo (OIDC Core §5.3).

mod access;
mod claims;
mod grant;
mod introspect;
mod mint;
mod revoke;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_client_auth::{ClientAuthError, ClientAuthenticator, Endpoint};
use latchkey_core::{Clock, ErrorCode, OAuthError};
use latchkey_http::form::is_form;
use latchkey_http::{Params, json_no_store, oauth_error_response, store_error_response};
use latchkey_keys::KeyRing;
use latchkey_store::{ClientStore, DenylistStore, Store, StoreError, UserStore};

pub use claims::user_claims;

/// Settings the token endpoint needs.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    /// Lifetimes of tokens, and how refresh tokens behave (`[tokens]`).
    pub tokens: latchkey_config::Tokens,
}

impl TokenSettings {
    pub fn from_config(config: &latchkey_config::Config) -> Self {
        Self { issuer: config.issuer.clone(), tokens: config.tokens.clone() }
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
}

/// Routes, relative to the issuer's path.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    TokenState: FromRef<S>,
{
    Router::new()
        .route("/token", post(token).layer(DefaultBodyLimit::max(16 * 1024)))
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

/// A token request, tagged by `grant_type`.
enum TokenRequest<'a> {
    AuthorizationCode { code: &'a str, redirect_uri: Option<&'a str>, code_verifier: Option<&'a str> },
    RefreshToken { refresh_token: &'a str, scope: Option<&'a str> },
    ClientCredentials { scope: Option<&'a str>, resource: Option<&'a str> },
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
    #[error("signing failed: {0}")]
    Signing(String),
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
        };
        oauth_error_response(&error)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        self.response()
    }
}

fn parse_request(form: &Params) -> Result<TokenRequest<'_>, TokenError> {
    match form.get("grant_type") {
        None => Err(TokenError::InvalidRequest("grant_type is required".into())),
        Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
            code: form.get("code").ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?,
            redirect_uri: form.get("redirect_uri"),
            code_verifier: form.get("code_verifier"),
        }),
        Some("refresh_token") => Ok(TokenRequest::RefreshToken {
            refresh_token: form
                .get("refresh_token")
                .ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?,
            scope: form.get("scope"),
        }),
        Some("client_credentials") => {
            if form.contains("resource") && form.contains("audience") {
                return Err(TokenError::InvalidRequest("send resource or audience, not both".into()));
            }
            Ok(TokenRequest::ClientCredentials {
                scope: form.get("scope"),
                resource: form.get("resource").or_else(|| form.get("audience")),
            })
        }
        Some(other) => Err(TokenError::UnsupportedGrantType(other.to_string())),
    }
}

async fn token(
    State(state): State<TokenState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    token_inner(&state, &headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn token_inner(
    state: &TokenState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, TokenError> {
    let body = match body {
        Ok(b) => b,
        Err(_) => {
            let mut res = oauth_error_response(&OAuthError::invalid_request("request body too large"));
            *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(res);
        }
    };
    if !is_form(headers) {
        return Err(TokenError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    let form = Params::parse(&body).map_err(|e| TokenError::InvalidRequest(e.to_string()))?;
    let request = parse_request(&form)?;
    let client = state.client_auth.authenticate(headers, &form, Endpoint::Token).await?;
    let (grant_type, response) = match request {
        TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => (
            "authorization_code",
            grant::authorization_code::exchange(state, &client, code, redirect_uri, code_verifier).await?,
        ),
        TokenRequest::RefreshToken { refresh_token, scope } => {
            ("refresh_token", grant::refresh_token::refresh(state, &client, refresh_token, scope).await?)
        }
        TokenRequest::ClientCredentials { scope, resource } => {
            ("client_credentials", grant::client_credentials::issue(state, &client, scope, resource).await?)
        }
    };
    metrics::counter!("latchkey_tokens_issued_total", "grant_type" => grant_type).increment(1);
    Ok(json_no_store(StatusCode::OK, &response))
}
