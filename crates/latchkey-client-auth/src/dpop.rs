//! DPoP proofs (RFC 9449) as endpoints receive them: one `DPoP` header,
//! the proof checked by `latchkey_core::dpop`, a server nonce when the
//! operator asks for one (an HMAC of the time window: every replica with the
//! same secret accepts the others'), and `jti` used once across replicas
//! through the `ReplayStore` request objects and client assertions use.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use latchkey_core::Clock;
use latchkey_core::dpop::{DPOP_ALGORITHMS, Expected, NonceKey, Proof, verify};
use latchkey_store::{ReplayStore, StoreError};

/// The DPoP settings (`[dpop]`).
#[derive(Debug, Clone)]
pub struct DpopSettings {
    /// How far a proof's `iat` may lie from our clock, either way.
    pub iat_window_seconds: i64,
    /// Every proof must carry a nonce we gave (`DPoP-Nonce`).
    pub require_nonce: bool,
    /// A nonce is accepted for this long to twice this.
    pub nonce_lifetime_seconds: i64,
}

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error("invalid DPoP proof: {0}")]
    Invalid(&'static str),
    #[error("the proof must carry the server's current nonce")]
    UseNonce,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks proofs for every endpoint that takes them.
#[derive(Clone)]
pub struct DpopVerifier {
    replay: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
    /// The issuer without a trailing slash: endpoint URLs are built from it,
    /// never from the Host header.
    base: Arc<str>,
    settings: Arc<DpopSettings>,
    nonce_key: NonceKey,
}

/// `algs` for `WWW-Authenticate: DPoP` challenges (RFC 9449 §7.1).
pub fn algs_parameter() -> String {
    format!("algs=\"{}\"", DPOP_ALGORITHMS.join(" "))
}

impl DpopVerifier {
    pub fn new(
        replay: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
        issuer: &str,
        settings: DpopSettings,
        nonce_key: NonceKey,
    ) -> Self {
        Self { replay, clock, base: issuer.trim_end_matches('/').into(), settings: Arc::new(settings), nonce_key }
    }

    /// The one `DPoP` header of a request, if any; more than one is refused.
    pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
        let mut all = headers.get_all("dpop").iter();
        match (all.next(), all.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(DpopError::Invalid("more than one DPoP header")),
            (Some(v), None) => v.to_str().map(Some).map_err(|_| DpopError::Invalid("the DPoP header is not text")),
        }
    }

    /// The nonce to send in `DPoP-Nonce` (only when nonces are required).
    pub fn nonce_header(&self) -> Option<HeaderValue> {
        if !self.settings.require_nonce {
            return None;
        }
        let nonce = self.nonce_key.current(self.clock.now(), self.settings.nonce_lifetime_seconds);
        HeaderValue::from_str(&nonce).ok()
    }

    /// Verifies `proof` sent with `method` to our endpoint at `path` (under
    /// the issuer), with `access_token` at a resource endpoint; spends its
    /// `jti`.
    pub async fn verify(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<Proof, DpopError> {
        let now = self.clock.now();
        let htu = format!("{}{path}", self.base);
        let window = self.settings.iat_window_seconds;
        let expected = Expected { htm: method, htu: &htu, access_token, now, iat_window: window };
        let proof = verify(proof, &expected).map_err(|e| DpopError::Invalid(e.0))?;
        if self.settings.require_nonce {
            let lifetime = self.settings.nonce_lifetime_seconds;
            if !proof.nonce.as_deref().is_some_and(|n| self.nonce_key.accepts(n, now, lifetime)) {
                return Err(DpopError::UseNonce);
            }
        }
        // The record outlives the proof's acceptance (`iat` + window).
        let key = format!("dpop:{}:{}", proof.jkt, proof.jti);
        if !self.replay.first_use(&key, proof.iat + window + 1, now).await? {
            return Err(DpopError::Invalid("the proof was used before (jti)"));
        }
        Ok(proof)
    }

    /// The proof of a request to `path`, if it has one.
    pub async fn from_headers(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<Option<Proof>, DpopError> {
        match Self::proof_header(headers)? {
            None => Ok(None),
            Some(proof) => self.verify(proof, method, path, access_token).await.map(Some),
        }
    }
}
