//! UserInfo (OIDC Core §5.3): GET and POST, bearer token in the header or
//! (POST) the form body, CORS open for browser apps.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::{ErrorCode, OAuthError, Scope};
use latchkey_http::form::is_form;
use latchkey_http::{Params, bearer_token, oauth_error_response, store_error_response};
use latchkey_store::StoreError;

use crate::TokenState;
use crate::claims::user_claims;

/// Why a UserInfo request failed.
#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    #[error("no access token")]
    NoToken,
    #[error("token in both the header and the body")]
    TwoTokens,
    #[error("malformed request")]
    Malformed,
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("the token lacks the openid scope")]
    InsufficientScope,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for UserInfoError {
    fn into_response(self) -> Response {
        let mut res = match &self {
            Self::NoToken => {
                let mut res = StatusCode::UNAUTHORIZED.into_response();
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                res
            }
            Self::TwoTokens | Self::Malformed => {
                oauth_error_response(&OAuthError::invalid_request("send the access token in exactly one place"))
            }
            Self::InvalidToken(why) => {
                tracing::debug!(reason = why, "userinfo: invalid token");
                oauth_error_response(&OAuthError::new(ErrorCode::InvalidToken, "the access token is invalid"))
            }
            Self::InsufficientScope => {
                let mut res = oauth_error_response(&OAuthError::new(
                    ErrorCode::InsufficientScope,
                    "the access token was not issued for the openid scope",
                ));
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
                );
                res
            }
            Self::Store(e) => store_error_response(e),
        };
        cors(res.headers_mut());
        res
    }
}

fn cors(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate"));
}

pub async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    cors(h);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    res
}

fn header_token(headers: &HeaderMap) -> Result<Option<&str>, UserInfoError> {
    if headers.get(header::AUTHORIZATION).is_none() {
        return Ok(None);
    }
    bearer_token(headers).map(Some).ok_or(UserInfoError::InvalidToken("malformed Authorization header"))
}

pub async fn get(State(state): State<TokenState>, headers: HeaderMap) -> Response {
    let result = match header_token(&headers) {
        Ok(Some(token)) => respond(&state, token).await,
        Ok(None) => Err(UserInfoError::NoToken),
        Err(e) => Err(e),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn post(
    State(state): State<TokenState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = async {
        let from_header = header_token(&headers)?;
        let body = body.map_err(|_| UserInfoError::Malformed)?;
        let form = if is_form(&headers) && !body.is_empty() {
            Params::parse(&body).map_err(|_| UserInfoError::Malformed)?
        } else {
            Params::default()
        };
        let token = match (from_header, form.get("access_token")) {
            (Some(_), Some(_)) => return Err(UserInfoError::TwoTokens),
            (Some(t), None) | (None, Some(t)) => t.to_string(),
            (None, None) => return Err(UserInfoError::NoToken),
        };
        respond(&state, &token).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn respond(state: &TokenState, token: &str) -> Result<Response, UserInfoError> {
    let claims = match crate::access::validate(state, token).await {
        Ok(c) => c,
        Err(crate::access::AccessTokenError::Invalid(why)) => return Err(UserInfoError::InvalidToken(why)),
        Err(crate::access::AccessTokenError::Store(e)) => return Err(UserInfoError::Store(e)),
    };
    let claim = |k: &str| claims.get(k);
    let scope = claim("scope")
        .and_then(|v| v.as_str())
        .and_then(|s| Scope::parse(s).ok())
        .ok_or(UserInfoError::InvalidToken("scope"))?;
    if !scope.contains("openid") {
        return Err(UserInfoError::InsufficientScope);
    }
    let sub = claim("sub").and_then(|v| v.as_str()).ok_or(UserInfoError::InvalidToken("no sub"))?;
    let user = match state.users.get_user(sub).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(UserInfoError::InvalidToken("user gone")),
    };
    let mut body = user_claims(&user, &scope);
    body.insert("sub".into(), user.id.clone().into());
    let mut res = axum::Json(serde_json::Value::Object(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    cors(h);
    Ok(res)
}
