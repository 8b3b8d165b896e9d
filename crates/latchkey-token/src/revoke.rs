//! Token revocation (RFC 7009). A refresh token revokes its whole family; an
//! access token's `jti` goes on the denylist until it expires. A client may
//! revoke only its own tokens; anything else, known or not, gets the same
//! 200, so that revocation cannot be used to probe for tokens.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::{ClientCredentials, Endpoint};
use latchkey_core::secret::hash_token;
use latchkey_domain::tokens;
use latchkey_http::{Form, FormRejection, no_store_headers};
use serde::Deserialize;

use crate::access::{AccessTokenError, validate};
use crate::{TokenError, TokenState};

/// The revocation form (RFC 7009 §2.1); `token_type_hint` is not needed:
/// a refresh token is looked up first, anything else is tried as an access token.
#[derive(Debug, Deserialize)]
pub struct RevocationForm {
    token: Option<String>,
    #[serde(flatten)]
    client: ClientCredentials,
}

pub async fn revoke(
    State(state): State<TokenState>,
    headers: HeaderMap,
    form: Result<Form<RevocationForm>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => inner(&state, &headers, form).await,
        Err(e) => Err(TokenError::InvalidRequest(e.message())),
    };
    match result {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            no_store_headers(res.headers_mut());
            res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn inner(state: &TokenState, headers: &HeaderMap, form: RevocationForm) -> Result<(), TokenError> {
    let client = state.client_auth.authenticate(headers, &form.client, Endpoint::Revocation).await?;
    let token = form.token.as_deref().ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let now = state.clock.now();

    if let Some(record) = state.refresh.get_refresh_token(&hash_token(token)).await? {
        if record.token.client_id == client.client_id {
            let n = tokens::revoke_family(&*state.refresh, &record.token.grant_id, now).await?;
            tracing::info!(event = "token_revoked", kind = "refresh_token", client_id = %client.client_id, live = n, "refresh token family revoked");
        } else {
            tracing::info!(client_id = %client.client_id, "revocation of another client's refresh token ignored");
        }
        return Ok(());
    }
    if token.split('.').count() == 3 {
        match validate(state, token).await {
            Ok(claims) => {
                if claims.client_id == client.client_id {
                    state.denylist.deny_access_token(&claims.jti, claims.exp).await?;
                    tracing::info!(event = "token_revoked", kind = "access_token", client_id = %client.client_id, "access token revoked");
                }
            }
            Err(AccessTokenError::Invalid(_)) => {}
            Err(AccessTokenError::Store(e)) => return Err(e.into()),
        }
    }
    Ok(())
}
