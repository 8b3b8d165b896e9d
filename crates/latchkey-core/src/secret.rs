//! Hashing of high-entropy secrets (client secrets, and later refresh tokens
//! and codes). These are random 256-bit values, so a fast keyed hash is as
//! strong as a slow password hash here and keeps the token endpoint fast.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "hmac-sha256:";

/// Domain-separation key: a hash made for one purpose never verifies another.
fn mac(purpose: &str, secret: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(purpose.as_bytes()).expect("HMAC takes any key length");
    mac.update(secret);
    mac.finalize().into_bytes().to_vec()
}

/// The stored form of a client secret.
pub fn hash_client_secret(secret: &str) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(mac("latchkey/client-secret/v1", secret.as_bytes())))
}

/// Constant-time check of a presented client secret against its stored hash.
pub fn verify_client_secret(secret: &str, stored: &str) -> bool {
    let Some(encoded) = stored.strip_prefix(PREFIX) else {
        return false;
    };
    let Ok(expected) = URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    mac("latchkey/client-secret/v1", secret.as_bytes()).ct_eq(&expected).into()
}

/// How the secret of a `client_secret_jwt` client is stored: not a hash but
/// the salt from which [`ClientSecretKey`] derives it.
const DERIVED_PREFIX: &str = "derived:v1:";

/// The server's key for the secrets of `client_secret_jwt` clients (OIDC
/// Core §9), which are HMAC keys and so must be known to verify an assertion.
/// Storing them would break "secrets are stored only hashed"; instead each is
/// `HMAC(key, client_id, salt)` and only the salt is stored. A database dump
/// alone reveals none of them; the key comes from the configuration
/// (`keys.encryption_key`), never from the database.
#[derive(Clone)]
pub struct ClientSecretKey([u8; 32]);

impl std::fmt::Debug for ClientSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecretKey(..)")
    }
}

impl ClientSecretKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// 512 bits: RFC 7518 §3.2 wants an HMAC key at least as long as the
    /// hash, so that HS512 can be used too.
    fn derive(&self, client_id: &str, salt: &str) -> String {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"latchkey/client-secret-jwt/v1\0");
        mac.update(client_id.as_bytes());
        mac.update(b"\0");
        mac.update(salt.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A fresh secret for `client_id` and its stored form.
    pub fn issue(&self, client_id: &str) -> (String, String) {
        let salt = crate::random::token(16);
        (self.derive(client_id, &salt), format!("{DERIVED_PREFIX}{salt}"))
    }

    /// The secret of `client_id` from its stored form; `None` for a stored
    /// form that is not a derived secret's.
    pub fn recover(&self, client_id: &str, stored: &str) -> Option<String> {
        stored.strip_prefix(DERIVED_PREFIX).map(|salt| self.derive(client_id, salt))
    }
}

/// Whether a stored secret is a derived one (see [`ClientSecretKey`]).
pub fn is_derived_secret(stored: &str) -> bool {
    stored.starts_with(DERIVED_PREFIX)
}

/// The stored form of a random bearer value (session id, code, refresh
/// token): its SHA-256, base64url. Enough for 256-bit random values, and fast.
pub fn hash_token(value: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Constant-time comparison of two secrets of possibly different length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Compare digests so that the length of the expected value does not leak.
    let da = mac("latchkey/compare", a);
    let db = mac("latchkey/compare", b);
    da.ct_eq(&db).into() && a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_verifies_only_the_same_secret() {
        let stored = hash_client_secret("s3cret");
        assert!(stored.starts_with("hmac-sha256:"));
        assert!(!stored.contains("s3cret"));
        assert!(verify_client_secret("s3cret", &stored));
        assert!(!verify_client_secret("s3cret ", &stored));
        assert!(!verify_client_secret("s3cret", "garbage"));
        assert!(!verify_client_secret("s3cret", "hmac-sha256:!!"));
    }

    #[test]
    fn derived_secrets_are_bound_to_key_client_and_salt() {
        let key = ClientSecretKey::new([7; 32]);
        let (secret, stored) = key.issue("client-a");
        assert!(is_derived_secret(&stored) && !stored.contains(&secret));
        assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 64);
        assert_eq!(key.recover("client-a", &stored).as_deref(), Some(secret.as_str()));
        assert_ne!(key.recover("client-b", &stored).as_deref(), Some(secret.as_str()));
        assert_ne!(ClientSecretKey::new([8; 32]).recover("client-a", &stored).as_deref(), Some(secret.as_str()));
        let (again, _) = key.issue("client-a");
        assert_ne!(again, secret, "a new salt, a new secret");
        assert_eq!(key.recover("client-a", &hash_client_secret("x")), None);
        assert!(!verify_client_secret(&secret, &stored), "a derived secret is not a hashed one");
        assert_eq!(format!("{key:?}"), "ClientSecretKey(..)");
    }

    #[test]
    fn constant_time_eq_compares_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(&[0xff], &[0xfe]), "bytes, not lossy text, are compared");
    }
}
