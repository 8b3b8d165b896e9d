//! Validation of our own access tokens, shared by UserInfo, introspection
//! and revocation.

use latchkey_core::claims::AccessTokenClaims;
use latchkey_store::StoreError;

use crate::TokenState;

/// Why an access token is not valid here.
#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("invalid: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks signature (a published key), `typ`, the claims of an access
/// token, issuer, expiry, the denylist and that the client still exists;
/// returns the claims.
pub async fn validate(state: &TokenState, token: &str) -> Result<AccessTokenClaims, AccessTokenError> {
    let jwt = state.keys.current().verify_jwt::<AccessTokenClaims>(token).map_err(|e| match e {
        latchkey_keys::VerifyError::Claims(_) => AccessTokenError::Invalid("not an access token's claims"),
        _ => AccessTokenError::Invalid("signature"),
    })?;
    if jwt.header.typ.as_deref() != Some("at+jwt") {
        return Err(AccessTokenError::Invalid("not an access token"));
    }
    let claims = jwt.claims;
    if claims.iss != state.settings.issuer {
        return Err(AccessTokenError::Invalid("issuer"));
    }
    if claims.exp <= state.clock.now() {
        return Err(AccessTokenError::Invalid("expired"));
    }
    if state.denylist.is_access_token_denied(&claims.jti).await? {
        return Err(AccessTokenError::Invalid("revoked"));
    }
    // A deleted client's tokens die with it (RFC 7592 DELETE, `client delete`).
    if state.clients.get_client(&claims.client_id).await?.is_none() {
        return Err(AccessTokenError::Invalid("client deleted"));
    }
    Ok(claims)
}
