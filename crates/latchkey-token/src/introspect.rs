//! Token introspection (RFC 7662). Callers authenticate as confidential
//! clients; a client learns about its own tokens only, a client registered
//! with `introspection` (a resource server) about any. Everything else, and
//! every invalid token, is `{"active": false}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::Endpoint;
use latchkey_core::Client;
use latchkey_core::secret::hash_token;
use latchkey_http::form::is_form;
use latchkey_http::{Params, json_no_store};
use serde_json::{Value, json};

use crate::access::{AccessTokenError, validate};
use crate::{TokenError, TokenState};

pub async fn introspect(
    State(state): State<TokenState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    inner(&state, &headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn inner(
    state: &TokenState,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, TokenError> {
    let body = body.map_err(|_| TokenError::InvalidRequest("request body too large".into()))?;
    if !is_form(headers) {
        return Err(TokenError::InvalidRequest("the body must be application/x-www-form-urlencoded".into()));
    }
    let form = Params::parse(&body).map_err(|e| TokenError::InvalidRequest(e.to_string()))?;
    let caller = state.client_auth.authenticate(headers, &form, Endpoint::Introspection).await?;
    if caller.is_public() {
        return Err(TokenError::Client(latchkey_client_auth::ClientAuthError::UnknownClient));
    }
    let token = form.get("token").ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let refresh_first = form.get("token_type_hint") == Some("refresh_token");
    let mut answer = None;
    for kind in if refresh_first { [true, false] } else { [false, true] } {
        answer = if kind {
            refresh_token(state, &caller, token).await?
        } else {
            access_token(state, &caller, token).await?
        };
        if answer.is_some() {
            break;
        }
    }
    Ok(json_no_store(StatusCode::OK, &answer.unwrap_or_else(|| json!({"active": false}))))
}

fn may_see(caller: &Client, client_id: Option<&str>, aud: Option<&Value>) -> bool {
    if caller.settings.introspection || client_id == Some(caller.client_id.as_str()) {
        return true;
    }
    match aud {
        Some(Value::String(a)) => *a == caller.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(caller.client_id.as_str())),
        _ => false,
    }
}

async fn access_token(state: &TokenState, caller: &Client, token: &str) -> Result<Option<Value>, TokenError> {
    if token.split('.').count() != 3 {
        return Ok(None);
    }
    let claims = match validate(state, token).await {
        Ok(c) => c,
        Err(AccessTokenError::Invalid(_)) => return Ok(None),
        Err(AccessTokenError::Store(e)) => return Err(e.into()),
    };
    let client_id = claims.get("client_id").and_then(|v| v.as_str());
    if !may_see(caller, client_id, claims.get("aud")) {
        return Ok(None);
    }
    // A token of a person who is gone or disabled is no longer active.
    if let Some(sub) = claims.get("sub").and_then(|v| v.as_str())
        && Some(sub) != client_id
        && state.users.get_user(sub).await?.is_none_or(|u| u.disabled)
    {
        return Ok(None);
    }
    let mut out = json!({"active": true, "token_type": "Bearer"});
    // `groups` as the token carries it (the `groups` scope), for resource
    // servers that introspect instead of reading the JWT.
    for k in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "acr", "groups"] {
        if let Some(v) = claims.get(k) {
            out[k] = v.clone();
        }
    }
    Ok(Some(out))
}

async fn refresh_token(state: &TokenState, caller: &Client, token: &str) -> Result<Option<Value>, TokenError> {
    let Some(record) = state.refresh.get_refresh_token(&hash_token(token)).await? else {
        return Ok(None);
    };
    let t = &record.token;
    let now = state.clock.now();
    if record.consumed_at.is_some() || record.revoked_at.is_some() || t.expires_at <= now {
        return Ok(None);
    }
    if !may_see(caller, Some(&t.client_id), None) {
        return Ok(None);
    }
    if state.users.get_user(&t.auth.user_id).await?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": t.scope.to_string(),
        "client_id": t.client_id,
        "sub": t.auth.user_id,
        "exp": t.expires_at,
        "iat": t.created_at,
        "iss": state.settings.issuer,
        "aud": t.client_id,
    })))
}
