//! The pushed authorization request endpoint (RFC 9126): a client posts the
//! parameters of an authorization request, authenticated as at the token
//! endpoint; they are validated exactly as `/authorize` validates them
//! (errors answered here, in JSON, never by a redirect), stored for a short
//! while, and stand in for the request when the browser brings the returned
//! `request_uri` to `/authorize`, once. A signed request object (RFC 9101)
//! may carry the parameters; then only its parameters are used.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use latchkey_client_auth::{ClientCredentials, DpopError, Endpoint};
use latchkey_core::ErrorCode;
use latchkey_core::grant::PushedRequest;
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, OAuthError, random};
use latchkey_http::{Params, form::is_form, json_no_store, oauth_error_response, payload_too_large};
use latchkey_store::StoreError;
use serde::Serialize;

use crate::AuthorizeState;
use crate::request::{self, PageError};

/// The endpoint's path, relative to the issuer.
pub const PATH: &str = "/par";

/// RFC 9126 §2.2: what every `request_uri` we issue starts with.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Length of the random part of a `request_uri` (32 bytes, base64url).
const REFERENCE_LEN: usize = 43;

/// Client credentials: read for authentication, never stored with the request.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// The answer (RFC 9126 §2.2).
#[derive(Debug, Serialize)]
struct Pushed {
    request_uri: String,
    expires_in: i64,
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> Response {
    oauth_error_response(&OAuthError::invalid_request(message))
}

/// `POST /par`.
pub async fn push(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return payload_too_large();
    };
    if !is_form(&headers) {
        return invalid("the body must be application/x-www-form-urlencoded");
    }
    let mut params = match Params::parse(&body) {
        Ok(params) => params,
        Err(e) => return invalid(e.to_string()),
    };
    let credentials: ClientCredentials = match params.deserialize() {
        Ok(c) => c,
        Err(e) => return invalid(e.to_string()),
    };
    let client = match state.client_auth.authenticate(&headers, &credentials, Endpoint::PushedAuthorization).await {
        Ok(client) => client,
        Err(e) => return e.response(),
    };
    for name in CREDENTIALS {
        params.remove(name);
    }
    // RFC 9126 §2.1: the one parameter that must not be pushed.
    if params.contains("request_uri") {
        return invalid("request_uri must not be sent to the pushed authorization request endpoint");
    }
    // RFC 9126 §3: a signed request object's parameters are the only ones used.
    if let Some(jwt) = params.get("request") {
        params = match crate::request_object::expand(&state, &client, jwt).await {
            Ok(expanded) => expanded,
            Err(e) => match crate::request_object::refusal(e) {
                Ok(error) => return oauth_error_response(&error),
                Err(e) => return latchkey_http::store_error_response(&e),
            },
        };
    } else if client.settings.require_signed_request_object {
        return oauth_error_response(&crate::request_object::required());
    }
    // RFC 9449 §10.1: a DPoP proof sent here binds the code as dpop_jkt does.
    let with_nonce = |mut res: Response| {
        if let Some(nonce) = state.dpop.nonce_header() {
            res.headers_mut().insert("dpop-nonce", nonce);
        }
        res
    };
    match state.dpop.from_headers(&headers, "POST", PATH, None).await {
        Ok(None) => {}
        Ok(Some(proof)) => match params.get("dpop_jkt") {
            Some(jkt) if jkt != proof.jkt => {
                return invalid("dpop_jkt is not the thumbprint of the DPoP proof's key");
            }
            Some(_) => {}
            None => params.insert("dpop_jkt", &proof.jkt),
        },
        Err(DpopError::Invalid(why)) => {
            return with_nonce(oauth_error_response(&OAuthError::new(ErrorCode::InvalidDpopProof, why)));
        }
        Err(DpopError::UseNonce) => {
            let error = OAuthError::new(ErrorCode::UseDpopNonce, "the DPoP proof must carry the nonce in DPoP-Nonce");
            return with_nonce(oauth_error_response(&error));
        }
        Err(DpopError::Store(e)) => return latchkey_http::store_error_response(&e),
    }
    // With Basic or an assertion, client_id in the body is optional (and,
    // if present, was checked to name the same client).
    params.insert("client_id", &client.client_id);
    match accept(&state, &client, &params).await {
        Ok(pushed) => json_no_store(StatusCode::CREATED, &pushed),
        Err(Refusal::Invalid(error)) => oauth_error_response(&error),
        Err(Refusal::Store(e)) => latchkey_http::store_error_response(&e),
    }
}

/// Why a pushed request is refused, after the client is authenticated.
enum Refusal {
    Invalid(OAuthError),
    Store(StoreError),
}

impl From<OAuthError> for Refusal {
    fn from(e: OAuthError) -> Self {
        Self::Invalid(e)
    }
}

/// The authorization endpoint's own validation, then the request stored.
async fn accept(state: &AuthorizeState, client: &Client, params: &Params) -> Result<Pushed, Refusal> {
    let target = request::target(params, &[], Some(client)).map_err(|e| {
        OAuthError::invalid_request(match e {
            PageError::UnregisteredRedirectUri => "redirect_uri is not registered for this client",
            PageError::MissingRedirectUri => "redirect_uri is required: the client registered more than one",
            _ => "the request does not name this client",
        })
    })?;
    let fapi2 = client.settings.fapi2_security_profile;
    // FAPI 2.0 Security Profile §5.3.2.2: the redirect URI is always pushed.
    if fapi2 && !params.contains("redirect_uri") {
        return Err(OAuthError::invalid_request("redirect_uri is required in pushed requests (FAPI 2.0)").into());
    }
    let require_pkce = state.settings.pkce.require_for_confidential || fapi2;
    request::validate(params, &[], client, target, require_pkce)?;
    if let Some(hint) = params.get("id_token_hint") {
        crate::id_token_hint_subject(state, hint)?;
    }
    let now = state.clock.now();
    let ttl = state.settings.par.request_uri_ttl_seconds.secs();
    let reference = random::token(32);
    let record = PushedRequest {
        uri_hash: hash_token(&reference),
        client_id: client.client_id.clone(),
        params: params.encode(),
        created_at: now,
        expires_at: now + ttl,
    };
    state.pushed.insert_pushed_request(&record).await.map_err(Refusal::Store)?;
    tracing::info!(event = "pushed_authorization_request", client_id = %client.client_id, "request pushed");
    Ok(Pushed { request_uri: format!("{REQUEST_URI_PREFIX}{reference}"), expires_in: ttl })
}

/// Takes the request `client` pushed as `request_uri`: `None` if it is not
/// one of ours, not this client's, expired, or used before.
pub(crate) async fn take(
    state: &AuthorizeState,
    client: &Client,
    request_uri: &str,
) -> Result<Option<PushedRequest>, StoreError> {
    let Some(reference) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Ok(None);
    };
    if reference.len() != REFERENCE_LEN {
        return Ok(None);
    }
    let taken = state.pushed.take_pushed_request(&hash_token(reference), &client.client_id, state.clock.now()).await?;
    if taken.is_none() {
        tracing::info!(client_id = %client.client_id, "request_uri refused: unknown, expired, used or another client's");
    }
    Ok(taken)
}
