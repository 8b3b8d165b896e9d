//! Validation of our own access tokens, shared by UserInfo and introspection.

use latchkey_store::StoreError;
use serde_json::{Map, Value};

use crate::TokenState;

/// Why an access token is not valid here.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("invalid: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks signature (a published key), `typ`, issuer, expiry, the denylist
/// and that the client still exists; returns the claims.
pub async fn validate(state: &TokenState, token: &str) -> Result<Map<String, Value>, AccessTokenError> {
    let jwt = state.keys.current().verify_jwt(token).map_err(|_| AccessTokenError::Invalid("signature"))?;
    if jwt.header.get("typ").and_then(|v| v.as_str()) != Some("at+jwt") {
        return Err(AccessTokenError::Invalid("not an access token"));
    }
    let claims = jwt.claims;
    if claims.get("iss").and_then(|v| v.as_str()) != Some(state.settings.issuer.as_str()) {
        return Err(AccessTokenError::Invalid("issuer"));
    }
    let exp = claims.get("exp").and_then(|v| v.as_i64()).ok_or(AccessTokenError::Invalid("no exp"))?;
    if exp <= state.clock.now() {
        return Err(AccessTokenError::Invalid("expired"));
    }
    let jti = claims.get("jti").and_then(|v| v.as_str()).ok_or(AccessTokenError::Invalid("no jti"))?;
    if state.denylist.is_access_token_denied(jti).await? {
        return Err(AccessTokenError::Invalid("revoked"));
    }
    // A deleted client's tokens die with it (RFC 7592 DELETE, `client delete`).
    let client_id =
        claims.get("client_id").and_then(|v| v.as_str()).ok_or(AccessTokenError::Invalid("no client_id"))?;
    if state.clients.get_client(client_id).await?.is_none() {
        return Err(AccessTokenError::Invalid("client deleted"));
    }
    Ok(claims)
}
