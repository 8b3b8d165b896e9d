use josekit::jws::{ES256, EdDSA, JwsSigner, JwsVerifier, PS256, RS256};

use crate::KeyError;

/// The algorithms our keys sign with (RFC 7518 §3, RFC 8037 for EdDSA with
/// Ed25519). Each has keys of its own: a key signs with one algorithm only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub(crate) fn signer_from_pem(self, pem: &str) -> Result<Box<dyn JwsSigner>, KeyError> {
        let bad = |e: josekit::JoseError| KeyError::InvalidPrivateKey(e.to_string());
        Ok(match self {
            Self::RS256 => Box::new(RS256.signer_from_pem(pem).map_err(bad)?),
            Self::PS256 => Box::new(PS256.signer_from_pem(pem).map_err(bad)?),
            Self::ES256 => Box::new(ES256.signer_from_pem(pem).map_err(bad)?),
            Self::EdDSA => Box::new(EdDSA.signer_from_pem(pem).map_err(bad)?),
        })
    }

    pub(crate) fn verifier_from_jwk(self, jwk: &josekit::jwk::Jwk) -> Result<Box<dyn JwsVerifier>, KeyError> {
        let bad = |e: josekit::JoseError| KeyError::InvalidPublicKey(e.to_string());
        Ok(match self {
            Self::RS256 => Box::new(RS256.verifier_from_jwk(jwk).map_err(bad)?),
            Self::PS256 => Box::new(PS256.verifier_from_jwk(jwk).map_err(bad)?),
            Self::ES256 => Box::new(ES256.verifier_from_jwk(jwk).map_err(bad)?),
            Self::EdDSA => Box::new(EdDSA.verifier_from_jwk(jwk).map_err(bad)?),
        })
    }

    /// The key type (`kty`) and curve (`crv`) of this algorithm's keys.
    pub(crate) fn key_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::RS256 | Self::PS256 => ("RSA", None),
            Self::ES256 => ("EC", Some("P-256")),
            Self::EdDSA => ("OKP", Some("Ed25519")),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly generated key pair.
#[derive(Clone)]
pub struct GeneratedKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub alg: Algorithm,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// The public JWK as published: `kty`, `use`, `alg`, `kid` and the
    /// key's public members (`n`, `e`; `crv`, `x`, `y`; `crv`, `x`).
    pub public_jwk: serde_json::Value,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// RFC 7638 JWK thumbprint of an RSA public key (SHA-256, base64url).
pub fn thumbprint(n: &str, e: &str) -> String {
    // Members in lexicographic order, no white space (RFC 7638 §3.3).
    jwk_thumbprint(&serde_json::json!({"kty": "RSA", "n": n, "e": e})).expect("an RSA key")
}

/// RFC 7638 thumbprint of a public JWK (RSA, EC or OKP): SHA-256 of its
/// required members in lexicographic order, base64url. `None` for another
/// key type or a missing member.
pub fn jwk_thumbprint(jwk: &serde_json::Value) -> Option<String> {
    latchkey_core::jws::jwk_thumbprint(jwk.as_object()?)
}

/// Generates an RSA key pair for RS256.
pub fn generate_rsa(bits: u32) -> Result<GeneratedKey, KeyError> {
    generate(Algorithm::RS256, bits)
}

/// Generates a key pair for `alg` (RSA of `rsa_bits` for RS256 and PS256).
pub fn generate(alg: Algorithm, rsa_bits: u32) -> Result<GeneratedKey, KeyError> {
    let failed = |e: josekit::JoseError| KeyError::Generate(e.to_string());
    let (private_pem, public) = match alg {
        Algorithm::RS256 | Algorithm::PS256 if !matches!(rsa_bits, 2048 | 3072 | 4096) => {
            return Err(KeyError::UnsupportedSize(rsa_bits));
        }
        Algorithm::RS256 => {
            let pair = RS256.generate_key_pair(rsa_bits).map_err(failed)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
        // An RSASSA-PSS key (RFC 4055), usable for PS256 only.
        Algorithm::PS256 => {
            let pair = PS256.generate_key_pair(rsa_bits).map_err(failed)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
        Algorithm::ES256 => {
            let pair = ES256.generate_key_pair().map_err(failed)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
        Algorithm::EdDSA => {
            let pair = EdDSA.generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519).map_err(failed)?;
            (pair.to_pem_private_key(), pair.to_jwk_public_key())
        }
    };
    let private_pem = String::from_utf8(private_pem).map_err(|e| KeyError::Generate(e.to_string()))?;
    let mut public_jwk: serde_json::Value = serde_json::to_value(public.as_ref()).expect("a JWK serializes");
    let kid = jwk_thumbprint(&public_jwk).ok_or_else(|| KeyError::Generate("no thumbprint".into()))?;
    let obj = public_jwk.as_object_mut().expect("a JWK is an object");
    obj.insert("use".into(), "sig".into());
    obj.insert("alg".into(), alg.as_str().into());
    obj.insert("kid".into(), kid.clone().into());
    Ok(GeneratedKey { kid, alg, private_pem, public_jwk })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7638_example_thumbprint() {
        // The example key of RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        // RFC 8037 Appendix A.3: the Ed25519 example key's thumbprint.
        let okp =
            serde_json::json!({"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(jwk_thumbprint(&okp).unwrap(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn generated_keys_are_named_by_their_thumbprint_and_publish_only_public_members() {
        let key = generate_rsa(2048).unwrap();
        assert_eq!(key.kid, thumbprint(key.public_jwk["n"].as_str().unwrap(), "AQAB"));
        assert!(key.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(matches!(generate_rsa(1024), Err(KeyError::UnsupportedSize(1024))));
        for alg in Algorithm::ALL {
            let key = generate(alg, 2048).unwrap();
            assert_eq!(key.public_jwk["alg"], alg.as_str());
            assert_eq!(key.public_jwk["kty"], alg.key_type().0);
            assert_eq!(key.kid, jwk_thumbprint(&key.public_jwk).unwrap());
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(key.public_jwk.get(private).is_none(), "{alg}: {private}");
            }
            let signer = alg.signer_from_pem(&key.private_pem).unwrap();
            let jwk = josekit::jwk::Jwk::from_map(key.public_jwk.as_object().unwrap().clone()).unwrap();
            let signature = signer.sign(b"input").unwrap();
            alg.verifier_from_jwk(&jwk).unwrap().verify(b"input", &signature).unwrap();
        }
    }
}
