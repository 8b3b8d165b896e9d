//! `private_key_jwt` and `client_secret_jwt`: a JWT the client signs with its
//! own key or, with HMAC, with its secret (RFC 7523 §3, OIDC Core §9).
//! Checked here: the algorithm (RS256, PS256, ES256 or EdDSA for the first, HS256,
//! HS384 or HS512 for the second, and the one the client registered, if it
//! did), the signature, `iss` = `sub` = the client, `aud` naming us, `exp`
//! (and `nbf`, `iat`) with a minute of clock skew, and a `jti` used only once.

use latchkey_core::client_keys::{candidate_keys, verify_hmac_jws, verify_jws};
use latchkey_core::jws::{JwsShapeError, decode_unverified};
use latchkey_core::{AuthMethod, Client};
use serde_json::{Map, Value};

use crate::{ClientAuthError, ClientAuthenticator, Endpoint};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Larger assertions are refused before any parsing.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY: i64 = 60;

/// How far ahead `exp` may lie: an assertion is a one-time proof, and the
/// replay record must be kept until it expires.
const MAX_LIFETIME: i64 = 3_600;

/// Longest `jti` accepted.
const MAX_JTI: usize = 256;

fn refused(why: &'static str) -> ClientAuthError {
    ClientAuthError::BadAssertion(why)
}

pub(crate) type Object = Map<String, Value>;

/// Header and claims, not yet verified.
fn peek(jwt: &str) -> Result<(Object, Object), ClientAuthError> {
    if jwt.len() > MAX_ASSERTION_BYTES {
        return Err(refused("too large"));
    }
    let jws = decode_unverified(jwt).map_err(|e| match e {
        JwsShapeError::NotCompact => refused("not a compact JWS"),
        JwsShapeError::NotBase64url => refused("not base64url"),
        JwsShapeError::NotJsonObject => refused("not a JSON object"),
    })?;
    Ok((jws.header, jws.payload))
}

/// The client an assertion claims to come from (its `sub`), before any
/// verification: only to look the client up. Also returns the header, which
/// `check_assertion` needs next.
pub(crate) fn claimed_client(jwt: &str) -> Result<(String, Object), ClientAuthError> {
    let (header, claims) = peek(jwt)?;
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => Ok((sub.to_string(), header)),
        _ => Err(refused("no sub")),
    }
}

fn int_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ClientAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(refused("a time claim is not an integer")),
    }
}

impl ClientAuthenticator {
    pub(crate) async fn check_assertion(
        &self,
        client: &Client,
        jwt: &str,
        header: &Object,
        endpoint: Endpoint,
    ) -> Result<(), ClientAuthError> {
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
        let method = client.settings.token_endpoint_auth_method;
        if !method.assertion_algorithms().contains(&alg) {
            return Err(refused("algorithm not allowed"));
        }
        if client.settings.token_endpoint_auth_signing_alg.as_deref().is_some_and(|a| a != alg) {
            return Err(refused("not the client's registered algorithm"));
        }
        let kid = header.get("kid").and_then(Value::as_str);

        let claims = match (&client.settings.jwks, &client.settings.jwks_uri) {
            _ if method == AuthMethod::ClientSecretJwt => client
                .assertion_secret(self.secret_key.as_ref())
                .and_then(|secret| verify_hmac_jws(secret.as_bytes(), alg, jwt)),
            (Some(jwks), _) => verify_jws(jwks, alg, kid, jwt),
            (None, Some(uri)) => {
                let jwks =
                    self.keys.get(uri, false).await.map_err(|e| ClientAuthError::KeysUnavailable(e.to_string()))?;
                match verify_jws(&jwks, alg, kid, jwt) {
                    Some(claims) => Some(claims),
                    // A key we have not seen: the client may have rotated.
                    None if kid.is_some_and(|k| candidate_keys(&jwks, alg, Some(k)).is_empty()) => {
                        let jwks = self
                            .keys
                            .get(uri, true)
                            .await
                            .map_err(|e| ClientAuthError::KeysUnavailable(e.to_string()))?;
                        verify_jws(&jwks, alg, kid, jwt)
                    }
                    None => None,
                }
            }
            (None, None) => None,
        }
        .ok_or(refused("signature"))?;

        let id = client.client_id.as_str();
        if claims.get("iss").and_then(Value::as_str) != Some(id)
            || claims.get("sub").and_then(Value::as_str) != Some(id)
        {
            return Err(refused("iss and sub must be the client_id"));
        }
        let [token, introspection, revocation, par] = &*self.endpoints;
        let called = match endpoint {
            Endpoint::Token => token,
            Endpoint::Introspection => introspection,
            Endpoint::Revocation => revocation,
            Endpoint::PushedAuthorization => par,
        };
        let accepted = [&*self.issuer, token.as_str(), called.as_str()];
        let aud_ok = match claims.get("aud") {
            // FAPI 2.0 Security Profile §5.3.2.1: the issuer, as a string, only.
            _ if client.settings.fapi2_security_profile => {
                claims.get("aud").and_then(Value::as_str) == Some(&*self.issuer)
            }
            Some(Value::String(a)) => accepted.contains(&a.as_str()),
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(|a| accepted.contains(&a))),
            _ => false,
        };
        if !aud_ok {
            return Err(refused("aud must name this server"));
        }
        let now = self.clock.now();
        let exp = int_claim(&claims, "exp")?.ok_or(refused("no exp"))?;
        if exp + LEEWAY <= now {
            return Err(refused("expired"));
        }
        if exp > now + MAX_LIFETIME + LEEWAY {
            return Err(refused("exp too far ahead"));
        }
        if int_claim(&claims, "nbf")?.is_some_and(|nbf| nbf > now + LEEWAY) {
            return Err(refused("not yet valid"));
        }
        if int_claim(&claims, "iat")?.is_some_and(|iat| iat > now + LEEWAY) {
            return Err(refused("issued in the future"));
        }
        let jti = match claims.get("jti").and_then(Value::as_str) {
            Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j,
            _ => return Err(refused("jti missing or too long")),
        };
        if !self.replay.first_use(&format!("{id}:{jti}"), exp + LEEWAY, now).await? {
            return Err(ClientAuthError::ReplayedAssertion);
        }
        Ok(())
    }
}
