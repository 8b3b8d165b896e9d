//! Signed request objects (RFC 9101) at `/authorize` and `/par`: the
//! `request` parameter's verified claims replace the request's parameters
//! (only the object's are used, RFC 9101 §5), then the usual validation runs.

use latchkey_client_auth::RequestObjectError;
use latchkey_core::{Client, ErrorCode, OAuthError};
use latchkey_http::Params;
use latchkey_store::StoreError;
use serde_json::Value;

use crate::AuthorizeState;

/// Claims that describe the JWT itself, not the authorization request.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// The parameters of `client`'s request object `jwt`, with `client_id`.
pub(crate) async fn expand(state: &AuthorizeState, client: &Client, jwt: &str) -> Result<Params, RequestObjectError> {
    let claims = state.client_auth.request_object_claims(client, jwt).await?;
    let mut params = Params::default();
    for (name, value) in &claims {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        // Parameters are strings; a number (max_age) or an object (claims)
        // becomes the text a query string would carry.
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        if !text.is_empty() {
            params.insert(name, &text);
        }
    }
    params.insert("client_id", &client.client_id);
    Ok(params)
}

/// The error a refused request object is answered with
/// (`invalid_request_object`), or the store failure that kept it from being
/// checked.
pub(crate) fn refusal(e: RequestObjectError) -> Result<OAuthError, StoreError> {
    match e {
        RequestObjectError::Store(e) => Err(e),
        other => {
            tracing::info!(reason = %other, "request object refused");
            Ok(OAuthError::new(ErrorCode::InvalidRequestObject, other.to_string()))
        }
    }
}

/// The refusal for a client that must sign its requests but did not.
pub(crate) fn required() -> OAuthError {
    OAuthError::invalid_request("this client must send its authorization request as a signed request object")
}
