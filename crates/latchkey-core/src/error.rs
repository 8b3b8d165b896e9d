//! The one vocabulary of OAuth 2.0 / OpenID Connect error codes, with the HTTP
//! status each is answered with. Endpoint crates map their own error enums onto
//! these codes; nothing else reaches the wire.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// Error codes from RFC 6749, 6750, 7009, 7591, 8707 and OpenID Connect Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    UnsupportedTokenType,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    InvalidTarget,
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidSoftwareStatement,
    UnapprovedSoftwareStatement,
    InteractionRequired,
    LoginRequired,
    AccountSelectionRequired,
    ConsentRequired,
    InvalidRequestUri,
    InvalidRequestObject,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    /// RFC 8628 §3.5.
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    /// OpenID Connect Core §3.1.2.6: the authentication the client requires
    /// (by its registration) cannot be given.
    UnmetAuthenticationRequirements,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing, malformed or wrong.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the nonce the server gives.
    UseDpopNonce,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status of a direct (non-redirect) error response with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it goes on the wire: a code and an optional human-readable
/// description (RFC 6749 §5.2). Descriptions never carry internal detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    #[serde(rename = "error")]
    pub code: ErrorCode,
    #[serde(rename = "error_description", skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'static, str>>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: Some(sanitize(description.into())) }
    }

    pub fn bare(code: ErrorCode) -> Self {
        Self { code, description: None }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    pub fn unavailable() -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable; try again shortly")
    }
}

/// RFC 6749 §5.2: `error_description` may hold only %x20-21 / %x23-5B /
/// %x5D-7E. Anything else (quotes, backslashes, non-ASCII, controls) is
/// replaced, so descriptions that mention client input stay well-formed.
fn sanitize(d: Cow<'static, str>) -> Cow<'static, str> {
    let ok = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    if d.chars().all(ok) {
        return d;
    }
    Cow::Owned(
        d.chars()
            .map(|c| match c {
                '"' => '\'',
                '\\' => '/',
                c if ok(c) => c,
                _ => '?',
            })
            .collect(),
    )
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_rfc_shape() {
        let e = OAuthError::new(ErrorCode::InvalidClientMetadata, "bad");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"error": "invalid_client_metadata", "error_description": "bad"})
        );
        let quoted = OAuthError::new(ErrorCode::InvalidScope, "token \"a\\b\" é\n");
        assert_eq!(quoted.description.as_deref(), Some("token 'a/b' ??"));
        let bare = OAuthError::bare(ErrorCode::InvalidGrant);
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"error":"invalid_grant"}"#);
    }

    #[test]
    fn serde_name_matches_as_str() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidRedirectUri,
            ErrorCode::LoginRequired,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::UnsupportedTokenType,
            ErrorCode::InvalidSoftwareStatement,
            ErrorCode::UnapprovedSoftwareStatement,
            ErrorCode::UnmetAuthenticationRequirements,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
    }
}
