//! Token introspection (RFC 7662). Callers authenticate as confidential
//! clients; a client learns about its own tokens only, a client registered
//! with `introspection` (a resource server) about any. Everything else, and
//! every invalid token, is `{"active": false}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::{ClientCredentials, Endpoint};
use latchkey_core::Client;
use latchkey_core::claims::Audience;
use latchkey_core::secret::hash_token;
use latchkey_http::{Form, FormRejection, json_no_store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{AccessTokenError, validate};
use crate::{TokenError, TokenState};

/// The introspection form (RFC 7662 §2.1). `token` is checked after the
/// client is authenticated: an unauthenticated caller learns nothing.
#[derive(Debug, Deserialize)]
pub struct IntrospectionForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientCredentials,
}

pub async fn introspect(
    State(state): State<TokenState>,
    headers: HeaderMap,
    form: Result<Form<IntrospectionForm>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => inner(&state, &headers, form).await,
        Err(e) => Err(TokenError::InvalidRequest(e.message())),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn inner(state: &TokenState, headers: &HeaderMap, form: IntrospectionForm) -> Result<Response, TokenError> {
    let caller = state.client_auth.authenticate(headers, &form.client, Endpoint::Introspection).await?;
    if caller.is_public() {
        return Err(TokenError::Client(latchkey_client_auth::ClientAuthError::UnknownClient));
    }
    let token = form.token.as_deref().ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let refresh_first = form.token_type_hint.as_deref() == Some("refresh_token");
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

/// Whether `caller` may learn about a token of `client_id` for `aud`.
fn may_see(caller: &Client, client_id: &str, aud: Option<&Audience>) -> bool {
    caller.settings.introspection || client_id == caller.client_id || aud.is_some_and(|a| a.contains(&caller.client_id))
}

/// The introspection answer for an active token (RFC 7662 §2.2).
#[derive(Debug, Serialize)]
struct Active<'a> {
    active: bool,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    client_id: &'a str,
    sub: &'a str,
    exp: i64,
    iat: i64,
    iss: &'a str,
    aud: &'a Audience,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    /// As the token carries it (the `groups` scope), for resource servers
    /// that introspect instead of reading the JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
    /// Who acts for `sub`, from a token exchange (RFC 8693 §4.1, §2.1 of RFC 7662 allows more members).
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a latchkey_core::claims::Actor>,
    /// The DPoP key a token is bound to (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a latchkey_core::claims::Confirmation>,
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
    if !may_see(caller, &claims.client_id, Some(&claims.aud)) {
        return Ok(None);
    }
    // A token of a person who is gone or disabled is no longer active.
    if !claims.is_client_token() && state.users.get_user(&claims.sub).await?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    let active = Active {
        active: true,
        token_type: crate::mint::token_type(claims.cnf.is_some()),
        scope: claims.scope.as_ref().map(|s| s.to_string()),
        client_id: &claims.client_id,
        sub: &claims.sub,
        exp: claims.exp,
        iat: claims.iat,
        iss: &claims.iss,
        aud: &claims.aud,
        jti: Some(&claims.jti),
        auth_time: claims.auth_time,
        acr: claims.acr.as_deref(),
        groups: claims.groups.as_deref(),
        act: claims.act.as_ref(),
        cnf: claims.cnf.as_ref(),
    };
    Ok(Some(serde_json::to_value(active).expect("introspection answer serializes")))
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
    if !may_see(caller, &t.client_id, None) {
        return Ok(None);
    }
    if state.users.get_user(&t.auth.user_id).await?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    let aud = Audience::One(t.client_id.clone());
    let active = Active {
        active: true,
        token_type: "refresh_token",
        scope: Some(t.scope.to_string()),
        client_id: &t.client_id,
        sub: &t.auth.user_id,
        exp: t.expires_at,
        iat: t.created_at,
        iss: &state.settings.issuer,
        aud: &aud,
        jti: None,
        auth_time: None,
        acr: None,
        groups: None,
        act: None,
        cnf: None,
    };
    Ok(Some(serde_json::to_value(active).expect("introspection answer serializes")))
}
