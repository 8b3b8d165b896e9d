use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::RS256;
use sha2::{Digest, Sha256};

use crate::KeyError;

/// A freshly generated key pair.
#[derive(Clone)]
pub struct GeneratedKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// The public JWK as published: `kty`, `use`, `alg`, `kid`, `n`, `e`.
    pub public_jwk: serde_json::Value,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// RFC 7638 JWK thumbprint of an RSA public key (SHA-256, base64url).
pub fn thumbprint(n: &str, e: &str) -> String {
    // Members in lexicographic order, no white space (RFC 7638 §3.3).
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Generates an RSA key pair for RS256.
pub fn generate_rsa(bits: u32) -> Result<GeneratedKey, KeyError> {
    if !matches!(bits, 2048 | 3072 | 4096) {
        return Err(KeyError::UnsupportedSize(bits));
    }
    let pair = RS256.generate_key_pair(bits).map_err(|e| KeyError::Generate(e.to_string()))?;
    let private_pem = String::from_utf8(pair.to_pem_private_key()).map_err(|e| KeyError::Generate(e.to_string()))?;
    let jwk = pair.to_jwk_public_key();
    let n = jwk.parameter("n").and_then(|v| v.as_str()).ok_or_else(|| KeyError::Generate("no modulus".into()))?;
    let e = jwk.parameter("e").and_then(|v| v.as_str()).ok_or_else(|| KeyError::Generate("no exponent".into()))?;
    let kid = thumbprint(n, e);
    let public_jwk = serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": n,
        "e": e,
    });
    Ok(GeneratedKey { kid, private_pem, public_jwk })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7638_example_thumbprint() {
        // The example key of RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn generated_key_is_named_by_its_thumbprint() {
        let key = generate_rsa(2048).unwrap();
        assert_eq!(key.kid, thumbprint(key.public_jwk["n"].as_str().unwrap(), "AQAB"));
        assert!(key.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(key.public_jwk.get("d").is_none());
        assert!(matches!(generate_rsa(1024), Err(KeyError::UnsupportedSize(1024))));
    }
}
