//! Keys that clients publish at their `jwks_uri`: fetched with a timeout and
//! a size limit, checked like registered keys, cached, and fetched again
//! early (at most every `min_refetch`) when an assertion names a key id the
//! cache does not hold (the client rotated).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use latchkey_core::client_keys::{MAX_JWKS_BYTES, validate_client_jwks};
use serde_json::Value;

/// How keys are fetched.
#[derive(Debug, Clone, Copy)]
pub struct KeyFetchSettings {
    /// The whole fetch, connect to last byte.
    pub timeout: Duration,
    /// How long fetched keys are used before they are fetched again.
    pub cache_for: Duration,
    /// The least time between two fetches of one URI.
    pub min_refetch: Duration,
}

impl Default for KeyFetchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            cache_for: Duration::from_secs(300),
            min_refetch: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFetchError {
    #[error("fetching {uri}: {why}")]
    Fetch { uri: String, why: String },
    #[error("{uri} is not an acceptable key set: {why}")]
    Invalid { uri: String, why: String },
}

struct Entry {
    jwks: Arc<Value>,
    fetched: Instant,
    /// When a caller last asked for fresh keys (an unknown `kid`).
    forced: Option<Instant>,
}

struct Inner {
    settings: KeyFetchSettings,
    http: OnceLock<reqwest::Client>,
    cache: Mutex<HashMap<String, Entry>>,
    /// One fetch at a time: concurrent assertions of one client wait for the
    /// first fetch instead of each making their own.
    fetching: tokio::sync::Mutex<()>,
}

/// The cache of client key sets, shared by every request.
#[derive(Clone)]
pub struct ClientKeys(Arc<Inner>);

impl ClientKeys {
    pub fn new(settings: KeyFetchSettings) -> Self {
        Self(Arc::new(Inner {
            settings,
            http: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    fn http(&self) -> &reqwest::Client {
        self.0.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.0.settings.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client with a timeout builds")
        })
    }

    /// The cached set if it may be used: younger than `cache_for`; for a
    /// caller that wants fresh keys, only while the last such fetch is
    /// younger than `min_refetch` (so a `kid` that exists nowhere cannot make
    /// every request fetch).
    fn cached(&self, uri: &str, fresh: bool) -> Option<Arc<Value>> {
        let cache = self.0.cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.get(uri)?;
        let usable = if fresh {
            entry.forced.is_some_and(|at| at.elapsed() < self.0.settings.min_refetch)
        } else {
            entry.fetched.elapsed() < self.0.settings.cache_for
        };
        usable.then(|| entry.jwks.clone())
    }

    /// The key set at `uri`; `fresh` fetches it again unless that was done
    /// less than `min_refetch` ago. If a fetch fails, keys fetched earlier
    /// are used.
    pub async fn get(&self, uri: &str, fresh: bool) -> Result<Arc<Value>, KeyFetchError> {
        if let Some(jwks) = self.cached(uri, fresh) {
            return Ok(jwks);
        }
        let _one_at_a_time = self.0.fetching.lock().await;
        if let Some(jwks) = self.cached(uri, fresh) {
            return Ok(jwks);
        }
        match self.fetch(uri).await {
            Ok(jwks) => {
                let jwks = Arc::new(jwks);
                let mut cache = self.0.cache.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                cache.insert(uri.to_string(), Entry { jwks: jwks.clone(), fetched: now, forced: fresh.then_some(now) });
                Ok(jwks)
            }
            Err(e) => {
                tracing::warn!(error = %e, "client key set not fetched");
                let mut cache = self.0.cache.lock().unwrap_or_else(|p| p.into_inner());
                let entry = cache.get_mut(uri).ok_or(e)?;
                if fresh {
                    entry.forced = Some(Instant::now()); // failures count against the limit too
                }
                Ok(entry.jwks.clone())
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<Value, KeyFetchError> {
        let fail = |why: String| KeyFetchError::Fetch { uri: uri.to_string(), why };
        let mut res = self
            .http()
            .get(uri)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| fail(if e.is_timeout() { "timed out".into() } else { "cannot connect".into() }))?;
        if !res.status().is_success() {
            return Err(fail(format!("status {}", res.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|_| fail("connection lost".into()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(fail(format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let invalid = |why: String| KeyFetchError::Invalid { uri: uri.to_string(), why };
        let jwks: Value = serde_json::from_slice(&body).map_err(|_| invalid("not JSON".into()))?;
        validate_client_jwks(&jwks).map_err(invalid)?;
        Ok(jwks)
    }
}
