//! Random identifiers and secrets, URL-safe base64 without padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;

/// `bytes` bytes from the operating system's CSPRNG, base64url-encoded.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.try_fill_bytes(&mut buf).expect("the OS random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 96-bit label that must be unique, not secret (request ids): from the
/// thread's CSPRNG (seeded by the OS), without a system call per value.
pub fn label() -> String {
    use rand::RngCore;
    let mut buf = [0u8; 12];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A client identifier: 128 bits.
pub fn client_id() -> String {
    token(16)
}

/// A client secret: 256 bits.
pub fn client_secret() -> String {
    token(32)
}

/// A user's stable, opaque subject identifier: 128 bits.
pub fn subject() -> String {
    token(16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_have_the_requested_entropy_and_differ() {
        let a = super::client_secret();
        let b = super::client_secret();
        assert_eq!(a.len(), 43); // 32 bytes in unpadded base64
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(super::client_id().len(), 22);
    }
}
