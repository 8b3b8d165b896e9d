//! Signed request objects (RFC 9101): a JWT the client signs with one of its
//! registered keys (`jwks` or `jwks_uri`, as for `private_key_jwt`) that
//! carries the authorization request's parameters. Checked here: the
//! algorithm (RS256, PS256, ES256 or EdDSA; never `none`, never HMAC), the
//! signature, `iss` = the client, `aud` naming the issuer, `exp` (required,
//! at most an hour ahead), `nbf` and `iat` with a minute of clock skew,
//! `client_id` (if present) = the client, and a `jti` used only once.

use latchkey_core::Client;
use latchkey_core::client_keys::{ASSERTION_ALGORITHMS, candidate_keys, verify_jws};
use latchkey_core::jws::decode_unverified;
use serde_json::{Map, Value};

use crate::ClientAuthenticator;

/// The algorithms request objects may be signed with.
pub const REQUEST_OBJECT_ALGORITHMS: [&str; 4] = ASSERTION_ALGORITHMS;

/// Larger request objects are refused before any parsing.
const MAX_REQUEST_OBJECT_BYTES: usize = 16 * 1024;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY: i64 = 60;

/// How far ahead `exp` may lie (the replay record is kept until then).
const MAX_LIFETIME: i64 = 3_600;

const MAX_JTI: usize = 256;

/// Why a request object was refused (`invalid_request_object`, RFC 9101 §6.3).
#[derive(Debug, thiserror::Error)]
pub enum RequestObjectError {
    #[error("the request object is refused: {0}")]
    Invalid(&'static str),
    #[error("the request object was used before")]
    Replayed,
    #[error("the client's keys could not be fetched: {0}")]
    KeysUnavailable(String),
    #[error(transparent)]
    Store(#[from] latchkey_store::StoreError),
}

fn refused(why: &'static str) -> RequestObjectError {
    RequestObjectError::Invalid(why)
}

fn int_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, RequestObjectError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(refused("a time claim is not an integer")),
    }
}

impl ClientAuthenticator {
    /// The verified claims of `client`'s request object `jwt`.
    pub async fn request_object_claims(
        &self,
        client: &Client,
        jwt: &str,
    ) -> Result<Map<String, Value>, RequestObjectError> {
        if jwt.len() > MAX_REQUEST_OBJECT_BYTES {
            return Err(refused("too large"));
        }
        let jws = decode_unverified(jwt).map_err(|_| refused("not a compact JWS"))?;
        let alg = jws.header.get("alg").and_then(Value::as_str).unwrap_or_default();
        if !REQUEST_OBJECT_ALGORITHMS.contains(&alg) {
            return Err(refused("the algorithm must be RS256, PS256, ES256 or EdDSA (unsigned objects are refused)"));
        }
        if client.settings.fapi2_security_profile && !latchkey_core::fapi2::allows(alg) {
            return Err(refused("the algorithm must be PS256, ES256 or EdDSA for this client (FAPI 2.0)"));
        }
        let kid = jws.header.get("kid").and_then(Value::as_str);
        let claims = match (&client.settings.jwks, &client.settings.jwks_uri) {
            (Some(jwks), _) => verify_jws(jwks, alg, kid, jwt),
            (None, Some(uri)) => {
                let unavailable = |e: crate::keys::KeyFetchError| RequestObjectError::KeysUnavailable(e.to_string());
                let jwks = self.keys.get(uri, false).await.map_err(unavailable)?;
                match verify_jws(&jwks, alg, kid, jwt) {
                    Some(claims) => Some(claims),
                    // A key we have not seen: the client may have rotated.
                    None if kid.is_some_and(|k| candidate_keys(&jwks, alg, Some(k)).is_empty()) => {
                        verify_jws(&*self.keys.get(uri, true).await.map_err(unavailable)?, alg, kid, jwt)
                    }
                    None => None,
                }
            }
            (None, None) => return Err(refused("the client has registered no keys (jwks or jwks_uri)")),
        }
        .ok_or(refused("signature"))?;

        let id = client.client_id.as_str();
        if claims.get("iss").and_then(Value::as_str) != Some(id) {
            return Err(refused("iss must be the client_id"));
        }
        if claims.get("client_id").is_some_and(|c| c.as_str() != Some(id)) {
            return Err(refused("client_id differs from the client's"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == *self.issuer,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&*self.issuer)),
            _ => false,
        };
        if !aud_ok {
            return Err(refused("aud must be the issuer"));
        }
        let now = self.clock.now();
        let exp = int_claim(&claims, "exp")?.ok_or(refused("exp is required"))?;
        if exp + LEEWAY <= now {
            return Err(refused("expired"));
        }
        if exp > now + MAX_LIFETIME + LEEWAY {
            return Err(refused("exp more than an hour ahead"));
        }
        if int_claim(&claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
            return Err(refused("not yet valid"));
        }
        if int_claim(&claims, "iat")?.is_some_and(|iat| iat > now + LEEWAY) {
            return Err(refused("issued in the future"));
        }
        if claims.contains_key("request") || claims.contains_key("request_uri") {
            return Err(refused("request and request_uri cannot be nested"));
        }
        let jti = match claims.get("jti").and_then(Value::as_str) {
            Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j,
            _ => return Err(refused("jti is required (at most 256 characters)")),
        };
        if !self.replay.first_use(&format!("request-object:{id}:{jti}"), exp + LEEWAY, now).await? {
            return Err(RequestObjectError::Replayed);
        }
        Ok(claims)
    }
}
