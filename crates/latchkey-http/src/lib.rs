//! axum glue shared by every Latchkey endpoint: errors rendered in OAuth's
//! shape with `Cache-Control: no-store`, bearer-token extraction, security
//! headers, and the JSON fallback for unknown routes.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::{ErrorCode, OAuthError};
use latchkey_store::StoreError;

pub mod cookies;
pub mod form;

pub use form::{Form, FormError, FormRejection, Params};
use set_headers::SetHeaders;

mod set_headers {
    //! A tiny middleware that adds fixed headers to every response, without
    //! pulling tower-http into every endpoint crate.
    use axum::extract::Request;
    use axum::http::{HeaderName, HeaderValue};
    use axum::middleware::Next;
    use axum::response::Response;

    #[derive(Clone)]
    pub struct SetHeaders(pub &'static [(HeaderName, HeaderValue)]);

    pub async fn apply(headers: SetHeaders, req: Request, next: Next) -> Response {
        let mut res = next.run(req).await;
        let h = res.headers_mut();
        for (name, value) in headers.0 {
            if !h.contains_key(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        res
    }
}

/// Headers for responses that must never be cached (RFC 6749 §5.1).
pub fn no_store_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON response with `Cache-Control: no-store`.
pub fn json_no_store(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    no_store_headers(res.headers_mut());
    res
}

/// Renders an OAuth error as JSON with the code's HTTP status and `no-store`.
/// `invalid_client` and `invalid_token` carry the `WWW-Authenticate` header
/// their RFCs require.
pub fn oauth_error_response(error: &OAuthError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = json_no_store(status, error);
    if error.code == ErrorCode::InvalidToken {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    }
    res
}

/// Same as [`oauth_error_response`] with an explicit status (e.g. 413, 404).
pub fn oauth_error_with_status(status: StatusCode, error: &OAuthError) -> Response {
    let mut res = oauth_error_response(error);
    *res.status_mut() = status;
    res
}

/// The bearer token of an `Authorization` header (scheme matched without
/// regard to case, RFC 7235 §2.1), if there is exactly one well-formed one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    scheme_token(headers, "bearer")
}

/// The access token of an `Authorization: DPoP` header (RFC 9449 §7.1), as [`bearer_token`].
pub fn dpop_token(headers: &HeaderMap) -> Option<&str> {
    scheme_token(headers, "dpop")
}

fn scheme_token<'a>(headers: &'a HeaderMap, wanted: &str) -> Option<&'a str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case(wanted) {
        return None;
    }
    let token = token.trim_start_matches(' ');
    // b64token syntax (RFC 6750 §2.1).
    let valid = !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    valid.then_some(token)
}

static SECURITY_HEADERS: std::sync::LazyLock<Vec<(HeaderName, HeaderValue)>> = std::sync::LazyLock::new(|| {
    vec![
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
});

/// Adds headers every response should carry, whatever the endpoint.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let headers = SetHeaders(SECURITY_HEADERS.as_slice());
    router.layer(axum::middleware::from_fn(move |req, next| set_headers::apply(headers.clone(), req, next)))
}

/// The answer to a storage failure: 503 `temporarily_unavailable` when the
/// backend is unreachable, else 500 `server_error`; details go to the log only.
pub fn store_error_response(error: &StoreError) -> Response {
    match error {
        StoreError::Unavailable(_) => {
            tracing::warn!(%error, "storage unavailable");
            oauth_error_response(&OAuthError::unavailable())
        }
        _ => {
            tracing::error!(%error, "storage failure");
            oauth_error_response(&OAuthError::server_error())
        }
    }
}

/// Fallback for unknown paths: a JSON 404 rather than an empty body.
pub async fn not_found() -> Response {
    oauth_error_with_status(StatusCode::NOT_FOUND, &OAuthError::invalid_request("no such endpoint"))
}

/// Answer for a request body over the endpoint's limit.
pub fn payload_too_large() -> Response {
    oauth_error_with_status(StatusCode::PAYLOAD_TOO_LARGE, &OAuthError::invalid_request("request body too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token(&headers(&["Bearer abc.DEF-_~+/="])), Some("abc.DEF-_~+/="));
        assert_eq!(bearer_token(&headers(&["bearer abc"])), Some("abc"));
        assert_eq!(bearer_token(&headers(&["BEARER abc"])), Some("abc"));
        assert_eq!(bearer_token(&headers(&["Basic abc"])), None);
        assert_eq!(bearer_token(&headers(&["Bearer"])), None);
        assert_eq!(bearer_token(&headers(&["Bearer a b"])), None);
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer b"])), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn errors_are_not_cacheable_and_carry_challenges() {
        let res = oauth_error_response(&OAuthError::bare(ErrorCode::InvalidToken));
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::PRAGMA], "no-cache");
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
    }
}

pub use latchkey_core::ip::IpRange;

/// The address a request came from: the peer's, or, when the peer is in one
/// of the `trusted` proxy ranges, the nearest `X-Forwarded-For` entry that is not a
/// trusted proxy (entries are appended left to right, so the right end is the
/// part our own proxies wrote; anything left of the first stranger may be
/// forged).
pub fn client_address(peer: std::net::IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<std::net::IpAddr>() else { break };
        nearest = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    nearest
}

#[cfg(test)]
mod client_address_tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let lb: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let edge: std::net::IpAddr = "10.0.0.3".parse().unwrap();
        let private = [IpRange::parse("10.0.0.0/8").unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.3".parse().unwrap());
        assert_eq!(client_address(lb, &h, &private), "203.0.113.7".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(client_address(lb, &h, &[]), lb, "an untrusted peer's header is ignored");
        assert_eq!(client_address(lb, &HeaderMap::new(), &private), lb, "no header: the proxy itself");
        h.insert("x-forwarded-for", "junk, 10.0.0.3".parse().unwrap());
        assert_eq!(client_address(lb, &h, &private), edge, "stops at what cannot be parsed");
    }

    #[test]
    fn ranges_match_by_prefix() {
        let r = IpRange::parse("172.16.0.0/12").unwrap();
        assert!(r.contains("172.31.255.1".parse().unwrap()));
        assert!(!r.contains("172.32.0.1".parse().unwrap()));
        assert!(!r.contains("::1".parse().unwrap()));
        assert!(IpRange::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(IpRange::parse(bad).is_none(), "{bad}");
        }
    }
}

/// Records an audit event (see [`latchkey_store::record_audit`]).
pub use latchkey_store::record_audit as audit;
