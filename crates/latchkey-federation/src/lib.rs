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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_core::profile::{self, ClaimKind};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LoginHint, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde_json::{Map, Value};
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
    /// Which upstream claim becomes the local username: `email` (the
    /// mapped email), `sub`, or the name of any string claim
    /// (`preferred_username`, `upn`…).
    pub username_claim: String,
    /// Which upstream claim fills which Latchkey claim.
    pub claims: ClaimMap,
    /// Groups of every account this upstream provisions.
    pub default_groups: Vec<String>,
    /// Whose claims are refreshed from the upstream on each sign-in.
    pub update_claims: ClaimUpdate,
    /// Fetch UserInfo after the code exchange (when the upstream has one).
    pub userinfo: bool,
    /// How long discovery metadata and keys are trusted before a refresh.
    pub metadata_refresh: Duration,
    /// Timeout of every request to the upstream.
    pub timeout: Duration,
}

/// Latchkey claims that an upstream claim can fill (`[upstream.claims]`).
pub const MAPPABLE_CLAIMS: &[&str] = &[
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "phone_number",
    "phone_number_verified",
    "middle_name",
    "nickname",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "address",
    "groups",
];

/// The mappable claims beyond names, email and phone: strings, each checked
/// by the rule of its kind (`latchkey_core::profile`); a value that breaks
/// it is left out, as a control character in a name is.
pub const PROFILE_CLAIMS: &[&str] =
    &["middle_name", "nickname", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale"];

/// For each Latchkey claim, the name of the upstream claim (top level of
/// the ID token merged with UserInfo) that fills it; `None`: not taken from
/// the upstream. By default each standard claim comes from the claim of the
/// same name, and groups from nowhere (importing group membership, which
/// apps authorize by, is an explicit decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMap(Vec<(&'static str, Option<String>)>);

impl Default for ClaimMap {
    fn default() -> Self {
        Self(MAPPABLE_CLAIMS.iter().map(|&c| (c, (c != "groups").then(|| c.to_string()))).collect())
    }
}

impl ClaimMap {
    /// The upstream claim that fills `claim`, if any.
    pub fn source(&self, claim: &str) -> Option<&str> {
        self.0.iter().find(|(c, _)| *c == claim).and_then(|(_, s)| s.as_deref())
    }

    /// Maps `claim` to `upstream` (`None`: do not take it from the upstream).
    pub fn set(&mut self, claim: &str, upstream: Option<String>) -> Result<(), String> {
        let slot = self.0.iter_mut().find(|(c, _)| *c == claim).ok_or_else(|| {
            format!("{claim:?} is not a Latchkey claim that can be mapped: use one of {}", MAPPABLE_CLAIMS.join(", "))
        })?;
        slot.1 = upstream;
        Ok(())
    }
}

/// Whose claims a sign-in through the upstream refreshes (the mapped ones).
pub use latchkey_config::ClaimUpdate;

impl UpstreamSettings {
    /// The `index`-th `[[upstream]]` table, with its secret or private key
    /// read from their files and its claim mapping checked. The table's own
    /// rules were checked when the configuration was loaded.
    pub fn from_config(index: usize, u: &latchkey_config::Upstream) -> Result<Self, latchkey_config::ConfigError> {
        let err = |field: &str, message: String| latchkey_config::ConfigError::upstream(index, field, message);
        let read = |field: &str, file: &std::path::Path| {
            std::fs::read_to_string(file).map_err(|e| err(field, format!("cannot read {}: {e}", file.display())))
        };
        let client_secret = match (&u.client_secret, &u.client_secret_file) {
            (Some(secret), _) => Some(secret.clone()),
            (None, Some(file)) => Some(read("client_secret_file", file)?.trim().to_string()),
            (None, None) => None,
        };
        let private_key = match &u.private_key_file {
            None => None,
            Some(file) => {
                let key = PrivateKey { pem: read("private_key_file", file)?, kid: u.private_key_id.clone() };
                key.validate().map_err(|e| {
                    err("private_key_file", format!("{}: not an RSA private key ({e})", file.display()))
                })?;
                Some(key)
            }
        };
        let mut claims = ClaimMap::default();
        for (claim, source) in &u.claims {
            claims
                .set(claim, (!source.is_empty()).then(|| source.clone()))
                .map_err(|e| err(&format!("claims.{claim}"), e))?;
        }
        let default_groups =
            latchkey_core::user::validate_groups(&u.default_groups).map_err(|e| err("default_groups", e))?;
        Ok(Self {
            id: u.id.clone(),
            display_name: u.display_name(),
            button_label: u.button_label(),
            // Exactly as configured: it must equal the ID tokens' `iss`.
            issuer: u.issuer.clone(),
            client_id: u.client_id.clone(),
            client_secret,
            private_key,
            scopes: u.scopes.clone(),
            email_domains: u.email_domains(),
            allowed_email_domains: u.allowed_email_domains(),
            require_email_verified: u.require_email_verified,
            provisioning: u.provisioning,
            username_claim: u.username_claim.clone(),
            claims,
            default_groups,
            update_claims: u.update_claims,
            userinfo: u.userinfo,
            metadata_refresh: u.metadata_refresh_seconds.duration(),
            timeout: u.timeout_seconds.duration(),
        })
    }
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

/// The person as the upstream vouches for them, its claims already mapped
/// to Latchkey's (`UpstreamSettings::claims`); a claim that is not mapped,
/// absent or unusable is `None` / `false` / empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    /// The mapped claims of [`PROFILE_CLAIMS`] that the upstream sent valid
    /// values of, normalised.
    pub profile: Vec<(&'static str, String)>,
    /// The mapped `address`, its text parts (OIDC Core §5.1.1).
    pub address: Option<latchkey_core::Address>,
    /// The mapped groups claim as sent (names not yet checked).
    pub groups: Vec<String>,
    /// The value of `username_claim`.
    pub username: Option<String>,
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
        let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
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
        // Every claim as sent, non-standard ones (`roles`, `mail`…) included:
        // the payload of the ID token whose signature and claims were just
        // verified (the library's typed claims keep only standard ones).
        let mut claims = latchkey_core::jws::decode_unverified(&id_token.to_string())
            .map_err(|_| FederationError::Invalid("ID token payload is not a JSON object".into()))?
            .payload;
        if self.settings.userinfo && client.user_info(tokens.access_token().clone(), None).is_ok() {
            let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
                .user_info(tokens.access_token().clone(), Some(verified.subject().clone()))
                .map_err(|e| FederationError::Invalid(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| FederationError::Invalid(format!("UserInfo failed: {}", error_chain(&e))))?;
            let info = match serde_json::to_value(&info) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            merge_userinfo(&mut claims, info, &self.settings.claims);
        }
        let mut identity = map_claims(&self.settings, &claims);
        identity.issuer = verified.issuer().to_string();
        identity.subject = verified.subject().to_string();
        identity.amr =
            verified.auth_method_refs().map(|v| v.iter().map(|m| m.to_string()).collect()).unwrap_or_default();
        identity.acr = verified.auth_context_ref().map(|a| a.to_string());
        Ok(identity)
    }
}

/// Claims beyond the standard ones, kept as JSON (UserInfo's `roles`, `groups`…).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    rest: HashMap<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// Fills what the ID token lacked from UserInfo (whose `sub` the library
/// checked against the ID token's). The ID token wins; the email's
/// verification flag comes with the address it belongs to.
fn merge_userinfo(claims: &mut Map<String, Value>, info: Map<String, Value>, map: &ClaimMap) {
    let email = map.source("email").unwrap_or_default();
    let verified = map.source("email_verified").unwrap_or_default();
    let same_email = claims.get(email).is_none() || claims.get(email) == info.get(email);
    for (k, v) in info {
        if k == verified && !same_email {
            continue;
        }
        claims.entry(k).or_insert(v);
    }
}

/// At most 256 characters without control characters (the rule for claims
/// an operator sets); anything else from upstream is dropped.
fn text(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    (!s.is_empty() && s.chars().count() <= 256 && !s.chars().any(char::is_control)).then(|| s.to_string())
}

/// A boolean, or the strings "true"/"false" some providers send.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A list of strings, or one string (one group); other members are skipped.
fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Latchkey's view of the upstream's claims, through the claim map.
fn map_claims(s: &UpstreamSettings, claims: &Map<String, Value>) -> UpstreamIdentity {
    let get = |claim: &str| s.claims.source(claim).and_then(|name| claims.get(name));
    let email = text(get("email"));
    // An upstream's phone number in E.164 (spaces and punctuation dropped),
    // or none: Latchkey's accounts hold only international numbers.
    let phone_number = text(get("phone_number")).and_then(|p| profile::check(ClaimKind::Phone, &p).ok().flatten());
    let checked = |name: &str| {
        let kind = profile::kind_of(name)?;
        profile::check(kind, get(name)?.as_str()?).ok().flatten()
    };
    let profile = PROFILE_CLAIMS.iter().filter_map(|&name| Some((name, checked(name)?))).collect();
    let address = match get("address") {
        Some(Value::Object(parts)) => {
            let mut claims = latchkey_core::UserClaims::default();
            for (part, v) in parts {
                if let Some(v) = text(Some(v)) {
                    // Unknown members and invalid text are left out.
                    let _ = claims.set(&format!("address.{part}"), &v);
                }
            }
            claims.address
        }
        _ => None,
    };
    let username = match s.username_claim.as_str() {
        "email" => email.clone(),
        name => text(claims.get(name)),
    };
    UpstreamIdentity {
        email_verified: email.is_some() && flag(get("email_verified")),
        email,
        name: text(get("name")),
        given_name: text(get("given_name")),
        family_name: text(get("family_name")),
        phone_number_verified: phone_number.is_some() && flag(get("phone_number_verified")),
        phone_number,
        profile,
        address,
        groups: list(get("groups")),
        username,
        ..UpstreamIdentity::default()
    }
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
            claims: ClaimMap::default(),
            default_groups: Vec::new(),
            update_claims: ClaimUpdate::default(),
            userinfo: false,
            metadata_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn claims_are_mapped_by_name() {
        let mut s = settings("corp", &[]);
        s.claims.set("name", Some("displayName".into())).unwrap();
        s.claims.set("email", Some("mail".into())).unwrap();
        s.claims.set("groups", Some("roles".into())).unwrap();
        s.claims.set("family_name", None).unwrap();
        s.username_claim = "upn".into();
        let claims = serde_json::json!({
            "sub": "s1",
            "email": "ignored@example.com",
            "mail": "ann@corp.example",
            "email_verified": "true",
            "name": "ignored",
            "displayName": "Ann Example",
            "family_name": "Example",
            "given_name": "bad\u{7}name",
            "roles": ["staff", 7, "admins"],
            "upn": "ann@corp.example",
        });
        let id = map_claims(&s, claims.as_object().unwrap());
        assert_eq!(id.email.as_deref(), Some("ann@corp.example"));
        assert!(id.email_verified, "the string \"true\" counts");
        assert_eq!(id.name.as_deref(), Some("Ann Example"));
        assert_eq!(id.family_name, None, "not mapped");
        assert_eq!(id.given_name, None, "control characters: dropped");
        assert_eq!(id.groups, ["staff", "admins"]);
        assert_eq!(id.username.as_deref(), Some("ann@corp.example"));

        // One group as a plain string; no email, so not verified either.
        let claims = serde_json::json!({"roles": "staff", "email_verified": true});
        let id = map_claims(&s, claims.as_object().unwrap());
        assert_eq!((id.groups, id.email, id.email_verified), (vec!["staff".to_string()], None, false));
        // Groups are not taken from the upstream unless mapped.
        let claims = serde_json::json!({"groups": ["g"]});
        assert!(map_claims(&settings("x", &[]), claims.as_object().unwrap()).groups.is_empty());
    }

    #[test]
    fn profile_claims_are_checked_and_normalised() {
        let mut s = settings("corp", &[]);
        s.claims.set("picture", Some("photo".into())).unwrap();
        s.claims.set("website", None).unwrap();
        let claims = serde_json::json!({
            "photo": format!("https://cdn.corp.example/{}", "p".repeat(400)),
            "website": "https://ann.example",
            "locale": "en_US",
            "zoneinfo": "Mars/Base",
            "birthdate": "1990-02-30",
            "nickname": 7,
            "phone_number": "+1 (425) 555-1212",
            "address": {"locality": "Seattle", "country": "US", "planet": "Earth", "region": "bad\u{7}"},
        });
        let id = map_claims(&s, claims.as_object().unwrap());
        let got = |name: &str| id.profile.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert!(got("picture").is_some_and(|p| p.len() > 400), "a long URL from its mapped claim");
        assert_eq!(got("website"), None, "not mapped");
        assert_eq!(got("locale"), Some("en-US"), "BCP 47");
        assert_eq!((got("zoneinfo"), got("birthdate"), got("nickname")), (None, None, None), "invalid: left out");
        assert_eq!(id.phone_number.as_deref(), Some("+14255551212"), "E.164");
        let address = id.address.expect("address");
        assert_eq!((address.locality.as_deref(), address.country.as_deref()), (Some("Seattle"), Some("US")));
        assert_eq!(address.region, None, "control characters: dropped");
        let local = map_claims(&s, serde_json::json!({"phone_number": "020 7946 0958"}).as_object().unwrap());
        assert_eq!(local.phone_number, None, "not an international number");
    }

    #[test]
    fn unknown_claims_cannot_be_mapped() {
        let err = ClaimMap::default().set("shoe_size", Some("size".into())).unwrap_err();
        assert!(err.contains("\"shoe_size\" is not a Latchkey claim") && err.contains("groups"), "{err}");
    }

    #[test]
    fn userinfo_fills_gaps_and_keeps_email_and_its_flag_together() {
        let map = ClaimMap::default();
        let mut claims = serde_json::json!({"sub": "s", "email": "a@x.example"}).as_object().unwrap().clone();
        let info = serde_json::json!({"sub": "s", "email": "b@x.example", "email_verified": true, "roles": ["r"]});
        merge_userinfo(&mut claims, info.as_object().unwrap().clone(), &map);
        assert_eq!(claims["email"], "a@x.example", "the ID token wins");
        assert!(!claims.contains_key("email_verified"), "b's flag is not a's");
        assert_eq!(claims["roles"], serde_json::json!(["r"]));

        let mut claims = serde_json::json!({"sub": "s"}).as_object().unwrap().clone();
        merge_userinfo(&mut claims, info.as_object().unwrap().clone(), &map);
        assert_eq!((&claims["email"], &claims["email_verified"]), (&"b@x.example".into(), &true.into()));
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
