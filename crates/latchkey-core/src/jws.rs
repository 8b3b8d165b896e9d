//! The shape of a compact JWS (RFC 7515 §7.1), before any signature check:
//! three dot-separated base64url parts, the first two JSON objects. Shared by
//! everything that reads a JWT from outside (client assertions, software
//! statements, upstream ID tokens) so that each refuses the same inputs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a string is not a compact JWS with JSON-object header and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsShapeError {
    NotCompact,
    NotBase64url,
    NotJsonObject,
}

/// A compact JWS split into its parts; nothing is verified.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactJws<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    /// `header.payload` as sent: the JWS signing input.
    pub signing_input: &'a str,
    /// The signature part, still base64url.
    pub signature: &'a str,
}

/// Splits and decodes `jwt`.
pub fn decode_unverified(jwt: &str) -> Result<CompactJws<'_>, JwsShapeError> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsShapeError::NotCompact);
    };
    let object = |s: &str| -> Result<Map<String, Value>, JwsShapeError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsShapeError::NotBase64url)?;
        serde_json::from_slice(&bytes).map_err(|_| JwsShapeError::NotJsonObject)
    };
    Ok(CompactJws { header: object(h)?, payload: object(p)?, signing_input: &jwt[..h.len() + 1 + p.len()], signature })
}

/// RFC 7638 thumbprint (SHA-256, base64url) of a public JWK, from its
/// required members in lexicographic order; `None` for a key type we do not take.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "EC" => serde_json::json!({"crv": s("crv")?, "kty": "EC", "x": s("x")?, "y": s("y")?}),
        "RSA" => serde_json::json!({"e": s("e")?, "kty": "RSA", "n": s("n")?}),
        "OKP" => serde_json::json!({"crv": s("crv")?, "kty": "OKP", "x": s("x")?}),
        _ => return None,
    };
    // serde_json's map is ordered by key, as RFC 7638 §3.3 wants.
    let bytes = serde_json::to_vec(&canonical).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_well_formed_and_names_what_is_wrong() {
        let jws = decode_unverified("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln").unwrap();
        assert_eq!(jws.header["alg"], "HS256");
        assert_eq!(jws.payload["sub"], "a");
        assert_eq!(jws.signing_input, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0");
        assert_eq!(jws.signature, "c2ln");
        assert_eq!(decode_unverified("a.b").unwrap_err(), JwsShapeError::NotCompact);
        assert_eq!(decode_unverified("a.b.c.d").unwrap_err(), JwsShapeError::NotCompact);
        assert_eq!(decode_unverified("!!.e30.x").unwrap_err(), JwsShapeError::NotBase64url);
        assert_eq!(decode_unverified("e30.W10.x").unwrap_err(), JwsShapeError::NotJsonObject, "[] is not an object");
        // Non-standard claims come through (an upstream's `roles`).
        let jwt = format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(br#"{"sub":"s","roles":["a"]}"#));
        assert_eq!(decode_unverified(&jwt).unwrap().payload["roles"], serde_json::json!(["a"]));
        assert!(decode_unverified("e30.bm90IGpzb24.sig").is_err(), "not JSON");
        assert!(decode_unverified("nodots").is_err());
    }
}
