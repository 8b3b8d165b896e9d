//! The one crate that touches JOSE. It generates signing keys for RS256,
//! PS256, ES256 and EdDSA (OpenSSL through josekit), names them by their RFC 7638 thumbprint, seals private
//! keys at rest, signs compact JWTs, and renders the JWKS once per key change.
//!
//! Lifecycle (`next` → `active` → `retired`) is decided by the caller from the
//! shared store; this crate turns a list of keys into a [`KeySet`] that the
//! HTTP layer reads lock-free through a [`KeyRing`].

mod envelope;
mod generate;
mod keyset;

pub use envelope::{EncryptionKey, open_private_key, seal_private_key};
pub use generate::{Algorithm, GeneratedKey, generate, generate_rsa, jwk_thumbprint, thumbprint};
pub use keyset::{JwsHeader, KeyMaterial, KeyRing, KeySet, KeyUse, SigningKey, VerifiedJwt, VerifyError};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported RSA key size {0}; use 2048, 3072 or 4096")]
    UnsupportedSize(u32),
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    #[error("the private key is encrypted at rest and no encryption key is configured")]
    EncryptionKeyMissing,
    #[error("the private key cannot be decrypted with the configured encryption key")]
    Decrypt,
    #[error("invalid encryption key: {0}")]
    InvalidEncryptionKey(String),
    #[error("signing failed: {0}")]
    Sign(String),
}
