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
    fn constant_time_eq_compares_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(&[0xff], &[0xfe]), "bytes, not lossy text, are compared");
    }
}
