//! Upstream OpenID Connect providers: Latchkey as a relying party of a
//! company's identity provider (Google Workspace, Entra ID, Okta, Keycloak,
//! another Latchkey…), on the `openidconnect` crate.
//!
//! One job: the protocol. Discovery (cached, refreshed, with a timeout), the
//! authorization request (PKCE S256, `state`, `nonce`), the code exchange, ID
//! token validation against the upstream's JWKS (`iss`, `aud`, `exp`,
//! signature, `nonce`), and UserInfo. What the person's upstream identity
//! means locally (linking, provisioning, sessions) is the authorization
//! crate's business.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LoginHint, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::RwLock;

/// One configured upstream provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// Lowercase letters, digits and `-`; part of the callback URL.
    pub id: String,
    pub display_name: String,
    pub button_label: String,
    pub issuer: String,
    pub client_id: String,
    /// How Latchkey authenticates at the upstream's token endpoint: a
    /// secret, a private key (`private_key_jwt`), or neither (PKCE only).
    pub client_secret: Option<String>,
    pub private_key: Option<PrivateKey>,
    pub scopes: Vec<String>,
    /// Home-realm discovery: addresses at these domains go straight here.
    pub email_domains: Vec<String>,
    /// Just-in-time provisioning creates accounts only for these email
    /// domains (empty: any).
    pub allowed_email_domains: Vec<String>,
    /// Provisioning requires `email_verified: true` from the upstream.
    pub require_email_verified: bool,
    /// Create a local account on first sign-in (else only linked accounts may sign in).
    pub provisioning: bool,
    /// Which upstream claim becomes the local username: `email`,
    /// `preferred_username` or `sub`.
    pub username_claim: String,
    /// Fetch UserInfo after the code exchange (when the upstream has one).
    pub userinfo: bool,
    /// How long discovery metadata and keys are trusted before a refresh.
    pub metadata_refresh: Duration,
    /// Timeout of every request to the upstream.
    pub timeout: Duration,
}

/// An RSA private key (PKCS#8 or PKCS#1 PEM) for `private_key_jwt` (RFC
/// 7523) at the upstream; its public half is registered there.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    pub pem: String,
    /// The `kid` of the public key at the upstream, if it has one.
    pub kid: Option<String>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Checks that the PEM is an RSA private key.
    pub fn validate(&self) -> Result<(), String> {
        josekit::jws::RS256.signer_from_pem(self.pem.as_bytes()).map(|_| ()).map_err(|e| e.to_string())
    }

    /// A client assertion for `audience` (the token endpoint), valid one minute.
    fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        use josekit::jws::JwsHeader;
        use josekit::jwt::JwtPayload;
        let signer = josekit::jws::RS256.signer_from_pem(self.pem.as_bytes()).map_err(|e| e.to_string())?;
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = &self.kid {
            header.set_key_id(kid);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut payload = JwtPayload::new();
        payload.set_issuer(client_id);
        payload.set_subject(client_id);
        payload.set_audience(vec![audience]);
        payload.set_jwt_id(CsrfToken::new_random().secret());
        // Whole seconds (josekit's own setters may write fractions).
        for (claim, at) in [("iat", now), ("exp", now + 60)] {
            payload.set_claim(claim, Some(at.into())).map_err(|e| e.to_string())?;
        }
        josekit::jwt::encode_with_signer(&payload, &header, &signer).map_err(|e| e.to_string())
    }
}

/// Why signing in upstream did not work; each maps to a page.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The upstream could not be reached or timed out (503).
    #[error("{0}")]
    Unreachable(String),
    /// The upstream answered, but not acceptably (bad token response, an ID
    /// token that fails validation, a UserInfo subject mismatch).
    #[error("{0}")]
    Invalid(String),
}

/// What to send the browser upstream with, and what to keep until it returns.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The person as the upstream vouches for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub preferred_username: Option<String>,
    /// The upstream's `amr`, when it sent one.
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

impl UpstreamIdentity {
    /// The domain of the email address, lowercased.
    pub fn email_domain(&self) -> Option<String> {
        self.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase())
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// An upstream provider with its cached metadata.
pub struct Upstream {
    pub settings: UpstreamSettings,
    redirect_uri: RedirectUrl,
    http: reqwest::Client,
    metadata: RwLock<Option<(Instant, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("id", &self.settings.id).field("issuer", &self.settings.issuer).finish()
    }
}

impl Upstream {
    /// `redirect_uri` is our callback for this provider (what the operator
    /// registers upstream).
    pub fn new(settings: UpstreamSettings, redirect_uri: &str) -> Result<Self, String> {
        let redirect_uri = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| e.to_string())?;
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
        let http = reqwest::Client::builder()
            // Never follow redirects: a token or metadata request that
            // redirects is refused, not sent somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { settings, redirect_uri, http, metadata: RwLock::new(None) })
    }

    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// Discovery metadata (with the JWKS), from the cache unless older than
    /// the refresh interval or `force`d.
    async fn metadata(&self, force: bool) -> Result<CoreProviderMetadata, FederationError> {
        if !force
            && let Some((at, m)) = self.metadata.read().await.as_ref()
            && at.elapsed() < self.settings.metadata_refresh
        {
            return Ok(m.clone());
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| FederationError::Invalid(e.to_string()))?;
        // discover_async checks that the document names this issuer.
        let fetched = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| {
            tracing::warn!(upstream = %self.settings.id, error = %error_chain(&e), "upstream discovery failed");
            FederationError::Unreachable(format!("discovery failed: {}", error_chain(&e)))
        })?;
        *self.metadata.write().await = Some((Instant::now(), fetched.clone()));
        Ok(fetched)
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Client {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// The authorization request: fresh `state`, `nonce` and PKCE verifier.
    pub async fn start(&self, login_hint: Option<&str>) -> Result<Started, FederationError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 256) {
            request = request.set_login_hint(LoginHint::new(hint.to_string()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and validates what comes back.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        let metadata = self.metadata(false).await?;
        let token_endpoint = metadata.token_endpoint().map(|u| u.to_string()).unwrap_or_default();
        let client = self.client(metadata);
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| FederationError::Invalid(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
        if let Some(key) = &self.settings.private_key {
            let assertion = key
                .assertion(&self.settings.client_id, &token_endpoint)
                .map_err(|e| FederationError::Invalid(format!("cannot sign the client assertion: {e}")))?;
            request = request
                .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .add_extra_param("client_assertion", assertion);
        }
        let tokens = request.request_async(&self.http).await.map_err(|e| match &e {
            openidconnect::RequestTokenError::Request(_) => {
                FederationError::Unreachable(format!("token request failed: {}", error_chain(&e)))
            }
            _ => FederationError::Invalid(format!("token request refused: {}", error_chain(&e))),
        })?;
        let id_token = tokens.id_token().ok_or_else(|| FederationError::Invalid("no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // A key the cached JWKS lacks (the upstream rotated): fetch the
            // metadata and keys again, once.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.client(self.metadata(true).await?);
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| FederationError::Invalid(format!("ID token rejected: {}", error_chain(&e))))?
                    .clone()
            }
            Err(e) => return Err(FederationError::Invalid(format!("ID token rejected: {}", error_chain(&e)))),
        };
        let mut identity = identity_of(&claims);
        if self.settings.userinfo && client.user_info(tokens.access_token().clone(), None).is_ok() {
            let info: CoreUserInfoClaims = client
                .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| FederationError::Invalid(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| FederationError::Invalid(format!("UserInfo failed: {}", error_chain(&e))))?;
            merge_userinfo(&mut identity, &info);
        }
        Ok(identity)
    }
}

fn identity_of(claims: &CoreIdTokenClaims) -> UpstreamIdentity {
    UpstreamIdentity {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        given_name: claims.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        family_name: claims.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        preferred_username: claims.preferred_username().map(|u| u.to_string()),
        amr: claims.auth_method_refs().map(|v| v.iter().map(|m| m.to_string()).collect()).unwrap_or_default(),
        acr: claims.auth_context_ref().map(|a| a.to_string()),
    }
}

/// Fills what the ID token lacked from UserInfo (whose `sub` the library
/// checked against the ID token's).
fn merge_userinfo(identity: &mut UpstreamIdentity, info: &CoreUserInfoClaims) {
    if identity.email.is_none()
        && let Some(email) = info.email()
    {
        identity.email = Some(email.to_string());
        identity.email_verified = info.email_verified().unwrap_or(false);
    }
    let fill = |slot: &mut Option<String>, value: Option<String>| {
        if slot.is_none() {
            *slot = value;
        }
    };
    fill(&mut identity.name, info.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
    fill(&mut identity.given_name, info.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()));
    fill(&mut identity.family_name, info.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()));
    fill(&mut identity.preferred_username, info.preferred_username().map(|u| u.to_string()));
}

/// An error with its sources, on one line (library errors nest the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Every configured upstream, in configuration order.
#[derive(Debug, Default, Clone)]
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
}

impl Upstreams {
    pub fn new(list: Vec<Upstream>) -> Self {
        Self { list: list.into_iter().map(Arc::new).collect() }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.list.iter().find(|u| u.settings.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.list.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Home-realm discovery: the provider for the domain of `address`.
    pub fn for_address(&self, address: &str) -> Option<&Arc<Upstream>> {
        let (_, domain) = address.rsplit_once('@')?;
        let domain = domain.to_ascii_lowercase();
        self.list.iter().find(|u| u.settings.email_domains.contains(&domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(id: &str, domains: &[&str]) -> UpstreamSettings {
        UpstreamSettings {
            id: id.into(),
            display_name: id.into(),
            button_label: id.into(),
            issuer: "https://idp.example".into(),
            client_id: "c".into(),
            client_secret: None,
            private_key: None,
            scopes: vec!["openid".into()],
            email_domains: domains.iter().map(|d| d.to_string()).collect(),
            allowed_email_domains: Vec::new(),
            require_email_verified: true,
            provisioning: true,
            username_claim: "email".into(),
            userinfo: false,
            metadata_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn home_realm_discovery_matches_the_domain_ignoring_case() {
        let upstreams = Upstreams::new(vec![
            Upstream::new(settings("corp", &["corp.example"]), "http://127.0.0.1/upstream/corp/callback").unwrap(),
            Upstream::new(settings("other", &["other.example"]), "http://127.0.0.1/upstream/other/callback").unwrap(),
        ]);
        assert_eq!(upstreams.for_address("ann@Corp.Example").map(|u| u.settings.id.as_str()), Some("corp"));
        assert_eq!(upstreams.for_address("bob@other.example").map(|u| u.settings.id.as_str()), Some("other"));
        assert!(upstreams.for_address("carol@elsewhere.example").is_none());
        assert!(upstreams.for_address("no-at-sign").is_none());
        assert!(upstreams.for_address("x@corp.example.evil").is_none());
    }
}
