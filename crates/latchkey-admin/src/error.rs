//! The admin API's one error type and its JSON rendering:
//! `{"error": "...", "error_description": "..."}` with `Cache-Control: no-store`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_domain::clients::RotateSecretError;
use latchkey_domain::keys::KeyOpError;
use latchkey_store::StoreError;

/// Everything that can go wrong in an admin request.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No bearer token at all (RFC 6750 §3.1: the challenge has no error code).
    #[error("an admin API token is required")]
    NoToken,
    /// An unknown, revoked or expired token, or a malformed Authorization header.
    #[error("a valid admin API token is required")]
    Unauthorized,
    #[error("the token lacks the scope {0}")]
    InsufficientScope(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
}

impl From<KeyOpError> for AdminError {
    fn from(e: KeyOpError) -> Self {
        match e {
            KeyOpError::Store(e) => Self::Store(e),
            KeyOpError::Key(e) => Self::Internal(e.to_string()),
            KeyOpError::UnknownKey(kid) => Self::NotFound(format!("no key with kid {kid:?}")),
            KeyOpError::Refused(m) => Self::Conflict(m),
        }
    }
}

impl From<latchkey_domain::clients::DeleteClientError> for AdminError {
    fn from(e: latchkey_domain::clients::DeleteClientError) -> Self {
        match e {
            latchkey_domain::clients::DeleteClientError::Store(e) => Self::Store(e),
            protected => Self::Conflict(protected.to_string()),
        }
    }
}

impl From<RotateSecretError> for AdminError {
    fn from(e: RotateSecretError) -> Self {
        match e {
            RotateSecretError::Store(e) => Self::Store(e),
            RotateSecretError::NotFound(id) => Self::NotFound(format!("no client {id:?}")),
            refused => Self::Conflict(refused.to_string()),
        }
    }
}

fn body(status: StatusCode, error: &str, description: &str) -> Response {
    latchkey_http::json_no_store(status, &serde_json::json!({"error": error, "error_description": description}))
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let description = self.to_string();
        match self {
            Self::NoToken => {
                let mut res = body(StatusCode::UNAUTHORIZED, "invalid_token", &description);
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"latchkey-admin\""));
                res
            }
            Self::Unauthorized => {
                let mut res = body(StatusCode::UNAUTHORIZED, "invalid_token", &description);
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"latchkey-admin\", error=\"invalid_token\""),
                );
                res
            }
            Self::InsufficientScope(scope) => {
                let mut res = body(StatusCode::FORBIDDEN, "insufficient_scope", &description);
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"latchkey-admin\", error=\"insufficient_scope\", scope=\"{scope}\""
                )) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                res
            }
            Self::BadRequest(_) => body(StatusCode::BAD_REQUEST, "invalid_request", &description),
            Self::NotFound(_) => body(StatusCode::NOT_FOUND, "not_found", &description),
            Self::Conflict(_) => body(StatusCode::CONFLICT, "conflict", &description),
            Self::TooLarge => body(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", &description),
            Self::Store(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "admin API: storage unavailable");
                body(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "storage is unavailable; try again")
            }
            Self::Store(StoreError::Conflict(e)) => {
                tracing::info!(error = %e, "admin API: conflict");
                body(StatusCode::CONFLICT, "conflict", "the change conflicts with an existing record")
            }
            Self::Store(e) => {
                tracing::error!(error = %e, "admin API: storage failure");
                body(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "admin API: internal failure");
                body(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_have_their_status_code_challenge_and_no_store() {
        let cases = [
            (AdminError::NoToken, 401, "invalid_token", true),
            (AdminError::Unauthorized, 401, "invalid_token", true),
            (AdminError::InsufficientScope("users:read"), 403, "insufficient_scope", true),
            (AdminError::bad("x"), 400, "invalid_request", false),
            (AdminError::not_found("x"), 404, "not_found", false),
            (AdminError::Conflict("x".into()), 409, "conflict", false),
            (AdminError::TooLarge, 413, "invalid_request", false),
            (AdminError::Store(StoreError::Unavailable("down".into())), 503, "temporarily_unavailable", false),
            (AdminError::Store(StoreError::Conflict("dup".into())), 409, "conflict", false),
            (AdminError::Store(StoreError::Backend("boom".into())), 500, "server_error", false),
            (KeyOpError::UnknownKey("kid".into()).into(), 404, "not_found", false),
            (KeyOpError::Refused("wait".into()).into(), 409, "conflict", false),
        ];
        for (error, status, code, challenge) in cases {
            let what = format!("{error:?}");
            let res = error.into_response();
            assert_eq!(res.status().as_u16(), status, "{what}");
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{what}");
            let header = res.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_string());
            assert_eq!(header.is_some(), challenge, "{what}");
            if let Some(h) = header {
                assert!(h.starts_with("Bearer realm=\"latchkey-admin\""), "{h}");
            }
            let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"], code, "{what}");
            assert!(body["error_description"].is_string(), "{what}");
            assert!(!body.to_string().contains("boom"), "internal details stay in the log");
        }
    }
}
