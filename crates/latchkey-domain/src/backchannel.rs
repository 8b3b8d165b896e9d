//! OIDC Back-Channel Logout 1.0: when a session ends, every client that
//! received tokens in it and registered a `backchannel_logout_uri` gets a
//! signed logout token, all clients at once, with bounded retries and a
//! per-request timeout. RP-initiated logout waits up to `redirect_wait` for
//! the deliveries before it redirects (so that the app the browser returns
//! to already knows); what is slower carries on in the background.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::claims::{LogoutEvents, LogoutTokenClaims};
use latchkey_core::grant::Session;
use latchkey_core::{Clock, random};
use latchkey_keys::KeyRing;
use latchkey_store::ClientStore;

/// Sends logout tokens.
#[derive(Clone)]
pub struct BackchannelNotifier {
    pub issuer: String,
    pub clients: Arc<dyn ClientStore>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    /// Built on first use: loading the system's CA certificates costs start-up
    /// time and memory that most servers, with no back-channel clients, never need.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    pub attempts: u32,
    /// How long a logout redirect waits for all deliveries together.
    pub redirect_wait: Duration,
}

impl BackchannelNotifier {
    pub fn new(issuer: String, clients: Arc<dyn ClientStore>, keys: Arc<KeyRing>, clock: Arc<dyn Clock>) -> Self {
        Self { issuer, clients, keys, clock, http: Arc::default(), attempts: 3, redirect_wait: Duration::from_secs(2) }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client")
        })
    }

    /// Notifies the session's clients in the background; the handle (done
    /// when every client has its token or gave up) lets a logout redirect or
    /// a short-lived process (the CLI) wait for delivery. Dropping it leaves
    /// the deliveries running.
    pub fn session_ended(&self, session: &Session) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let session = session.clone();
        tokio::spawn(async move {
            // One task per client: a slow or dead endpoint delays only its own token.
            let mut tasks = tokio::task::JoinSet::new();
            for client_id in session.client_ids.clone() {
                let this = this.clone();
                let session = session.clone();
                tasks.spawn(async move { this.notify(&client_id, &session).await });
            }
            while tasks.join_next().await.is_some() {}
        })
    }

    async fn notify(&self, client_id: &str, session: &Session) {
        let client = match self.clients.get_client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, client_id, "back-channel logout: cannot load client");
                return;
            }
        };
        let Some(uri) = client.settings.backchannel_logout_uri.clone() else {
            return;
        };
        let now = self.clock.now();
        let claims = LogoutTokenClaims {
            aud: client_id.into(),
            events: LogoutEvents::default(),
            exp: now + 120,
            iat: now,
            iss: self.issuer.clone(),
            jti: random::token(16),
            sid: Some(session.auth.sid.clone()),
            sub: Some(session.auth.user_id.clone()),
        };
        // Signed like the client's ID tokens (Back-Channel Logout §2.6).
        let alg = client.settings.id_token_signed_response_alg.as_deref();
        let token = match self.keys.current().signing_key_named(alg).map(|k| k.sign_jwt("logout+jwt", &claims)) {
            Some(Ok(t)) => t,
            _ => {
                tracing::error!(client_id, "back-channel logout: no signing key");
                return;
            }
        };
        for attempt in 1..=self.attempts {
            let sent = self.http().post(&uri).form(&[("logout_token", token.as_str())]).send().await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(event = "backchannel_logout", client_id, attempt, "logout token delivered");
                    return;
                }
                Ok(r) if r.status().is_client_error() => {
                    tracing::warn!(
                        client_id,
                        status = r.status().as_u16(),
                        "back-channel logout refused by the client"
                    );
                    return;
                }
                Ok(r) => tracing::warn!(client_id, attempt, status = r.status().as_u16(), "back-channel logout failed"),
                Err(e) => tracing::warn!(client_id, attempt, error = %e, "back-channel logout failed"),
            }
            if attempt < self.attempts {
                tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
            }
        }
        tracing::warn!(client_id, "back-channel logout not delivered; giving up");
    }
}
