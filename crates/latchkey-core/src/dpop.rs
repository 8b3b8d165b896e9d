//! DPoP proofs (RFC 9449 §4.3), the pure part: the shape of the proof, its
//! public key, the signature, `htm`, `htu`, `iat`, `ath` and the key's
//! RFC 7638 thumbprint. Single use of `jti` and server nonces need state and
//! a secret; they are checked by the caller (`latchkey_client_auth::dpop`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::jws::decode_unverified;

/// The algorithms a proof may be signed with (advertised as
/// `dpop_signing_alg_values_supported`). Never `none`, never HMAC: the key
/// must be one the client holds alone.
pub const DPOP_ALGORITHMS: [&str; 4] = ["ES256", "RS256", "PS256", "EdDSA"];

/// Larger proofs are refused before any parsing.
const MAX_PROOF_BYTES: usize = 8 * 1024;

const MAX_JTI: usize = 256;

/// Members only private or symmetric keys have.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What the request a proof comes with is.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The HTTP method.
    pub htm: &'a str,
    /// The endpoint's URL under our configured issuer (never the Host header).
    pub htu: &'a str,
    /// The access token presented with the proof (resource endpoints): the
    /// proof must carry its hash as `ath`.
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// How far `iat` may lie from `now`, either way.
    pub iat_window: i64,
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
    /// The proof's algorithm (one of [`DPOP_ALGORITHMS`]).
    pub alg: &'static str,
}

/// Why a proof was refused (`invalid_dpop_proof`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub &'static str);

pub use crate::jws::jwk_thumbprint as thumbprint;

/// `ath`: base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Whether `value` looks like a thumbprint we could have computed: 43
/// base64url characters (a SHA-256 digest), as `dpop_jkt` must be.
pub fn is_thumbprint(value: &str) -> bool {
    value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok_and(|b| b.len() == 32)
}

/// `htu` without query and fragment, normalised (scheme and host case,
/// default port) so that equal URLs compare equal (RFC 9449 §4.3 point 9).
fn normalise(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

fn verifier(alg: &str, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    Some(match alg {
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk).ok()?),
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk).ok()?),
        "PS256" => Box::new(PS256.verifier_from_jwk(jwk).ok()?),
        "EdDSA" if jwk.curve() == Some("Ed25519") => Box::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    })
}

/// Checks `proof` against what the request is (RFC 9449 §4.3, points 1-11
/// but the nonce and single use of `jti`).
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, ProofError> {
    let bad = ProofError;
    if proof.len() > MAX_PROOF_BYTES {
        return Err(bad("the proof is too large"));
    }
    let jws = decode_unverified(proof).map_err(|_| bad("the proof is not a compact JWS"))?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("typ must be dpop+jwt"));
    }
    let alg = jws.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if !DPOP_ALGORITHMS.contains(&alg) {
        return Err(bad("the algorithm is not allowed"));
    }
    if jws.header.contains_key("crit") {
        return Err(bad("no JWS extension is understood (crit)"));
    }
    let Some(Value::Object(key)) = jws.header.get("jwk") else {
        return Err(bad("the header must carry the public key as jwk"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| key.contains_key(*m)) {
        return Err(bad("the jwk must be a public key"));
    }
    let jkt = thumbprint(key).ok_or(bad("the jwk is not a supported public key"))?;
    let mut members = key.clone();
    // josekit would demand a matching kid in the header; the key is the header's own.
    members.remove("kid");
    let jwk = Jwk::from_map(members).map_err(|_| bad("the jwk is malformed"))?;
    let verifier = verifier(alg, &jwk).ok_or(bad("the jwk does not fit the algorithm"))?;
    let (payload, _) = josekit::jwt::decode_with_verifier(proof, &*verifier).map_err(|_| bad("signature"))?;
    let claims = payload.claims_set();

    let jti = match claims.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j,
        _ => return Err(bad("jti is required (at most 256 characters)")),
    };
    if claims.get("htm").and_then(Value::as_str) != Some(expected.htm) {
        return Err(bad("htm does not match the request's method"));
    }
    let htu = claims.get("htu").and_then(Value::as_str).ok_or(bad("htu is required"))?;
    let htu = normalise(htu);
    if htu.is_none() || htu != normalise(expected.htu) {
        return Err(bad("htu does not match the request's URL"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or(bad("iat is required (an integer)"))?;
    if iat < expected.now - expected.iat_window {
        return Err(bad("the proof is too old (iat)"));
    }
    if iat > expected.now + expected.iat_window {
        return Err(bad("the proof is issued in the future (iat)"));
    }
    let ath = claims.get("ath").map(|a| a.as_str().ok_or(bad("ath must be a string")));
    match (expected.access_token, ath) {
        (Some(token), Some(Ok(ath))) if ath == access_token_hash(token) => {}
        (Some(_), Some(Ok(_))) => return Err(bad("ath does not match the access token")),
        (Some(_), None) => return Err(bad("ath is required with an access token")),
        (_, Some(Err(e))) => return Err(e),
        (None, _) => {}
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(bad("nonce must be a string")),
    };
    let alg = DPOP_ALGORITHMS.iter().copied().find(|a| *a == alg).unwrap_or_default();
    Ok(Proof { jkt, jti: jti.to_string(), iat, nonce, alg })
}

/// The secret server nonces (RFC 9449 §8) are made with: a nonce is an
/// HMAC of the current time window, so that every replica holding the same
/// secret accepts the nonce another one gave, without shared state.
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key of this process alone (no `keys.encryption_key` to derive one from).
    pub fn random() -> Self {
        use rand::TryRngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS random source failed");
        Self(bytes)
    }

    fn for_window(&self, window: i64) -> String {
        use hmac::{Mac, SimpleHmac};
        let mut mac = SimpleHmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(b"latchkey/dpop-nonce/v1");
        mac.update(&window.to_be_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The nonce to hand out now; it is accepted for `lifetime` to twice that.
    pub fn current(&self, now: i64, lifetime: i64) -> String {
        self.for_window(now.div_euclid(lifetime.max(1)))
    }

    /// Whether `nonce` was handed out in this window or the one before.
    pub fn accepts(&self, nonce: &str, now: i64, lifetime: i64) -> bool {
        use subtle::ConstantTimeEq;
        let window = now.div_euclid(lifetime.max(1));
        [window, window - 1].iter().any(|w| bool::from(self.for_window(*w).as_bytes().ct_eq(nonce.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nonces_last_one_to_two_lifetimes_and_need_the_key() {
        let key = NonceKey::from_bytes([7; 32]);
        let n = key.current(1_000, 300);
        assert!(key.accepts(&n, 1_000, 300));
        assert!(key.accepts(&n, 1_199, 300), "same window");
        assert!(key.accepts(&n, 1_499, 300), "the window after");
        assert!(!key.accepts(&n, 1_500, 300), "two windows later");
        assert!(!NonceKey::from_bytes([8; 32]).accepts(&n, 1_000, 300), "another key");
        assert!(!key.accepts("", 1_000, 300));
    }

    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(jwk.as_object().unwrap()).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert!(is_thumbprint("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert!(!is_thumbprint("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X"));
        assert!(!is_thumbprint("NzbLsXh8uDCcd+6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    }

    #[test]
    fn htu_compares_without_query_and_fragment() {
        assert_eq!(normalise("HTTPS://Example.com:443/token?x=1#f"), normalise("https://example.com/token"));
        assert_ne!(normalise("https://example.com/token/"), normalise("https://example.com/token"));
        assert_eq!(normalise("not a url"), None);
    }
}
