//! Validation of authorization requests, in two phases (RFC 6749 §4.1.2.1):
//! until the client and its redirect URI are proven, errors are shown to the
//! person; after that they go back to the client.

use latchkey_core::pkce::is_valid_s256_challenge;
use latchkey_core::{Client, ErrorCode, GrantType, OAuthError, Scope};
use latchkey_http::Params;
use serde::{Deserialize, Serialize};

/// How the response reaches the client (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A request whose client and redirect URI are proven: errors from here on
/// are sent to `redirect_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

/// A fully validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub target: Target,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hint_sub: Option<String>,
}

/// Phase-1 failures: shown as a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("The request does not name an application (client_id is missing).")]
    MissingClientId,
    #[error("The request names the application more than once.")]
    RepeatedClientId,
    #[error("The application is not registered here.")]
    UnknownClient,
    #[error("The request names more than one redirect URI.")]
    RepeatedRedirectUri,
    #[error("The request does not say where to return (redirect_uri is required for this application).")]
    MissingRedirectUri,
    #[error("The return address (redirect_uri) is not registered for this application.")]
    UnregisteredRedirectUri,
}

/// Most values we accept in any one parameter.
const MAX_PARAM: usize = 4096;

/// Phase 1: the client and where errors may be sent.
pub fn target(params: &Params, repeated: &[String], client: Option<&Client>) -> Result<Target, PageError> {
    if repeated.iter().any(|r| r == "client_id") {
        return Err(PageError::RepeatedClientId);
    }
    if repeated.iter().any(|r| r == "redirect_uri") {
        return Err(PageError::RepeatedRedirectUri);
    }
    params.get("client_id").ok_or(PageError::MissingClientId)?;
    let client = client.ok_or(PageError::UnknownClient)?;
    let (redirect_uri, sent) = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uri_matches(uri) => (uri.to_string(), true),
        Some(_) => return Err(PageError::UnregisteredRedirectUri),
        None => match client.settings.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => return Err(PageError::MissingRedirectUri),
        },
    };
    let response_mode = match params.get("response_mode") {
        Some("form_post") => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let state = if repeated.iter().any(|r| r == "state") { None } else { params.get("state").map(str::to_string) };
    Ok(Target { client_id: client.client_id.clone(), redirect_uri, redirect_uri_sent: sent, response_mode, state })
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_request(msg)
}

/// Phase 2: everything else; errors go back to the client.
pub fn validate(
    params: &Params,
    repeated: &[String],
    client: &Client,
    target: Target,
    require_pkce: bool,
) -> Result<AuthorizationRequest, OAuthError> {
    if let Some(name) = repeated.first() {
        return Err(invalid(format!("parameter {name} is repeated")));
    }
    if params.contains("request") {
        return Err(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.contains("request_uri") {
        return Err(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    for name in
        ["state", "nonce", "login_hint", "code_challenge", "scope", "acr_values", "ui_locales", "claims_locales"]
    {
        if params.get(name).is_some_and(|v| v.len() > MAX_PARAM) {
            return Err(invalid(format!("{name} is too long")));
        }
    }
    match params.get("response_type") {
        None => return Err(invalid("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) || !client.settings.response_types.iter().any(|r| r == "code")
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        ));
    }
    match params.get("response_mode") {
        None | Some("query") | Some("form_post") => {}
        Some(_) => return Err(invalid("response_mode must be query or form_post")),
    }

    let scope = match params.get("scope") {
        None => return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is required")),
        Some(s) => Scope::parse(s).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?,
    };
    if scope.is_empty() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is required"));
    }
    if let Some(extra) = scope.iter().find(|s| !client.settings.scope.contains(s)) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, format!("the client may not request scope {extra}")));
    }

    let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        (Some(_), None) => return Err(invalid("code_challenge_method must be S256 (plain is not allowed)")),
        (Some(_), Some(m)) if m != "S256" => {
            return Err(invalid("code_challenge_method must be S256 (plain is not allowed)"));
        }
        (Some(c), Some(_)) if !is_valid_s256_challenge(c) => {
            return Err(invalid("code_challenge must be 43 base64url characters (S256)"));
        }
        (Some(c), Some(_)) => Some(c.to_string()),
        (None, None) if client.is_public() || require_pkce => {
            return Err(invalid("PKCE is required: send code_challenge and code_challenge_method=S256"));
        }
        (None, None) => None,
    };

    let mut prompt = Prompt::default();
    if let Some(p) = params.get("prompt") {
        for value in p.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                other => return Err(invalid(format!("unknown prompt value {other}"))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(invalid("prompt=none cannot be combined with other values"));
        }
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(invalid("max_age must be a non-negative integer")),
        },
    };
    match params.get("display") {
        None | Some("page" | "popup" | "touch" | "wap") => {}
        Some(_) => return Err(invalid("display must be page, popup, touch or wap")),
    }
    Ok(AuthorizationRequest {
        target,
        scope,
        nonce: params.get("nonce").map(str::to_string),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_string),
        hint_sub: None,
    })
}
