//! Encryption of private keys at rest: AES-256-GCM with a key from config,
//! the key id as associated data (a sealed key cannot be swapped for another
//! row's), and a versioned text envelope.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use crate::KeyError;

const PREFIX: &str = "enc:v1:";
const NONCE: usize = 12;
const TAG: usize = 16;

/// A 256-bit key that seals private signing keys.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 32 bytes given as base64 (standard or URL-safe) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0)).collect()
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| KeyError::InvalidEncryptionKey("not base64 or hex".into()))?
        };
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| KeyError::InvalidEncryptionKey(format!("{} bytes, need 32", v.len())))?;
        Ok(Self(arr))
    }

    /// The key for `client_secret_jwt` secrets, derived under its own label
    /// so that the root key is never used for two purposes.
    pub fn client_secret_key(&self) -> latchkey_core::secret::ClientSecretKey {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"latchkey/subkey/client-secret-jwt/v1");
        latchkey_core::secret::ClientSecretKey::new(mac.finalize().into_bytes().into())
    }

    /// The key DPoP server nonces are made with, under its own label: every
    /// replica sharing the root key accepts the nonces of the others.
    pub fn dpop_nonce_key(&self) -> latchkey_core::dpop::NonceKey {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"latchkey/subkey/dpop-nonce/v1");
        latchkey_core::dpop::NonceKey::from_bytes(mac.finalize().into_bytes().into())
    }
}

/// Seals a PEM private key when an encryption key is given; returns it unchanged otherwise.
pub fn seal_private_key(pem: &str, kid: &str, key: Option<&EncryptionKey>) -> Result<String, KeyError> {
    let Some(key) = key else {
        return Ok(pem.to_string());
    };
    let mut nonce = [0u8; NONCE];
    openssl::rand::rand_bytes(&mut nonce).map_err(|e| KeyError::Generate(e.to_string()))?;
    let mut tag = [0u8; TAG];
    let ct = encrypt_aead(Cipher::aes_256_gcm(), &key.0, Some(&nonce), kid.as_bytes(), pem.as_bytes(), &mut tag)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let mut blob = Vec::with_capacity(NONCE + TAG + ct.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&tag);
    blob.extend_from_slice(&ct);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(blob)))
}

/// Opens a stored private key: sealed ones need the key, plain PEM passes through.
pub fn open_private_key(stored: &str, kid: &str, key: Option<&EncryptionKey>) -> Result<String, KeyError> {
    let Some(encoded) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_string());
    };
    let key = key.ok_or(KeyError::EncryptionKeyMissing)?;
    let blob = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| KeyError::Decrypt)?;
    if blob.len() < NONCE + TAG {
        return Err(KeyError::Decrypt);
    }
    let (nonce, rest) = blob.split_at(NONCE);
    let (tag, ct) = rest.split_at(TAG);
    let pem = decrypt_aead(Cipher::aes_256_gcm(), &key.0, Some(nonce), kid.as_bytes(), ct, tag)
        .map_err(|_| KeyError::Decrypt)?;
    String::from_utf8(pem).map_err(|_| KeyError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let key = EncryptionKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = seal_private_key("-----BEGIN PRIVATE KEY-----x", "kid-1", Some(&key)).unwrap();
        assert!(sealed.starts_with("enc:v1:"));
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(open_private_key(&sealed, "kid-1", Some(&key)).unwrap(), "-----BEGIN PRIVATE KEY-----x");
        assert!(matches!(open_private_key(&sealed, "kid-2", Some(&key)), Err(KeyError::Decrypt)));
        assert!(matches!(open_private_key(&sealed, "kid-1", None), Err(KeyError::EncryptionKeyMissing)));
        let other = EncryptionKey::parse(&"ab".repeat(32)).unwrap();
        assert!(matches!(open_private_key(&sealed, "kid-1", Some(&other)), Err(KeyError::Decrypt)));
        assert_eq!(open_private_key("plain", "k", None).unwrap(), "plain");
    }

    #[test]
    fn parses_key_encodings() {
        assert!(EncryptionKey::parse(&"0f".repeat(32)).is_ok());
        assert!(EncryptionKey::parse(&URL_SAFE_NO_PAD.encode([1u8; 32])).is_ok());
        assert!(EncryptionKey::parse("short").is_err());
        assert!(EncryptionKey::parse(&STANDARD.encode([1u8; 16])).is_err());
    }
}
