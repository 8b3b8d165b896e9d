//! UserInfo (OIDC Core §5.3): GET and POST, bearer token in the header or
//! (POST) the form body, CORS open for browser apps. A DPoP-bound token
//! (RFC 9449 §7) comes only as `Authorization: DPoP` with a proof by its key.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_client_auth::DpopError;
use latchkey_client_auth::dpop::algs_parameter;
use latchkey_core::claims::{StandardClaims, UserInfoClaims};
use latchkey_core::{ErrorCode, OAuthError};
use latchkey_http::{Form, FormRejection, bearer_token, dpop_token, oauth_error_response, store_error_response};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::TokenState;

/// Why a UserInfo request failed.
#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    #[error("no access token")]
    NoToken,
    #[error("token in both the header and the body")]
    TwoTokens,
    #[error("malformed request")]
    Malformed,
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("the token lacks the openid scope")]
    InsufficientScope,
    /// The client asked for signed answers with an algorithm we keep no
    /// key for (removed from `keys.algorithms` after it registered).
    #[error("cannot sign with {0}")]
    Signing(String),
    /// Sent with the DPoP scheme but invalid, or not DPoP-bound.
    #[error("invalid DPoP token: {0}")]
    InvalidDpopToken(&'static str),
    #[error("a DPoP-bound token was sent as a bearer token")]
    BoundAsBearer,
    #[error("the DPoP proof: {0}")]
    Proof(&'static str),
    #[error("the DPoP proof must carry the server's nonce")]
    UseNonce,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for UserInfoError {
    fn into_response(self) -> Response {
        let mut res = match &self {
            Self::NoToken => {
                let mut res = StatusCode::UNAUTHORIZED.into_response();
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                if let Ok(dpop) = HeaderValue::from_str(&format!("DPoP {}", algs_parameter())) {
                    res.headers_mut().append(header::WWW_AUTHENTICATE, dpop);
                }
                res
            }
            Self::InvalidDpopToken(why) => {
                tracing::debug!(reason = why, "userinfo: invalid DPoP token");
                dpop_challenge(ErrorCode::InvalidToken, "the access token is invalid")
            }
            Self::BoundAsBearer => dpop_challenge(
                ErrorCode::InvalidToken,
                "the access token is DPoP-bound: send it as Authorization: DPoP with a proof",
            ),
            Self::Proof(why) => dpop_challenge(ErrorCode::InvalidDpopProof, why),
            Self::UseNonce => {
                dpop_challenge(ErrorCode::UseDpopNonce, "the DPoP proof must carry the nonce in DPoP-Nonce")
            }
            Self::TwoTokens | Self::Malformed => {
                oauth_error_response(&OAuthError::invalid_request("send the access token in exactly one place"))
            }
            Self::InvalidToken(why) => {
                tracing::debug!(reason = why, "userinfo: invalid token");
                oauth_error_response(&OAuthError::new(ErrorCode::InvalidToken, "the access token is invalid"))
            }
            Self::InsufficientScope => {
                let mut res = oauth_error_response(&OAuthError::new(
                    ErrorCode::InsufficientScope,
                    "the access token was not issued for the openid scope",
                ));
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
                );
                res
            }
            Self::Signing(alg) => {
                tracing::error!(alg = %alg, "userinfo: no signing key for the client's userinfo_signed_response_alg");
                let mut res = oauth_error_response(&OAuthError::new(
                    ErrorCode::ServerError,
                    "the answer cannot be signed as the client registered",
                ));
                *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                res
            }
            Self::Store(e) => store_error_response(e),
        };
        cors(res.headers_mut());
        res
    }
}

/// A 401 with a `DPoP` challenge (RFC 9449 §7.1) and the same error as JSON.
fn dpop_challenge(code: ErrorCode, description: &'static str) -> Response {
    let error = OAuthError::new(code, description);
    let mut res = latchkey_http::oauth_error_with_status(StatusCode::UNAUTHORIZED, &error);
    let challenge = format!(
        "DPoP error=\"{code}\", error_description=\"{}\", {}",
        error.description.as_deref().unwrap_or_default(),
        algs_parameter()
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    res
}

fn cors(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"));
}

pub async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    cors(h);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type, DPoP"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    res
}

/// How the access token came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
    /// RFC 6750 §2.2: in a POST body (bearer only).
    Body,
}

fn header_token(headers: &HeaderMap) -> Result<Option<(Scheme, &str)>, UserInfoError> {
    if headers.get(header::AUTHORIZATION).is_none() {
        return Ok(None);
    }
    if let Some(token) = dpop_token(headers) {
        return Ok(Some((Scheme::Dpop, token)));
    }
    bearer_token(headers)
        .map(|t| Some((Scheme::Bearer, t)))
        .ok_or(UserInfoError::InvalidToken("malformed Authorization header"))
}

pub async fn get(State(state): State<TokenState>, headers: HeaderMap) -> Response {
    let result = match header_token(&headers) {
        Ok(Some((scheme, token))) => respond(&state, &headers, "GET", scheme, token).await,
        Ok(None) => Err(UserInfoError::NoToken),
        Err(e) => Err(e),
    };
    finish(&state, result.unwrap_or_else(IntoResponse::into_response))
}

/// Every answer carries the current DPoP nonce when nonces are required.
fn finish(state: &TokenState, mut res: Response) -> Response {
    if let Some(nonce) = state.dpop.nonce_header() {
        res.headers_mut().insert("dpop-nonce", nonce);
    }
    res
}

/// A signed UserInfo answer's claims.
#[derive(serde::Serialize)]
struct SignedUserInfo<'a> {
    iss: &'a str,
    aud: &'a str,
    #[serde(flatten)]
    claims: &'a UserInfoClaims,
}

/// A UserInfo POST body (RFC 6750 §2.2): the token, if not in the header.
#[derive(Debug, Default, Deserialize)]
pub struct UserInfoForm {
    access_token: Option<String>,
}

pub async fn post(
    State(state): State<TokenState>,
    headers: HeaderMap,
    form: Result<Form<UserInfoForm>, FormRejection>,
) -> Response {
    let result = async {
        let from_header = header_token(&headers)?;
        let form = match form {
            Ok(Form(form)) => form,
            // A body of another type carries no token.
            Err(FormRejection::NotForm { .. }) => UserInfoForm::default(),
            Err(_) => return Err(UserInfoError::Malformed),
        };
        let (scheme, token) = match (from_header, form.access_token) {
            (Some(_), Some(_)) => return Err(UserInfoError::TwoTokens),
            (Some((scheme, t)), None) => (scheme, t.to_string()),
            (None, Some(t)) => (Scheme::Body, t),
            (None, None) => return Err(UserInfoError::NoToken),
        };
        respond(&state, &headers, "POST", scheme, &token).await
    }
    .await;
    finish(&state, result.unwrap_or_else(IntoResponse::into_response))
}

async fn respond(
    state: &TokenState,
    headers: &HeaderMap,
    method: &str,
    scheme: Scheme,
    token: &str,
) -> Result<Response, UserInfoError> {
    let claims = match crate::access::validate(state, token).await {
        Ok(c) => c,
        Err(crate::access::AccessTokenError::Invalid(why)) if scheme == Scheme::Dpop => {
            return Err(UserInfoError::InvalidDpopToken(why));
        }
        Err(crate::access::AccessTokenError::Invalid(why)) => return Err(UserInfoError::InvalidToken(why)),
        Err(crate::access::AccessTokenError::Store(e)) => return Err(UserInfoError::Store(e)),
    };
    match (claims.jkt(), scheme) {
        (Some(_), Scheme::Bearer | Scheme::Body) => return Err(UserInfoError::BoundAsBearer),
        (None, Scheme::Dpop) => return Err(UserInfoError::InvalidDpopToken("not DPoP-bound")),
        (None, _) => {}
        (Some(jkt), Scheme::Dpop) => {
            let proof = match state.dpop.from_headers(headers, method, "/userinfo", Some(token)).await {
                Ok(Some(proof)) => proof,
                Ok(None) => return Err(UserInfoError::Proof("a DPoP proof is required with a DPoP-bound token")),
                Err(DpopError::Invalid(why)) => return Err(UserInfoError::Proof(why)),
                Err(DpopError::UseNonce) => return Err(UserInfoError::UseNonce),
                Err(DpopError::Store(e)) => return Err(UserInfoError::Store(e)),
            };
            if proof.jkt != jkt {
                return Err(UserInfoError::Proof("the proof's key is not the one the token is bound to"));
            }
        }
    }
    let scope = claims.scope.ok_or(UserInfoError::InvalidToken("scope"))?;
    if !scope.contains("openid") {
        return Err(UserInfoError::InsufficientScope);
    }
    let user = match state.users.get_user(&claims.sub).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(UserInfoError::InvalidToken("user gone")),
    };
    let profile = StandardClaims::released_with(&user, &scope, &claims.userinfo_claims);
    let body = UserInfoClaims { profile, sub: user.id };
    let signing_alg = match state.clients.get_client(&claims.client_id).await? {
        Some(client) => client.settings.userinfo_signed_response_alg,
        None => return Err(UserInfoError::InvalidToken("client gone")),
    };
    let mut res = match signing_alg {
        None => axum::Json(body).into_response(),
        // OIDC Core §5.3.2: a signed answer, with `iss` and `aud`.
        Some(alg) => {
            let keys = state.keys.current();
            let key = keys.signing_key_named(Some(&alg)).ok_or_else(|| UserInfoError::Signing(alg.clone()))?;
            let signed = SignedUserInfo { iss: &state.settings.issuer, aud: &claims.client_id, claims: &body };
            let jwt = key.sign_jwt("JWT", &signed).map_err(|_| UserInfoError::Signing(alg))?;
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))], jwt).into_response()
        }
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    cors(h);
    Ok(res)
}
