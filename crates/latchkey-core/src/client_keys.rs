//! Rules for the public keys a client registers for `private_key_jwt`
//! (RFC 7591 `jwks`, or the document at `jwks_uri`): what a key set must look
//! like, and which of its keys may check an assertion of a given algorithm.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};
use serde_json::{Map, Value};

/// Algorithms accepted for `private_key_jwt` assertions. Never `none`, never
/// HMAC: an HMAC assertion is `client_secret_jwt`, a method of its own.
pub const ASSERTION_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// Algorithms accepted for `client_secret_jwt` assertions.
pub const HMAC_ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// At most this many keys in a client's set.
pub const MAX_KEYS: usize = 10;

/// Largest key set accepted, serialized (inline or fetched).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Members that only private or symmetric keys have.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn str_member<'a>(key: &'a Value, name: &str) -> Option<&'a str> {
    key.get(name).and_then(Value::as_str)
}

fn decoded_len(key: &Value, name: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(str_member(key, name)?).ok().map(|b| b.len())
}

/// Checks one public key; returns why it is refused.
fn validate_key(key: &Value) -> Result<(), String> {
    if !key.is_object() {
        return Err("every key must be a JSON object".into());
    }
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
        return Err(format!("keys must be public: member {m:?} is not allowed"));
    }
    if key.get("use").is_some_and(|u| u != "sig") {
        return Err("key use must be \"sig\"".into());
    }
    if let Some(alg) = key.get("alg")
        && !alg.as_str().is_some_and(|a| ASSERTION_ALGORITHMS.contains(&a))
    {
        return Err(format!("key alg {alg} is not supported; use {}", ASSERTION_ALGORITHMS.join(", ")));
    }
    match str_member(key, "kty") {
        Some("RSA") => {
            // 2048 bits or more; a leading zero octet is not counted.
            let n = decoded_len(key, "n").ok_or("an RSA key needs n (base64url)")?;
            if n < 256 {
                return Err("RSA keys must have at least 2048 bits".into());
            }
            decoded_len(key, "e").ok_or("an RSA key needs e (base64url)")?;
            Ok(())
        }
        Some("EC") => {
            if str_member(key, "crv") != Some("P-256") {
                return Err("EC keys must use the curve P-256 (ES256)".into());
            }
            for coordinate in ["x", "y"] {
                if decoded_len(key, coordinate) != Some(32) {
                    return Err(format!("an EC P-256 key needs {coordinate} (32 octets, base64url)"));
                }
            }
            Ok(())
        }
        Some("OKP") => {
            if str_member(key, "crv") != Some("Ed25519") {
                return Err("OKP keys must use the curve Ed25519 (EdDSA)".into());
            }
            if decoded_len(key, "x") != Some(32) {
                return Err("an Ed25519 key needs x (32 octets, base64url)".into());
            }
            Ok(())
        }
        Some(other) => Err(format!("key type {other:?} is not supported; use RSA, EC or OKP")),
        None => Err("every key needs kty".into()),
    }
}

/// Checks a client's JWK Set: `{"keys": [...]}` with 1 to `MAX_KEYS` public
/// RSA (2048 bits or more), EC P-256 or Ed25519 signing keys, distinct `kid`s.
pub fn validate_client_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("must be an object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("must hold 1 to {MAX_KEYS} keys"));
    }
    if serde_json::to_vec(jwks).map_or(true, |b| b.len() > MAX_JWKS_BYTES) {
        return Err(format!("must not exceed {MAX_JWKS_BYTES} bytes"));
    }
    let mut kids = Vec::new();
    for key in keys {
        validate_key(key)?;
        if let Some(kid) = key.get("kid") {
            let kid = kid.as_str().ok_or("kid must be a string")?;
            if kids.contains(&kid) {
                return Err(format!("kid {kid:?} appears twice"));
            }
            kids.push(kid);
        }
    }
    Ok(())
}

/// The keys of `jwks` that may check an assertion with header `alg` and
/// `kid`: the key type must fit the algorithm, a key's own `alg` must match,
/// and with a `kid` only that key qualifies.
pub fn candidate_keys<'a>(jwks: &'a Value, alg: &str, kid: Option<&str>) -> Vec<&'a Value> {
    let kty = match alg {
        "RS256" | "PS256" => "RSA",
        "ES256" => "EC",
        "EdDSA" => "OKP",
        _ => return Vec::new(),
    };
    let keys = jwks.get("keys").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    keys.iter()
        .filter(|k| str_member(k, "kty") == Some(kty))
        .filter(|k| str_member(k, "alg").is_none_or(|a| a == alg))
        .filter(|k| kid.is_none_or(|kid| str_member(k, "kid") == Some(kid)))
        .collect()
}

/// The claims of `jwt` (a JWS signed with `alg`, one of
/// [`ASSERTION_ALGORITHMS`]) if one of the candidate keys of `jwks` verifies
/// it: client assertions (RFC 7523) and software statements (RFC 7591).
pub fn verify_jws(jwks: &Value, alg: &str, kid: Option<&str>, jwt: &str) -> Option<Map<String, Value>> {
    for key in candidate_keys(jwks, alg, kid) {
        let Some(mut members) = key.as_object().cloned() else { continue };
        // The kid was matched above; josekit would also demand it in the
        // header, which RFC 7523 does not (authlib, for one, omits it).
        members.remove("kid");
        let Ok(jwk) = Jwk::from_map(members) else { continue };
        let verifier: Box<dyn JwsVerifier> = match alg {
            "RS256" => match RS256.verifier_from_jwk(&jwk) {
                Ok(v) => Box::new(v),
                Err(_) => continue,
            },
            "PS256" => match PS256.verifier_from_jwk(&jwk) {
                Ok(v) => Box::new(v),
                Err(_) => continue,
            },
            "ES256" => match ES256.verifier_from_jwk(&jwk) {
                Ok(v) => Box::new(v),
                Err(_) => continue,
            },
            "EdDSA" => match EdDSA.verifier_from_jwk(&jwk) {
                Ok(v) => Box::new(v),
                Err(_) => continue,
            },
            _ => return None,
        };
        // josekit checks that the header's `alg` is the verifier's.
        if let Ok((payload, _)) = josekit::jwt::decode_with_verifier(jwt, &*verifier) {
            return Some(payload.claims_set().clone());
        }
    }
    None
}

/// The claims of `jwt` if it is a JWS made with `alg` (one of
/// [`HMAC_ALGORITHMS`]) keyed by `secret`: `client_secret_jwt` assertions,
/// whose key is the octets of the client secret (OIDC Core §10.1). Done here
/// rather than with josekit, whose HMAC check is not constant-time.
pub fn verify_hmac_jws(secret: &[u8], alg: &str, jwt: &str) -> Option<Map<String, Value>> {
    use hmac::{Mac, SimpleHmac};
    use subtle::ConstantTimeEq;
    fn mac<D: sha2::Digest + hmac::digest::core_api::BlockSizeUser>(key: &[u8], input: &[u8]) -> Option<Vec<u8>> {
        Some(SimpleHmac::<D>::new_from_slice(key).ok()?.chain_update(input).finalize().into_bytes().to_vec())
    }
    let jws = crate::jws::decode_unverified(jwt).ok()?;
    // No JWS extension is understood, so none may be critical (RFC 7515 §4.1.11).
    if jws.header.get("alg").and_then(Value::as_str) != Some(alg) || jws.header.contains_key("crit") {
        return None;
    }
    // A key shorter than the hash is not allowed (RFC 7518 §3.2).
    let (min_key, expected) = match alg {
        "HS256" => (32, mac::<sha2::Sha256>(secret, jws.signing_input.as_bytes())?),
        "HS384" => (48, mac::<sha2::Sha384>(secret, jws.signing_input.as_bytes())?),
        "HS512" => (64, mac::<sha2::Sha512>(secret, jws.signing_input.as_bytes())?),
        _ => return None,
    };
    if secret.len() < min_key {
        return None;
    }
    let given = URL_SAFE_NO_PAD.decode(jws.signature).ok()?;
    if !bool::from(expected.ct_eq(&given)) {
        return None;
    }
    Some(jws.payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa(kid: &str) -> Value {
        json!({"kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode([0xc5u8; 256]), "e": "AQAB"})
    }

    fn ec(kid: &str) -> Value {
        let c = URL_SAFE_NO_PAD.encode([7u8; 32]);
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": c, "y": c})
    }

    #[test]
    fn public_signing_keys_pass_and_anything_else_is_named() {
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "kid": "c", "x": URL_SAFE_NO_PAD.encode([9u8; 32])});
        assert_eq!(validate_client_jwks(&json!({"keys": [rsa("a"), ec("b"), ed]})), Ok(()));
        let cases = [
            (json!([]), "\"keys\" array"),
            (json!({"keys": []}), "1 to 10"),
            (json!({"keys": [rsa("a"), rsa("a")]}), "appears twice"),
            (json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "\"k\""),
            (json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}), "2048"),
            (json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]}), "P-256"),
            (json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]}), "32 octets"),
            (json!({"keys": [{"kty": "OKP", "crv": "X25519", "x": "AA"}]}), "Ed25519"),
            (json!({"keys": [{"kty": "oct"}]}), "use RSA, EC or OKP"),
        ];
        for (jwks, why) in cases {
            let err = validate_client_jwks(&jwks).unwrap_err();
            assert!(err.contains(why), "{jwks}: {err}");
        }
        let mut private = rsa("a");
        private["d"] = "secret".into();
        assert!(validate_client_jwks(&json!({"keys": [private]})).unwrap_err().contains("public"));
        let mut enc = rsa("a");
        enc["use"] = "enc".into();
        assert!(validate_client_jwks(&json!({"keys": [enc]})).is_err());
        let mut hmac = rsa("a");
        hmac["alg"] = "HS256".into();
        assert!(validate_client_jwks(&json!({"keys": [hmac]})).is_err());
    }

    #[test]
    fn hmac_assertions_verify_only_with_their_secret_and_algorithm() {
        use josekit::jws::{HS256, HS512, JwsHeader};
        use josekit::jwt::{self, JwtPayload};
        let mut payload = JwtPayload::new();
        payload.set_subject("c1");
        let sign = |alg: &str, key: &[u8]| {
            let mut header = JwsHeader::new();
            header.set_token_type("JWT");
            match alg {
                "HS256" => jwt::encode_with_signer(&payload, &header, &HS256.signer_from_bytes(key).unwrap()),
                _ => jwt::encode_with_signer(&payload, &header, &HS512.signer_from_bytes(key).unwrap()),
            }
            .unwrap()
        };
        let secret = b"a secret of sixty-four bytes, long enough for HMAC with SHA-512.";
        assert_eq!(secret.len(), 64);
        let token = sign("HS256", secret);
        assert_eq!(verify_hmac_jws(secret, "HS256", &token).unwrap()["sub"], "c1");
        assert!(
            verify_hmac_jws(b"another secret of 64 bytes, long enough for HMAC with SHA-512...", "HS256", &token)
                .is_none()
        );
        assert!(verify_hmac_jws(&secret[..32], "HS512", &sign("HS512", secret)).is_none(), "too short a key");
        assert!(verify_hmac_jws(secret, "HS512", &token).is_none(), "the header names the algorithm");
        assert!(verify_hmac_jws(secret, "HS512", &sign("HS512", secret)).is_some());
        let mut tampered = token.clone();
        tampered.push('A');
        assert!(verify_hmac_jws(secret, "HS256", &tampered).is_none());
        let (head, _) = token.split_once('.').unwrap();
        assert!(verify_hmac_jws(secret, "HS256", &format!("{head}.e30.")).is_none());
        assert!(verify_hmac_jws(secret, "none", &token).is_none());
        assert!(verify_hmac_jws(secret, "HS256", "a.b").is_none());
    }

    #[test]
    fn candidates_fit_the_algorithm_and_kid() {
        let jwks = json!({"keys": [rsa("r1"), rsa("r2"), ec("e1")]});
        assert_eq!(candidate_keys(&jwks, "RS256", None).len(), 2);
        assert_eq!(candidate_keys(&jwks, "PS256", Some("r2")).len(), 1);
        assert_eq!(candidate_keys(&jwks, "ES256", None).len(), 1);
        assert!(candidate_keys(&jwks, "ES256", Some("r1")).is_empty());
        assert!(candidate_keys(&jwks, "HS256", None).is_empty());
        assert!(candidate_keys(&jwks, "none", None).is_empty());
    }
}
