//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0),
//! `/.well-known/oauth-authorization-server` (RFC 8414) and the JWKS.
//!
//! The metadata documents are serialized once, when the server assembles its
//! router (they depend only on configuration); the JWKS bytes come from the
//! [`KeyRing`], rebuilt only when keys change. Requests only copy bytes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_keys::KeyRing;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Provider metadata. Only what the server implements is set; empty lists
/// and `None` are left out of the document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// RFC 8628 §4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// RFC 9126 §5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: every client must push its authorization requests
    /// (stated either way).
    pub require_pushed_authorization_requests: bool,
    pub jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Required by both specifications; empty until an authorization
    /// endpoint exists, which is the truth.
    pub response_types_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_modes_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Signed UserInfo answers (a client's `userinfo_signed_response_alg`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub userinfo_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9449 §5.1: the algorithms DPoP proofs may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acr_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub display_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ui_locales_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompt_values_supported: Vec<String>,
    /// RFC 9207: `iss` in every authorization response.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// Stated explicitly: OIDC Discovery's default for `request_uri_parameter_supported` is true.
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    /// RFC 9101: the algorithms of signed request objects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_object_signing_alg_values_supported: Vec<String>,
    /// JARM: the algorithms of signed authorization responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_signing_alg_values_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_supported: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_session_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
}

/// A pre-serialized JSON document with its validator.
#[derive(Debug, Clone)]
pub struct Document {
    body: Arc<[u8]>,
    etag: HeaderValue,
}

impl Document {
    pub fn new(value: &impl Serialize) -> Self {
        let body: Arc<[u8]> = serde_json::to_vec(value).expect("metadata serializes").into();
        Self::from_bytes(body)
    }

    fn from_bytes(body: Arc<[u8]>) -> Self {
        let etag = format!("\"{}\"", &URL_SAFE_NO_PAD.encode(Sha256::digest(&body))[..27]);
        Self { body, etag: HeaderValue::from_str(&etag).expect("etag is ASCII") }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// What the discovery routes need, built once at start-up.
#[derive(Clone)]
pub struct DiscoveryState {
    pub metadata: Document,
    pub keys: Arc<KeyRing>,
    /// `Cache-Control` of the metadata documents.
    pub metadata_cache_control: HeaderValue,
    /// `Cache-Control` of the JWKS.
    pub jwks_cache_control: HeaderValue,
}

impl DiscoveryState {
    pub fn new(metadata: &ProviderMetadata, keys: Arc<KeyRing>, metadata_max_age: u64, jwks_max_age: u64) -> Self {
        let cc = |s: u64| HeaderValue::from_str(&format!("public, max-age={s}")).expect("ASCII");
        Self {
            metadata: Document::new(metadata),
            keys,
            metadata_cache_control: cc(metadata_max_age),
            jwks_cache_control: cc(jwks_max_age),
        }
    }
}

/// Routes, relative to the issuer's path. `jwks_path` is where `jwks_uri` points.
pub fn router<S>(jwks_path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DiscoveryState: FromRef<S>,
{
    Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(jwks_path, get(jwks))
}

/// RFC 8414 §3: for an issuer with a path, metadata lives at
/// `/.well-known/oauth-authorization-server{path}` on the host's root.
pub fn root_router<S>(issuer_path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DiscoveryState: FromRef<S>,
{
    Router::new().route(&format!("/.well-known/oauth-authorization-server{issuer_path}"), get(metadata))
}

fn if_none_match(headers: &HeaderMap, etag: &[u8]) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.as_bytes().split(|b| *b == b',').any(|candidate| {
            let c = candidate.trim_ascii();
            let c = c.strip_prefix(b"W/").unwrap_or(c);
            c == b"*" || c == etag
        })
    })
}

fn cached_json(headers: &HeaderMap, body: Arc<[u8]>, etag: HeaderValue, cache_control: HeaderValue) -> Response {
    let not_modified = if_none_match(headers, etag.as_bytes());
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = axum::body::Body::from(bytes::Bytes::from_owner(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, cache_control);
    // Browser apps read these documents cross-origin.
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

async fn metadata(State(state): State<DiscoveryState>, headers: HeaderMap) -> Response {
    let doc = state.metadata;
    cached_json(&headers, doc.body, doc.etag, state.metadata_cache_control)
}

async fn jwks(State(state): State<DiscoveryState>, headers: HeaderMap) -> Response {
    let set = state.keys.current();
    let etag = HeaderValue::from_str(set.etag()).expect("etag is ASCII");
    cached_json(&headers, set.jwks().clone(), etag, state.jwks_cache_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_leaves_out_what_is_not_implemented() {
        let m = ProviderMetadata {
            issuer: "https://id.example".into(),
            jwks_uri: "https://id.example/jwks".into(),
            subject_types_supported: vec!["public".into()],
            id_token_signing_alg_values_supported: vec!["RS256".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        assert!(v.get("token_endpoint").is_none());
        assert!(v.get("grant_types_supported").is_none());
        assert_eq!(v["response_types_supported"], serde_json::json!([]));
    }

    #[test]
    fn etag_matching() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b\""));
        assert!(if_none_match(&h, b"\"b\""));
        assert!(if_none_match(&h, b"\"a\""));
        assert!(!if_none_match(&h, b"\"c\""));
        assert!(!if_none_match(&HeaderMap::new(), b"\"a\""));
    }
}
