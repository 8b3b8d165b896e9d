//! Token revocation (RFC 7009). A refresh token revokes its whole family; an
//! access token's `jti` goes on the denylist until it expires. A client may
//! revoke only its own tokens; anything else, known or not, gets the same
//! 200, so that revocation cannot be used to probe for tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::Endpoint;
use latchkey_core::secret::hash_token;
use latchkey_http::form::is_form;
use latchkey_http::{Params, no_store_headers};
use latchkey_store::cascade::Revocations;

use crate::access::{AccessTokenError, validate};
use crate::{TokenError, TokenState};

pub async fn revoke(
    State(state): State<TokenState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    match inner(&state, &headers, body).await {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            no_store_headers(res.headers_mut());
            res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn inner(
    state: &TokenState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(), TokenError> {
    let body = body.map_err(|_| TokenError::InvalidRequest("request body too large".into()))?;
    if !is_form(headers) {
        return Err(TokenError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    let form = Params::parse(&body).map_err(|e| TokenError::InvalidRequest(e.to_string()))?;
    let client = state.client_auth.authenticate(headers, &form, Endpoint::Revocation).await?;
    let token = form.get("token").ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let now = state.clock.now();

    if let Some(record) = state.refresh.get_refresh_token(&hash_token(token)).await? {
        if record.token.client_id == client.client_id {
            let n = state.refresh.revoke_family(&record.token.grant_id, now).await?;
            tracing::info!(event = "token_revoked", kind = "refresh_token", client_id = %client.client_id, live = n, "refresh token family revoked");
        } else {
            tracing::info!(client_id = %client.client_id, "revocation of another client's refresh token ignored");
        }
        return Ok(());
    }
    if token.split('.').count() == 3 {
        match validate(state, token).await {
            Ok(claims) => {
                let owner = claims.get("client_id").and_then(|v| v.as_str());
                let jti = claims.get("jti").and_then(|v| v.as_str());
                let exp = claims.get("exp").and_then(|v| v.as_i64());
                if let (Some(jti), Some(exp)) = (jti, exp)
                    && owner == Some(client.client_id.as_str())
                {
                    state.denylist.deny_access_token(jti, exp).await?;
                    tracing::info!(event = "token_revoked", kind = "access_token", client_id = %client.client_id, "access token revoked");
                }
            }
            Err(AccessTokenError::Invalid(_)) => {}
            Err(AccessTokenError::Store(e)) => return Err(e.into()),
        }
    }
    Ok(())
}
