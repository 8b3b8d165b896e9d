use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Algorithm, KeyError};

/// Whether a published key also signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The key that signs new tokens with its algorithm (one per algorithm).
    Signing,
    /// Published only: a key waiting to sign, or one that has stopped.
    Published,
}

/// One key as the key set needs it.
pub struct KeyMaterial {
    pub kid: String,
    pub alg: Algorithm,
    pub key_use: KeyUse,
    /// Public JWK JSON as stored.
    pub public_jwk: String,
    /// PEM of the private key; needed only for the signing key.
    pub private_pem: Option<String>,
}

/// A key that signs, ready for use.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    signer: Box<dyn JwsSigner>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn from_pem(kid: &str, alg: Algorithm, pem: &str) -> Result<Self, KeyError> {
        Ok(Self { kid: kid.to_string(), alg, signer: alg.signer_from_pem(pem)? })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> &'static str {
        self.alg.as_str()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Signs `claims` (`latchkey_core::claims`' structs, or any JSON
    /// object) as a compact JWS with header `{alg, typ, kid}`.
    pub fn sign_jwt<C: Serialize + ?Sized>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let header = SigningHeader { alg: self.alg.as_str(), typ, kid: &self.kid };
        let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes"));
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims).expect("claims serialize"), &mut out);
        let signature = self.signer.sign(out.as_bytes()).map_err(|e| KeyError::Sign(e.to_string()))?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        Ok(out)
    }
}

/// The header we sign with (in the order `json!` wrote it before).
#[derive(Serialize)]
struct SigningHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The members of a JWS header (RFC 7515 §4.1) a verified token is read by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JwsHeader {
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// Why a JWT did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm is not the signing key's")]
    Algorithm,
    #[error("signed by a key that is not published here")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    /// Signed by us, but the claims are not of the kind asked for.
    #[error("the claims are not of the expected kind: {0}")]
    Claims(String),
}

/// A verified JWT's header and claims (`C`: one of `latchkey_core::claims`'
/// structs, or a JSON map for any claims).
#[derive(Debug, Clone)]
pub struct VerifiedJwt<C = serde_json::Map<String, serde_json::Value>> {
    pub header: JwsHeader,
    pub claims: C,
}

/// Everything derived from the current keys, built once per change.
pub struct KeySet {
    /// One signing key per algorithm; RS256's first (the default).
    signing: Vec<Arc<SigningKey>>,
    verifiers: HashMap<String, (Algorithm, Box<dyn JwsVerifier>)>,
    jwks: Arc<[u8]>,
    etag: String,
    fingerprint: String,
    /// SHA-256 of tokens whose signature verified against this set. A
    /// resource server introspects (or calls UserInfo with) the same token
    /// many times; the RSA verification is ~70% of such a request's CPU and
    /// its answer cannot change while the keys do not, and a new key set
    /// starts with an empty memo (a withdrawn key stops verifying at once).
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Entries kept in the memo (32 bytes each) before it starts over.
const VERIFIED_CAPACITY: usize = 16_384;

impl KeySet {
    /// Builds the set: the JWKS lists the signing keys first (RS256's, then
    /// the others' in the given order), then the others in the given order,
    /// with only public members.
    pub fn build(keys: Vec<KeyMaterial>) -> Result<Self, KeyError> {
        let fingerprint = Self::fingerprint_of(keys.iter().map(|k| (k.kid.as_str(), k.key_use)));
        let mut signing: Vec<Arc<SigningKey>> = Vec::new();
        let mut verifiers = HashMap::new();
        let (mut signers, mut others) = (Vec::new(), Vec::new());
        for key in keys {
            let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk)
                .map_err(|e| KeyError::InvalidPublicKey(format!("{}: {e}", key.kid)))?;
            let public =
                Self::public_members(&jwk, key.alg).ok_or_else(|| KeyError::InvalidPublicKey(key.kid.clone()))?;
            let map = public.as_object().cloned().unwrap_or_default();
            let jwk = Jwk::from_map(map).map_err(|e| KeyError::InvalidPublicKey(format!("{}: {e}", key.kid)))?;
            let verifier = key.alg.verifier_from_jwk(&jwk)?;
            verifiers.insert(key.kid.clone(), (key.alg, verifier));
            if key.key_use == KeyUse::Signing {
                let pem = key.private_pem.as_deref().ok_or_else(|| KeyError::InvalidPrivateKey(key.kid.clone()))?;
                let signer = Arc::new(SigningKey::from_pem(&key.kid, key.alg, pem)?);
                if signing.iter().any(|s| s.alg == key.alg) {
                    return Err(KeyError::InvalidPrivateKey(format!("two {} signing keys", key.alg)));
                }
                if key.alg == Algorithm::RS256 {
                    signing.insert(0, signer);
                    signers.insert(0, public);
                } else {
                    signing.push(signer);
                    signers.push(public);
                }
            } else {
                others.push(public);
            }
        }
        signers.extend(others);
        let jwks: Arc<[u8]> = serde_json::to_vec(&serde_json::json!({ "keys": signers })).expect("jwks").into();
        let etag = format!("\"{}\"", &URL_SAFE_NO_PAD.encode(Sha256::digest(&jwks))[..27]);
        Ok(Self { signing, verifiers, jwks, etag, fingerprint, verified: Mutex::new(HashSet::new()) })
    }

    /// Only the public members of an `alg` key (RFC 7517, 7518 §6, 8037
    /// §2); anything private is dropped, and a key of another type is refused.
    fn public_members(jwk: &serde_json::Value, alg: Algorithm) -> Option<serde_json::Value> {
        let get = |k: &str| jwk.get(k).and_then(|v| v.as_str());
        let (kty, crv) = alg.key_type();
        if get("kty")? != kty || crv.is_some_and(|c| get("crv") != Some(c)) {
            return None;
        }
        let mut out = serde_json::json!({"kty": kty, "use": "sig", "alg": alg.as_str(), "kid": get("kid")?});
        let members: &[&str] = match kty {
            "RSA" => &["n", "e"],
            "EC" => &["crv", "x", "y"],
            _ => &["crv", "x"],
        };
        for m in members {
            out[*m] = get(m)?.into();
        }
        Some(out)
    }

    /// Identity of a key list (kids and uses): equal fingerprints mean the set
    /// need not be rebuilt.
    pub fn fingerprint_of<'a>(keys: impl Iterator<Item = (&'a str, KeyUse)>) -> String {
        keys.map(|(kid, u)| format!("{kid}:{}", if u == KeyUse::Signing { 's' } else { 'p' }))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Verifies a compact JWS signed by any published key, with that key's
    /// algorithm, and reads its claims as a `C`. Claims (issuer, audience, expiry) are the
    /// caller's to check.
    pub fn verify_jwt<C: DeserializeOwned>(&self, token: &str) -> Result<VerifiedJwt<C>, VerifyError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(VerifyError::Malformed);
        };
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| VerifyError::Malformed);
        let header: JwsHeader = serde_json::from_slice(&decode(h)?).map_err(|_| VerifyError::Malformed)?;
        let alg = header.alg.as_deref().and_then(Algorithm::parse).ok_or(VerifyError::Algorithm)?;
        let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let (key_alg, verifier) = self.verifiers.get(kid).ok_or(VerifyError::UnknownKey)?;
        if *key_alg != alg {
            return Err(VerifyError::Algorithm);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if !self.lock_verified().contains(&digest) {
            let signature = decode(sig)?;
            let signed = &token[..h.len() + 1 + p.len()];
            verifier.verify(signed.as_bytes(), &signature).map_err(|_| VerifyError::Signature)?;
            let mut verified = self.lock_verified();
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(digest);
        }
        let payload = decode(p)?;
        // A payload that is not JSON at all is malformed; JSON of another shape is another kind of token.
        let claims = match serde_json::from_slice(&payload) {
            Ok(claims) => claims,
            Err(e) if e.is_data() => return Err(VerifyError::Claims(e.to_string())),
            Err(_) => return Err(VerifyError::Malformed),
        };
        Ok(VerifiedJwt { header, claims })
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        // A set of digests cannot be left inconsistent by a panic.
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn empty() -> Self {
        Self::build(Vec::new()).expect("an empty key set builds")
    }

    /// The default signing key: RS256's (the algorithm every client
    /// understands), or the only one there is.
    pub fn signing_key(&self) -> Option<&Arc<SigningKey>> {
        self.signing.first()
    }

    /// The signing key of the algorithm named `alg` (a client's registered
    /// `*_signed_response_alg`), or the default one when it names none.
    pub fn signing_key_named(&self, alg: Option<&str>) -> Option<&Arc<SigningKey>> {
        match alg {
            None => self.signing_key(),
            Some(name) => self.signing_key_for(Algorithm::parse(name)?),
        }
    }

    /// The signing key of `alg`, if keys of that algorithm are kept.
    pub fn signing_key_for(&self, alg: Algorithm) -> Option<&Arc<SigningKey>> {
        self.signing.iter().find(|k| k.alg == alg)
    }

    /// The algorithms this set signs with, the default first.
    pub fn signing_algorithms(&self) -> Vec<Algorithm> {
        self.signing.iter().map(|k| k.alg).collect()
    }

    pub fn jwks(&self) -> &Arc<[u8]> {
        &self.jwks
    }

    pub fn etag(&self) -> &str {
        &self.etag
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// The current key set, swapped atomically when keys change; readers never lock.
#[derive(Debug)]
pub struct KeyRing(ArcSwap<KeySet>);

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        Self(ArcSwap::from_pointee(set))
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.0.load_full()
    }

    pub fn replace(&self, set: KeySet) {
        self.0.store(Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, generate_rsa};

    #[test]
    fn builds_jwks_with_signing_key_first_and_public_members_only() {
        let a = generate_rsa(2048).unwrap();
        let b = generate_rsa(2048).unwrap();
        let mut leaky = b.public_jwk.clone();
        leaky["d"] = "secret".into();
        let set = KeySet::build(vec![
            KeyMaterial {
                kid: b.kid.clone(),
                alg: Algorithm::RS256,
                key_use: KeyUse::Published,
                public_jwk: leaky.to_string(),
                private_pem: None,
            },
            KeyMaterial {
                kid: a.kid.clone(),
                alg: Algorithm::RS256,
                key_use: KeyUse::Signing,
                public_jwk: a.public_jwk.to_string(),
                private_pem: Some(a.private_pem.clone()),
            },
        ])
        .unwrap();
        let jwks: serde_json::Value = serde_json::from_slice(set.jwks()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys[0]["kid"], a.kid.as_str());
        assert_eq!(keys[1]["kid"], b.kid.as_str());
        assert!(keys.iter().all(|k| k.as_object().unwrap().len() == 6 && k.get("d").is_none()));
        assert_eq!(set.signing_key().unwrap().kid(), a.kid);
        assert!(set.etag().starts_with('"') && set.etag().ends_with('"'));

        let jwt = set.signing_key().unwrap().sign_jwt("JWT", &serde_json::json!({"sub": "x"})).unwrap();
        assert_eq!(jwt.split('.').count(), 3);
        let header = URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap();
        assert_eq!(String::from_utf8(header).unwrap(), format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, a.kid));
    }

    #[test]
    fn remembered_verifications_never_accept_other_bytes_or_withdrawn_keys() {
        let a = generate_rsa(2048).unwrap();
        let material = |kid: &str, jwk: &serde_json::Value, pem: &str| KeyMaterial {
            kid: kid.to_string(),
            alg: Algorithm::RS256,
            key_use: KeyUse::Signing,
            public_jwk: jwk.to_string(),
            private_pem: Some(pem.to_string()),
        };
        let set = KeySet::build(vec![material(&a.kid, &a.public_jwk, &a.private_pem)]).unwrap();
        let jwt = set.signing_key().unwrap().sign_jwt("at+jwt", &serde_json::json!({"sub": "x"})).unwrap();
        for _ in 0..2 {
            let verified = set.verify_jwt::<serde_json::Value>(&jwt).unwrap();
            assert_eq!(verified.claims["sub"], "x", "first check, then remembered");
            assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
        }
        // Same header and signature, other claims: not the remembered token.
        let (head, rest) = jwt.split_once('.').unwrap();
        let sig = rest.split_once('.').unwrap().1;
        let forged = format!("{head}.{}.{sig}", URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#));
        assert!(matches!(set.verify_jwt::<serde_json::Value>(&forged), Err(VerifyError::Signature)));
        // A set without the key (withdrawn) does not know the token.
        let b = generate_rsa(2048).unwrap();
        let other = KeySet::build(vec![material(&b.kid, &b.public_jwk, &b.private_pem)]).unwrap();
        assert!(matches!(other.verify_jwt::<serde_json::Value>(&jwt), Err(VerifyError::UnknownKey)));
        // Verified, but asked for claims it does not have.
        #[derive(Debug, serde::Deserialize)]
        struct NeedsJti {
            #[allow(dead_code)]
            jti: String,
        }
        assert!(matches!(set.verify_jwt::<NeedsJti>(&jwt), Err(VerifyError::Claims(_))));
    }

    #[test]
    fn each_algorithm_signs_with_its_own_key_and_verifies_only_with_it() {
        let keys: Vec<_> = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA, Algorithm::PS256]
            .into_iter()
            .map(|alg| generate(alg, 2048).unwrap())
            .collect();
        let material = keys
            .iter()
            .map(|k| KeyMaterial {
                kid: k.kid.clone(),
                alg: k.alg,
                key_use: KeyUse::Signing,
                public_jwk: k.public_jwk.to_string(),
                private_pem: Some(k.private_pem.clone()),
            })
            .collect();
        let set = KeySet::build(material).unwrap();
        assert_eq!(set.signing_key().unwrap().algorithm(), Algorithm::RS256, "RS256 is the default");
        assert_eq!(set.signing_algorithms(), [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256]);
        let jwks: serde_json::Value = serde_json::from_slice(set.jwks()).unwrap();
        let published: Vec<&str> =
            jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert_eq!(published, ["RS256", "ES256", "EdDSA", "PS256"]);
        for alg in Algorithm::ALL {
            let key = set.signing_key_for(alg).unwrap();
            let jwt = key.sign_jwt("JWT", &serde_json::json!({"sub": alg.as_str()})).unwrap();
            let verified = set.verify_jwt::<serde_json::Value>(&jwt).unwrap();
            assert_eq!(
                (verified.header.alg.as_deref(), verified.claims["sub"].as_str()),
                (Some(alg.as_str()), Some(alg.as_str()))
            );
            // The same key's signature under another alg name is refused.
            let (head, rest) = jwt.split_once('.').unwrap();
            let mut header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
            header["alg"] = if alg == Algorithm::RS256 { "PS256" } else { "RS256" }.into();
            let relabelled = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
            assert!(matches!(set.verify_jwt::<serde_json::Value>(&relabelled), Err(VerifyError::Algorithm)), "{alg}");
        }
    }
}
