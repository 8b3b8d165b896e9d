//! The token endpoint (RFC 6749 §3.2; one module per grant, dispatched on
//! `grant_type`) and UserInfo (OIDC Core §5.3).

mod claims;
mod grant;
mod mint;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_core::{Clock, ErrorCode, OAuthError};
use latchkey_http::client_auth::{ClientAuthError, authenticate_client};
use latchkey_http::form::is_form;
use latchkey_http::{Params, json_no_store, oauth_error_response, store_error_response};
use latchkey_keys::KeyRing;
use latchkey_store::{ClientStore, CodeStore, StoreError, UserStore};

pub use claims::user_claims;

/// Settings the token endpoint needs.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// `aud` of access tokens issued without a resource indicator.
    pub default_audience: String,
}

/// What the token and UserInfo endpoints need.
#[derive(Clone)]
pub struct TokenState {
    pub settings: Arc<TokenSettings>,
    pub clients: Arc<dyn ClientStore>,
    pub users: Arc<dyn UserStore>,
    pub codes: Arc<dyn CodeStore>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
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
            "/userinfo",
            axum::routing::get(userinfo::get)
                .post(userinfo::post)
                .options(userinfo::preflight)
                .layer(DefaultBodyLimit::max(16 * 1024)),
        )
}

/// A token request, tagged by `grant_type`.
enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: Option<&'a str>,
    },
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
            Self::UnauthorizedClient(g) => OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client is not registered for {g}"),
            ),
            Self::CodeNotFound | Self::CodeClientMismatch => grant("the code is invalid or expired"),
            Self::CodeAlreadyUsed => grant("the code was already used"),
            Self::RedirectUriMismatch => grant("redirect_uri does not match the authorization request"),
            Self::Pkce(why) => grant(why),
            Self::UserGone => grant("the user is no longer active"),
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
            code: form
                .get("code")
                .ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?,
            redirect_uri: form.get("redirect_uri"),
            code_verifier: form.get("code_verifier"),
        }),
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
        return Err(TokenError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let form = Params::parse(&body).map_err(|e| TokenError::InvalidRequest(e.to_string()))?;
    let request = parse_request(&form)?;
    let client = authenticate_client(state.clients.as_ref(), headers, &form).await?;
    let response = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => grant::authorization_code::exchange(state, &client, code, redirect_uri, code_verifier).await?,
    };
    Ok(json_no_store(StatusCode::OK, &response))
}
