//! Every setting, declared once: a field with its doc comment (what
//! `config/latchkey.example.toml` and the README's table say about it), its
//! default (`#[default(..)]`), its unit (the type: [`Seconds`], [`Millis`],
//! [`Days`]) and its range (`#[schemars(range(..))]`, checked by the loader).
//! Rules that involve more than one value sit in the section's `validate`.
//!
//! The loader, the environment variables, the generated example file and the
//! README's table all read these declarations; nothing lists the keys again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use latchkey_core::GrantType;
use latchkey_core::ip::IpRange;
use latchkey_core::redirect_uri::is_loopback;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;
use url::Url;

use crate::error::ConfigError;
use crate::units::{Days, Millis, Seconds};

/// Latchkey configuration. Every key is shown with its default value.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Public base URL of this server; appears as `iss` in every token. https,
    /// or plain http only on a loopback host. No query, fragment or trailing
    /// slash. A path is allowed (https://id.example.com/tenant): routes live
    /// under it.
    #[default("http://localhost:8080".into())]
    pub issuer: String,

    /// Address and port to listen on.
    #[default(SocketAddr::from(([127, 0, 0, 1], 8080)))]
    #[serde(deserialize_with = "crate::de::address")]
    #[schemars(with = "String")]
    pub listen: SocketAddr,

    /// sqlite://PATH (the embedded default; `serve` and `migrate` create the
    /// file and its folder, other commands need it to exist; a relative PATH
    /// is looked up in the directory each process runs in) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE. `--database-url` overrides
    /// it.
    #[default("sqlite://./data/latchkey.db".into())]
    pub database_url: String,

    /// Redis for the hot state shared by replicas: sessions, pending sign-ins,
    /// authorization codes, the access-token denylist and rate-limit counters
    /// (every key with a TTL). redis://[:PASSWORD@]HOST:PORT/DB, or rediss://
    /// for TLS. Empty: all of it lives in the SQL database (fine for one
    /// server).
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,

    /// On SIGTERM, stop accepting connections and let in-flight requests
    /// finish for at most this many seconds before exiting.
    #[default(Seconds::new(30))]
    #[schemars(range(max = 3_600))]
    pub shutdown_timeout_seconds: Seconds,

    /// "text" or "json" (one JSON object per line, for log shippers).
    pub log_format: LogFormat,

    /// A tracing filter: error, warn, info, debug, or per module
    /// ("info,latchkey_server=debug"). LATCHKEY_LOG overrides it.
    #[default("info".into())]
    pub log_level: String,

    pub database: Database,
    pub redis: Redis,
    pub login: Login,
    pub cache: Cache,
    pub metrics: Metrics,
    pub keys: Keys,
    pub tokens: Tokens,
    pub device: Device,
    pub pkce: Pkce,
    pub par: Par,
    pub dpop: Dpop,
    pub fapi2: Fapi2,
    pub sessions: Sessions,
    pub mfa: Mfa,
    pub gc: Gc,
    pub audit: Audit,
    pub ui: Ui,
    pub account: Account,
    pub email: Email,
    pub signup: Signup,
    pub password: Password,
    pub registration: Registration,
    pub http: Http,
    pub discovery: Discovery,
    pub admin: Admin,

    /// Upstream OpenID Connect providers (enterprise SSO; docs/federation.md).
    /// Any number of [[upstream]] tables; these are read from this file only,
    /// except the client secret, which may also come from
    /// LATCHKEY_UPSTREAM_<ID>_CLIENT_SECRET. Register this redirect URI
    /// upstream: <issuer>/upstream/<id>/callback
    #[serde(rename = "upstream")]
    pub upstreams: Vec<Upstream>,
}

impl Config {
    /// Checks what the types and ranges cannot: each section's own rules,
    /// then those between sections. The first problem is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_issuer(&self.issuer)?;
        if let Some(url) = &self.redis_url {
            let supported = ["redis://", "rediss://", "redis+unix://"].iter().any(|s| url.starts_with(s));
            if !supported {
                return Err(ConfigError::new(
                    "redis_url",
                    format!("{:?} is not supported; use redis://HOST:PORT/DB or rediss:// (TLS)", redact(url)),
                ));
            }
            if Url::parse(url).is_err() {
                return Err(ConfigError::new("redis_url", format!("{:?} is not a URL", redact(url))));
            }
            self.redis.validate()?;
        }
        for (i, upstream) in self.upstreams.iter().enumerate() {
            upstream.validate(i, &self.upstreams[..i])?;
        }
        self.login.validate(!self.upstreams.is_empty())?;
        latchkey_core::user::validate_groups(&self.mfa.required_groups)
            .map_err(|why| ConfigError::new("mfa.required_groups", why))?;
        self.registration.validate()?;
        self.keys.validate()?;
        self.ui.validate()?;
        self.account.validate()?;
        self.email.validate()?;
        self.signup.validate(&self.email)?;
        self.admin.validate(self.listen)?;
        Ok(())
    }

    /// The issuer's path without a trailing slash ("" for a host-only issuer).
    pub fn issuer_path(&self) -> String {
        Url::parse(&self.issuer).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default()
    }

    /// Cookies are `Secure` (and the session cookie `__Host-`) on an https issuer.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// In-memory caches, if they are on: `auto` turns them on without Redis
    /// only (replicas sharing Redis see one another's revocations at once; a
    /// per-process cache would delay that).
    pub fn caches_on(&self) -> bool {
        match self.cache.mode {
            CacheMode::Auto => self.redis_url.is_none(),
            CacheMode::On => true,
            CacheMode::Off => false,
        }
    }

    /// How long a retired key must stay published: until every token it
    /// signed has expired and every cached JWKS has been refreshed.
    pub fn retired_key_grace(&self) -> i64 {
        self.tokens.access_token_ttl_seconds.secs().max(self.tokens.id_token_ttl_seconds.secs())
            + self.keys.jwks_max_age_seconds.secs()
            + self.keys.refresh_interval_seconds.secs()
    }
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The SQL database's connection pool.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// Connections in the pool.
    #[default(8)]
    #[schemars(range(min = 1, max = 1_000))]
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails.
    #[default(Seconds::new(5))]
    #[schemars(range(min = 1, max = 300))]
    pub acquire_timeout_seconds: Seconds,
}

/// Redis (used when `redis_url` is set).
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    /// Prepended to every key, so that several deployments can share one Redis.
    #[default("latchkey:".into())]
    pub key_prefix: String,
    /// Bound on connecting to Redis and on each command. While Redis is
    /// unreachable, requests that need it fail with 503 after at most this
    /// long.
    #[default(Millis::new(1_000))]
    #[schemars(range(min = 10, max = 60_000))]
    pub timeout_ms: Millis,
}

impl Redis {
    fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.key_prefix;
        if p.is_empty() || p.len() > 64 || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::new("redis.key_prefix", "must be 1 to 64 characters without spaces"));
        }
        Ok(())
    }
}

/// Sign-in limits (docs/operations.md, "Sign-in limits"), counted across all
/// replicas. Only failed password checks count (a wrong password, an unknown
/// username, a disabled account); a correct password never does, and it
/// clears that account's failures. The same limits apply to /account's
/// sign-in and to its password change.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Login {
    /// Failures of one account (by username, in any case) before it is
    /// locked. While locked, every attempt is refused without a password
    /// check, with the same page whether or not the account exists. 10 leaves
    /// room for many typos; an operator can unlock early: `latchkey user
    /// unlock USERNAME` or DELETE /admin/api/v1/users/{id}/lock. 0 = accounts
    /// are never locked. (The old name `max_attempts = N` still works, with a
    /// warning.)
    #[default(10)]
    #[schemars(range(max = 1_000_000))]
    pub max_failures: u64,
    /// Failures from one source address across all accounts (password
    /// spraying) before that address is refused until its count ends. High
    /// enough for an office behind one NAT address; set http.trusted_proxies
    /// so that a load balancer's address is not everyone's. IPv6 addresses
    /// count per /64. 0 = no address limit.
    #[default(100)]
    #[schemars(range(max = 1_000_000))]
    pub max_failures_per_address: u64,
    /// A count lasts this long from its first failure (or until its lock
    /// ends).
    #[default(Seconds::new(900))]
    #[schemars(range(min = 1, max = 86_400))]
    pub window_seconds: Seconds,
    /// The first lock of an account. Every further failure while the count
    /// lasts (an attempt while locked included) doubles it, up to
    /// max_lock_seconds, so a guesser gets only a few more than max_failures
    /// guesses per window.
    #[default(Seconds::new(60))]
    #[schemars(range(min = 1, max = 86_400))]
    pub lock_seconds: Seconds,
    /// The longest lock; at least lock_seconds.
    #[default(Seconds::new(900))]
    #[schemars(range(min = 1, max = 604_800))]
    pub max_lock_seconds: Seconds,
    /// Offer the username/password form on the login page. false leaves only
    /// the upstream providers below (at least one must be configured).
    #[default(true)]
    pub password_enabled: bool,
    /// How long a sign-in in progress stays valid: the login and consent pages
    /// of one authorization request, and a detour through an upstream
    /// provider. After it, the person starts again at the application.
    #[default(Seconds::new(600))]
    #[schemars(range(min = 60, max = 86_400))]
    pub interaction_ttl_seconds: Seconds,
}

impl Login {
    fn validate(&self, upstreams: bool) -> Result<(), ConfigError> {
        if self.max_lock_seconds < self.lock_seconds {
            return Err(ConfigError::new(
                "login.max_lock_seconds",
                format!(
                    "{} is shorter than login.lock_seconds ({})",
                    self.max_lock_seconds.get(),
                    self.lock_seconds.get()
                ),
            ));
        }
        if !self.password_enabled && !upstreams {
            return Err(ConfigError::new(
                "login.password_enabled",
                "false leaves no way to sign in: configure an [[upstream]] provider",
            ));
        }
        Ok(())
    }

    /// The limits as the lockout rules read them.
    pub fn lock_policy(&self) -> latchkey_core::lockout::LockPolicy {
        let secs = |s: Seconds| u32::try_from(s.get()).unwrap_or(u32::MAX);
        latchkey_core::lockout::LockPolicy {
            max_failures: self.max_failures,
            max_failures_per_address: self.max_failures_per_address,
            window_seconds: secs(self.window_seconds),
            lock_seconds: secs(self.lock_seconds),
            max_lock_seconds: secs(self.max_lock_seconds),
        }
    }
}

/// The device authorization grant (RFC 8628; docs/device-and-exchange.md):
/// clients registered for urn:ietf:params:oauth:grant-type:device_code.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Device {
    /// Lifetime of a device code and its user code: how long the person has
    /// to enter the code at /device, sign in and approve.
    #[default(Seconds::new(600))]
    #[schemars(range(min = 10, max = 3_600))]
    pub code_ttl_seconds: Seconds,
    /// Seconds a device waits between polls of the token endpoint at first;
    /// each slow_down adds 5 (RFC 8628 §3.5).
    #[default(Seconds::new(5))]
    #[schemars(range(min = 1, max = 60))]
    pub interval_seconds: Seconds,
    /// Wrong user codes entered at /device from one source address (IPv6:
    /// per /64) before that address is refused until its count ends. With 8
    /// characters from 20 letters (20^8 ≈ 2.6 × 10^10 codes), a guesser
    /// gets this many tries per window; a person who mistypes a few times
    /// is never stopped. 0 = no limit (not recommended).
    #[default(20)]
    #[schemars(range(max = 1_000_000))]
    pub user_code_max_failures: u64,
    /// A count of wrong user codes lasts this long from its first failure.
    #[default(Seconds::new(900))]
    #[schemars(range(min = 1, max = 86_400))]
    pub user_code_window_seconds: Seconds,
    /// Device authorization requests from one source address per minute
    /// (answered 429 beyond it), so that pending requests stay bounded. 60
    /// leaves room for an office of devices behind one NAT address. 0 = no
    /// limit.
    #[default(60)]
    #[schemars(range(max = 1_000_000))]
    pub max_per_address_per_minute: u64,
}

impl Device {
    /// The limit on wrong user codes, as `latchkey_domain::device` reads it.
    pub fn user_code_policy(&self) -> (u64, u32) {
        (self.user_code_max_failures, u32::try_from(self.user_code_window_seconds.get()).unwrap_or(u32::MAX))
    }
}

/// In-memory caches of the rows read on every introspection and UserInfo
/// request: clients, users and "is this access token revoked" answers. A
/// change made through this server applies at once; a change made by another
/// process (the CLI, another replica) applies after at most poll_interval_ms,
/// when this server reads the change feed (the `changes` table).
/// max_age_seconds bounds how long any entry is trusted without being read
/// again.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// "auto" = on without Redis, off with Redis (replicas sharing Redis then
    /// see one another's revocations on the next request); "on"; "off".
    pub mode: CacheMode,
    /// How often a server reads the change feed.
    #[default(Millis::new(250))]
    #[schemars(range(min = 10, max = 60_000))]
    pub poll_interval_ms: Millis,
    /// How long an entry is trusted at most.
    #[default(Seconds::new(60))]
    #[schemars(range(min = 1, max = 3_600))]
    pub max_age_seconds: Seconds,
}

/// Whether the in-memory caches are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    #[default]
    Auto,
    On,
    Off,
}

/// Prometheus metrics.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Prometheus metrics at GET /metrics (at the host root): request counts
    /// and latencies by route, tokens issued, sign-ins, refresh-token reuse,
    /// store errors, key ages. Labels never carry ids or tokens. Restrict
    /// access to it at your load balancer if it must not be public.
    #[default(true)]
    pub enabled: bool,
}

/// Signing keys.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    /// Signing algorithm of access tokens: RS256, PS256, ES256 or EdDSA
    /// (Ed25519); one of `algorithms`. ID tokens, logout tokens, signed
    /// UserInfo and JARM responses use what each client registered
    /// (`id_token_signed_response_alg`, ...), else RS256.
    pub algorithm: SigningAlgorithm,
    /// The algorithms signing keys are kept for, each with its own next,
    /// active and retired keys that rotate together (RS256 is always among
    /// them: it is OpenID Connect's default). The JWKS publishes them all
    /// and discovery lists them; clients may register any of them.
    #[default(vec![SigningAlgorithm::RS256])]
    pub algorithms: Vec<SigningAlgorithm>,
    /// RSA modulus size of newly generated keys: 2048, 3072 or 4096.
    #[default(2048)]
    pub rsa_bits: u32,
    /// How often every server re-reads the keys from the database; a rotation
    /// takes effect everywhere within this interval.
    #[default(Seconds::new(30))]
    #[schemars(range(min = 1, max = 3_600))]
    pub refresh_interval_seconds: Seconds,
    /// `latchkey keys rotate` refuses (without --force) to promote a key that
    /// has been published for less than this, so that resource servers that
    /// cache the JWKS already know it when it starts signing.
    #[default(Seconds::new(600))]
    #[schemars(range(max = 2_592_000))]
    pub min_publish_seconds: Seconds,
    /// Cache-Control max-age of the JWKS.
    #[default(Seconds::new(300))]
    #[schemars(range(max = 86_400))]
    pub jwks_max_age_seconds: Seconds,
    /// 32-byte key (base64 or 64 hex digits) that encrypts private signing
    /// keys at rest with AES-256-GCM, and from which the secrets of
    /// client_secret_jwt clients are derived (that method is offered only when
    /// it is set). Empty: keys stored unencrypted. Keep it out of this file in
    /// production: LATCHKEY_KEYS_ENCRYPTION_KEY or encryption_key_file.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
    /// A file holding that key instead (set one of the two).
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub encryption_key_file: Option<PathBuf>,
}

impl Keys {
    fn validate(&self) -> Result<(), ConfigError> {
        if ![2048, 3072, 4096].contains(&self.rsa_bits) {
            return Err(ConfigError::new(
                "keys.rsa_bits",
                format!("{} is not supported; use 2048, 3072 or 4096", self.rsa_bits),
            ));
        }
        if !self.algorithms.contains(&SigningAlgorithm::RS256) {
            return Err(ConfigError::new(
                "keys.algorithms",
                "must include RS256 (the default of OpenID Connect, which clients that name no algorithm expect)",
            ));
        }
        if !self.algorithms.contains(&self.algorithm) {
            return Err(ConfigError::new(
                "keys.algorithm",
                format!("{:?} is not among keys.algorithms; add it there", self.algorithm),
            ));
        }
        if self.encryption_key.is_some() && self.encryption_key_file.is_some() {
            return Err(ConfigError::new(
                "keys.encryption_key",
                "set either keys.encryption_key or keys.encryption_key_file, not both",
            ));
        }
        Ok(())
    }
}

/// The algorithms keys can sign with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SigningAlgorithm {
    #[default]
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl SigningAlgorithm {
    /// The JWS `alg` value (RFC 7518, RFC 8037).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

/// Lifetimes of codes and tokens, and how refresh tokens behave.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    /// Lifetime of access tokens.
    #[default(Seconds::new(900))]
    #[schemars(range(min = 1, max = 86_400))]
    pub access_token_ttl_seconds: Seconds,
    /// Lifetime of ID tokens.
    #[default(Seconds::new(3_600))]
    #[schemars(range(min = 1, max = 86_400))]
    pub id_token_ttl_seconds: Seconds,
    /// Lifetime of authorization codes; each code is single-use.
    #[default(Seconds::new(60))]
    #[schemars(range(min = 1, max = 600))]
    pub code_ttl_seconds: Seconds,
    /// Absolute lifetime of a refresh token family: rotation never extends a
    /// grant past this.
    #[default(Seconds::new(30 * 86_400))]
    #[schemars(range(min = 60, max = 31_536_000))]
    pub refresh_token_ttl_seconds: Seconds,
    /// A refresh token not used for this long expires.
    #[default(Seconds::new(30 * 86_400))]
    #[schemars(range(min = 60, max = 31_536_000))]
    pub refresh_idle_ttl_seconds: Seconds,
    /// Refresh tokens rotate on every use; presenting a spent one revokes the
    /// whole family. A duplicate refresh arriving within this many seconds
    /// instead gets the same successor (for mobile clients on flaky networks).
    /// 0 = off.
    #[default(Seconds::new(0))]
    #[schemars(range(max = 300))]
    pub refresh_grace_seconds: Seconds,
    /// Give refresh tokens to non-OpenID requests of clients registered for
    /// the refresh_token grant even without offline_access (they end with the
    /// session).
    pub refresh_without_offline_access: bool,
    /// `aud` of access tokens. Empty: the issuer.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub default_audience: Option<String>,
}

/// PKCE.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Pkce {
    /// PKCE (S256) is always required for public clients. Set to false to let
    /// confidential clients omit it (not recommended: RFC 9700 advises PKCE
    /// for all).
    #[default(true)]
    pub require_for_confidential: bool,
}

/// Two-step verification (docs/mfa.md): who must give a second factor. A
/// person who must and has none sets one up right after the password; apps
/// can require it too (client metadata require_mfa, default_acr_values) and
/// ask for it per request (acr_values).
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Mfa {
    /// Everyone gives a second factor at sign-in.
    pub required: bool,
    /// Members of any of these groups give a second factor at sign-in.
    #[schemars(example = examples::groups())]
    pub required_groups: Vec<String>,
    /// On /account, turning two-step verification off or making new
    /// recovery codes asks for a current code, unless the session gave a
    /// second factor this recently.
    #[default(Seconds::new(300))]
    #[schemars(range(max = 86_400))]
    pub fresh_seconds: Seconds,
}

impl Mfa {
    /// Whether the operator requires a second factor of a person in `groups`.
    pub fn required_for(&self, groups: &[String]) -> bool {
        self.required || groups.iter().any(|g| self.required_groups.contains(g))
    }
}

/// The FAPI 2.0 Security Profile (docs/advanced-protocols.md, "FAPI 2.0").
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Fapi2 {
    /// New clients (CLI, admin API, registration) follow the FAPI 2.0
    /// Security Profile unless they say otherwise (docs/advanced-protocols.md, "FAPI 2.0"); clients
    /// that register themselves cannot opt out. Existing clients keep
    /// their setting (`latchkey client update ID --fapi2`).
    #[default(false)]
    pub default_for_new_clients: bool,
}

/// Pushed authorization requests (RFC 9126; docs/par-jar.md): clients POST
/// the authorization request's parameters to /par and send the browser to
/// /authorize with only client_id and the request_uri they got back.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Par {
    /// How long a request_uri from /par may be brought to /authorize (it
    /// works once). The browser follows it at once, so a minute is plenty.
    #[default(Seconds::new(60))]
    #[schemars(range(min = 5, max = 600))]
    pub request_uri_ttl_seconds: Seconds,
    /// Every client must push its authorization requests: /authorize
    /// without a request_uri from /par is refused. Without it, a client is
    /// held to it by its require_pushed_authorization_requests metadata.
    #[default(false)]
    pub required: bool,
}

/// DPoP (RFC 9449; docs/advanced-protocols.md): access tokens bound to a
/// key the client proves it holds with each request.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Dpop {
    /// How far a DPoP proof's iat may lie from this server's clock, either
    /// way. A proof is made just before its request; the window covers clock
    /// skew and slow networks.
    #[default(Seconds::new(120))]
    #[schemars(range(min = 5, max = 600))]
    pub iat_window_seconds: Seconds,
    /// Every DPoP proof must carry a nonce this server gave (the DPoP-Nonce
    /// response header; a proof without a current one is answered
    /// use_dpop_nonce). Replicas accept each other's nonces when they share
    /// keys.encryption_key.
    #[default(false)]
    pub require_nonce: bool,
    /// A nonce is accepted for this long to twice this.
    #[default(Seconds::new(300))]
    #[schemars(range(min = 10, max = 3_600))]
    pub nonce_lifetime_seconds: Seconds,
}

/// Sign-in sessions.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// How long a sign-in lasts at most.
    #[default(Seconds::new(7 * 86_400))]
    #[schemars(range(min = 60, max = 31_536_000))]
    pub ttl_seconds: Seconds,
    /// A session not used for this long ends.
    #[default(Seconds::new(86_400))]
    #[schemars(range(min = 60, max = 31_536_000))]
    pub idle_ttl_seconds: Seconds,
    /// Which refresh tokens end with a session (logout, timeout, `latchkey
    /// session revoke`): "session_bound" (those issued without
    /// offline_access; offline tokens survive, as OpenID Connect intends),
    /// "all", or "none".
    pub end_revokes: EndRevokes,
}

/// Which refresh tokens end with a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndRevokes {
    /// Those not issued for offline access (the OIDC intent; default).
    #[default]
    SessionBound,
    /// All refresh tokens issued in the session.
    All,
    /// None: refresh tokens live their own life.
    #[serde(rename = "none")]
    Nothing,
}

/// Garbage collection of expired records.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Gc {
    /// How often expired codes, sessions, refresh tokens and denylist entries
    /// are deleted. On SQLite each pass also returns up to batch_size free
    /// pages to the file system (incremental auto-vacuum; docs/operations.md,
    /// "How much each table keeps").
    #[default(Seconds::new(60))]
    #[schemars(range(min = 1, max = 86_400))]
    pub interval_seconds: Seconds,
    /// At most how many records of each kind one pass deletes.
    #[default(1_000)]
    #[schemars(range(min = 1, max = 100_000))]
    pub batch_size: u32,
}

/// The audit log.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// Audit events older than this many days are deleted by the garbage
    /// collection, at most gc.batch_size per pass. 0 keeps them forever
    /// (delete or ship them yourself).
    #[default(Days::new(365))]
    #[schemars(range(max = 36_500))]
    pub retention_days: Days,
}

impl Audit {
    /// How long events are kept, if not forever.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (!self.retention_days.is_zero()).then(|| self.retention_days.duration())
    }
}

/// The pages people see.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Ui {
    /// Product name shown on the login and consent pages (1 to 60
    /// characters).
    #[default("Latchkey".into())]
    pub product_name: String,
    /// Logo shown on the pages (https URL). Empty: none.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Or a logo file (.png, .svg, .webp, .jpg), read at startup and served
    /// from our own origin (docs/branding.md). Set logo_uri or logo_file,
    /// not both.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub logo_file: Option<PathBuf>,
    /// Favicon file (.png, .svg, .ico), served from our own origin.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub favicon_file: Option<PathBuf>,
    /// An extra stylesheet (.css file), read at startup and served from our
    /// own origin after Latchkey's, so that its rules win.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub stylesheet: Option<PathBuf>,
    /// A directory of templates that replace the built-in pages and
    /// emails of the same name (Jinja syntax; docs/branding.md). Checked at
    /// startup: a template that does not parse or uses an unknown variable
    /// stops the server.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<PathBuf>,
    /// Colours of the pages, as hex colours (`#1f6feb` or `#17b`), each
    /// replacing one of Latchkey's (docs/branding.md); empty: Latchkey's.
    /// The color_dark_ ones apply when the browser prefers a dark scheme,
    /// the others otherwise. color_accent: Buttons, links and focus rings.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_accent: Option<String>,
    /// Text on accent-coloured buttons.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_accent_text: Option<String>,
    /// The page behind the card.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_background: Option<String>,
    /// The card that holds the form.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_card: Option<String>,
    /// Text.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_text: Option<String>,
    /// Secondary text (hints, the product name).
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_muted: Option<String>,
    /// Borders of the card and the inputs.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_border: Option<String>,
    /// Error messages.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_danger: Option<String>,
    /// color_accent in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_accent: Option<String>,
    /// color_accent_text in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_accent_text: Option<String>,
    /// color_background in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_background: Option<String>,
    /// color_card in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_card: Option<String>,
    /// color_text in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_text: Option<String>,
    /// color_muted in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_muted: Option<String>,
    /// color_border in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_border: Option<String>,
    /// color_danger in dark mode.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub color_dark_danger: Option<String>,
}

impl Ui {
    /// The CSS custom property each colour sets (templates/assets/latchkey.css),
    /// its key, its value, and whether it is a dark-mode colour.
    pub fn colors(&self) -> Vec<(&'static str, &'static str, Option<&str>, bool)> {
        vec![
            ("--accent", "color_accent", self.color_accent.as_deref(), false),
            ("--accent-fg", "color_accent_text", self.color_accent_text.as_deref(), false),
            ("--bg", "color_background", self.color_background.as_deref(), false),
            ("--card", "color_card", self.color_card.as_deref(), false),
            ("--fg", "color_text", self.color_text.as_deref(), false),
            ("--muted", "color_muted", self.color_muted.as_deref(), false),
            ("--border", "color_border", self.color_border.as_deref(), false),
            ("--danger", "color_danger", self.color_danger.as_deref(), false),
            ("--accent", "color_dark_accent", self.color_dark_accent.as_deref(), true),
            ("--accent-fg", "color_dark_accent_text", self.color_dark_accent_text.as_deref(), true),
            ("--bg", "color_dark_background", self.color_dark_background.as_deref(), true),
            ("--card", "color_dark_card", self.color_dark_card.as_deref(), true),
            ("--fg", "color_dark_text", self.color_dark_text.as_deref(), true),
            ("--muted", "color_dark_muted", self.color_dark_muted.as_deref(), true),
            ("--border", "color_dark_border", self.color_dark_border.as_deref(), true),
            ("--danger", "color_dark_danger", self.color_dark_danger.as_deref(), true),
        ]
    }

    fn validate_colors(&self) -> Result<(), ConfigError> {
        for (_, key, value, _) in self.colors() {
            if let Some(value) = value
                && !is_hex_colour(value)
            {
                return Err(ConfigError::new(
                    &format!("ui.{key}"),
                    format!("{value:?} is not a hex colour such as #1f6feb or #17b"),
                ));
            }
        }
        Ok(())
    }
}

/// `#rgb` or `#rrggbb`: nothing else can reach the stylesheet.
fn is_hex_colour(value: &str) -> bool {
    value
        .strip_prefix('#')
        .is_some_and(|hex| (hex.len() == 3 || hex.len() == 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The extensions `ui.logo_file` may have.
pub const LOGO_EXTENSIONS: &[&str] = &["png", "svg", "webp", "jpg", "jpeg"];
/// The extensions `ui.favicon_file` may have.
pub const FAVICON_EXTENSIONS: &[&str] = &["png", "svg", "ico"];

impl Ui {
    fn validate(&self) -> Result<(), ConfigError> {
        let name = self.product_name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(ConfigError::new("ui.product_name", "must be 1 to 60 characters"));
        }
        if let Some(uri) = &self.logo_uri {
            latchkey_core::redirect_uri::validate_web_uri(uri, false)
                .map_err(|why| ConfigError::new("ui.logo_uri", format!("{uri:?} {why}")))?;
        }
        if self.logo_uri.is_some() && self.logo_file.is_some() {
            return Err(ConfigError::new("ui.logo_file", "set ui.logo_uri or ui.logo_file, not both"));
        }
        let extension = |key: &str, path: &Option<PathBuf>, allowed: &[&str]| {
            let Some(path) = path else { return Ok(()) };
            let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
            if allowed.contains(&ext.as_str()) {
                Ok(())
            } else {
                Err(ConfigError::new(key, format!("{} must be a .{} file", path.display(), allowed.join(", ."))))
            }
        };
        extension("ui.logo_file", &self.logo_file, LOGO_EXTENSIONS)?;
        extension("ui.favicon_file", &self.favicon_file, FAVICON_EXTENSIONS)?;
        extension("ui.stylesheet", &self.stylesheet, &["css"])?;
        self.validate_colors()
    }
}

/// The account page people manage themselves at (`/account`).
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Account {
    /// Claims people may change on /account (docs/account.md): any of name,
    /// given_name, family_name, middle_name, nickname, profile, picture,
    /// website, gender, birthdate, zoneinfo, locale, address. The email
    /// address has its own form, which verifies it (docs/self-service.md);
    /// phone numbers are not editable (nothing verifies them yet). Empty:
    /// none (the profile section is not shown). Claims
    /// an upstream provider maps are overwritten at its next sign-in when
    /// it refreshes them.
    #[default(DEFAULT_EDITABLE_CLAIMS.iter().map(|c| c.to_string()).collect())]
    pub editable_claims: Vec<String>,
}

/// Outgoing email (docs/self-service.md): address verification and password
/// reset. Without smtp_url and from, both are off and the pages say so.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    /// The SMTP server: smtp://HOST:PORT (plain, for a relay on this host or
    /// network), smtp+starttls://HOST:PORT (usually 587) or smtps://HOST:PORT
    /// (TLS from the start, usually 465). A user name and password may be in
    /// the URL (smtp+starttls://USER:PASSWORD@HOST:587, percent-encoded) or
    /// in smtp_username and smtp_password. Empty: no email.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The SMTP user name, when it is not in smtp_url.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    /// The SMTP password, when it is not in smtp_url.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    /// The sender: "id@example.com" or "Example ID <id@example.com>".
    pub from: String,
    /// Bound on connecting to the SMTP server and on each command.
    #[default(Seconds::new(15))]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_seconds: Seconds,
    /// Attempts to deliver one email before it is given up (logged as an
    /// error); the wait between attempts doubles from 5 seconds up to an hour.
    #[default(10)]
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: u32,
    /// How long a link to verify an email address works (once).
    #[default(Seconds::new(86_400))]
    #[schemars(range(min = 300, max = 2_592_000))]
    pub verification_ttl_seconds: Seconds,
    /// How long a password reset link works (once).
    #[default(Seconds::new(1_800))]
    #[schemars(range(min = 60, max = 86_400))]
    pub password_reset_ttl_seconds: Seconds,
    /// Emails (reset links, new verification links) per account per window;
    /// requests beyond it get the same answer and send nothing.
    #[default(5)]
    #[schemars(range(min = 1, max = 1_000))]
    pub max_per_account: u64,
    /// Password reset requests per source address per window, whatever
    /// account they name; beyond it the page answers 429.
    #[default(30)]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_per_address: u64,
    /// The window of max_per_account and max_per_address.
    #[default(Seconds::new(3_600))]
    #[schemars(range(min = 60, max = 86_400))]
    pub rate_window_seconds: Seconds,
}

impl Email {
    /// Whether email is configured (the self-service features that need it are on).
    pub fn enabled(&self) -> bool {
        self.smtp_url.is_some() && !self.from.trim().is_empty()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.smtp_url {
            let parsed = Url::parse(url)
                .map_err(|_| ConfigError::new("email.smtp_url", format!("{:?} is not a URL", redact(url))))?;
            if !["smtp", "smtp+starttls", "smtps"].contains(&parsed.scheme()) {
                return Err(ConfigError::new(
                    "email.smtp_url",
                    format!(
                        "{:?} is not supported; use smtp://HOST:PORT, smtp+starttls://HOST:PORT or smtps://HOST:PORT",
                        redact(url)
                    ),
                ));
            }
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(ConfigError::new("email.smtp_url", format!("{:?} names no host", redact(url))));
            }
            if self.from.trim().is_empty() {
                return Err(ConfigError::new("email.from", "must be set when email.smtp_url is"));
            }
        }
        let from = self.from.trim();
        if !from.is_empty() {
            let address = match (from.find('<'), from.strip_suffix('>')) {
                (Some(i), Some(rest)) => &rest[i + 1..],
                _ => from,
            };
            if latchkey_core::user::validate_email(address).is_err() {
                return Err(ConfigError::new(
                    "email.from",
                    format!("{from:?} is not an address; use id@example.com or \"Name <id@example.com>\""),
                ));
            }
        }
        Ok(())
    }
}

/// Who may create an account themselves (docs/self-service.md, "Sign-up
/// and invitations").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    /// Only operators create accounts (CLI, admin API, upstream providers).
    #[default]
    Closed,
    /// Only a person with an invitation (`latchkey invite create`, the admin
    /// API) creates an account, through its link.
    Invite,
    /// Anyone may create an account on /signup (and invitations work too).
    Open,
}

/// Sign-up: people creating their own accounts.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Signup {
    /// "closed" (operators create accounts), "invite" (only through an
    /// invitation's link) or "open" (anyone, on /signup; invitations work
    /// too).
    pub mode: SignupMode,
    /// Open sign-up takes only addresses at these domains (e.g.
    /// ["example.com"]; subdomains are not included). Empty: any domain.
    /// Invitations are not limited by it.
    pub allowed_email_domains: Vec<String>,
    /// Accounts made by open sign-up get no token until their address is
    /// confirmed through the emailed link (the sign-in shows a page that
    /// says so, with a resend button). Needs email (email.smtp_url): with
    /// mode = "open" and no email, set it to false or the server does not
    /// start. Invitations prove the address already.
    #[default(true)]
    pub require_verified_email: bool,
    /// How long an invitation's link works (once), unless it is created
    /// with its own expiry.
    #[default(Seconds::new(604_800))]
    #[schemars(range(min = 300, max = 7_776_000))]
    pub invitation_ttl_seconds: Seconds,
    /// Sign-up attempts per source address per window (IPv6 per /64);
    /// beyond it the page answers 429. A failed attempt (a taken username,
    /// a refused password) counts too.
    #[default(20)]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_per_address: u64,
    /// The window of max_per_address.
    #[default(Seconds::new(3_600))]
    #[schemars(range(min = 60, max = 86_400))]
    pub rate_window_seconds: Seconds,
}

impl Signup {
    fn validate(&self, email: &Email) -> Result<(), ConfigError> {
        if self.mode == SignupMode::Open && self.require_verified_email && !email.enabled() {
            return Err(ConfigError::new(
                "signup.require_verified_email",
                "open sign-up that needs a confirmed address needs email: set email.smtp_url and email.from, \
                 or set signup.require_verified_email = false",
            ));
        }
        for domain in &self.allowed_email_domains {
            let d = domain.trim();
            if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) || !d.contains('.') {
                return Err(ConfigError::new(
                    "signup.allowed_email_domains",
                    format!("{domain:?} is not a domain; use a name like example.com"),
                ));
            }
        }
        Ok(())
    }

    /// The allowed domains, lower-cased.
    pub fn allowed_email_domains(&self) -> Vec<String> {
        self.allowed_email_domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect()
    }
}

/// The rules of new passwords, wherever one is set (sign-up, invitations,
/// reset, /account, the CLI and the admin API): NIST SP 800-63B, a minimum
/// length and no commonly used password; no composition rules.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Password {
    /// The fewest characters of a new password. Up to 1024 bytes are
    /// always accepted, so passphrases fit.
    #[default(8)]
    #[schemars(range(min = 8, max = 128))]
    pub min_length: u32,
    /// Refuse the 20,000 most common passwords (a list shipped in the
    /// binary), ignoring case.
    #[default(true)]
    pub refuse_common: bool,
}

impl Password {
    /// The policy these settings make.
    pub fn policy(&self) -> latchkey_core::password::Policy {
        latchkey_core::password::Policy { min_length: self.min_length as usize, refuse_common: self.refuse_common }
    }
}

/// What people may edit by default: the profile, not what proves who they are.
const DEFAULT_EDITABLE_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
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
];

/// The claims `account.editable_claims` may name.
pub const SELF_EDITABLE_CLAIMS: &[&str] = DEFAULT_EDITABLE_CLAIMS;

impl Account {
    fn validate(&self) -> Result<(), ConfigError> {
        for claim in &self.editable_claims {
            if !SELF_EDITABLE_CLAIMS.contains(&claim.as_str()) {
                return Err(ConfigError::new(
                    "account.editable_claims",
                    format!("{claim:?} cannot be edited by people; use any of {}", SELF_EDITABLE_CLAIMS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The string claims (`latchkey_core::profile::STRING_CLAIMS` names)
    /// people may set: `address` stands for its parts.
    pub fn editable_string_claims(&self) -> Vec<&'static str> {
        latchkey_core::profile::STRING_CLAIMS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| {
                let listed = name.split('.').next().unwrap_or(name);
                self.editable_claims.iter().any(|c| c == listed)
            })
            .collect()
    }
}

/// Dynamic client registration (RFC 7591).
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Registration {
    /// "closed", "token" (requires the initial access token below as
    /// `Authorization: Bearer ...`) or "open". Empty: "token" when a token is
    /// set, else "closed".
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub mode: Option<RegistrationModeName>,
    /// Initial access token, at least 16 characters. Also
    /// LATCHKEY_REGISTRATION_TOKEN.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub initial_access_token: Option<String>,
    /// Accept plain-http redirect URIs on non-loopback hosts (development
    /// only).
    pub allow_insecure_redirects: bool,
    /// Hosts of http(s) redirect URIs of clients that register themselves
    /// (here and through RFC 7592; clients created with the CLI are not
    /// limited; empty lists allow anything): "app.example", or
    /// "*.app.example" for its subdomains. In the environment, lists are
    /// comma-separated.
    pub allowed_redirect_hosts: Vec<String>,
    /// Redirect URI schemes, e.g. ["https", "com.example.app"].
    pub allowed_redirect_schemes: Vec<String>,
    /// Grant types, e.g. ["authorization_code", "refresh_token"]. Token
    /// exchange ("urn:ietf:params:oauth:grant-type:token-exchange") is open
    /// to self-registered clients only when this list names it.
    #[schemars(with = "Vec<String>")]
    pub allowed_grant_types: Vec<GrantType>,
    /// Scopes a client may register; a client that asks for none gets the
    /// default scope narrowed to these.
    pub allowed_scopes: Vec<String>,
    /// Anonymous registrations (open mode, or a wrong initial access token)
    /// per source address per window (0 = no limit); answered 429 beyond it.
    /// The address is the peer's, or X-Forwarded-For's when the peer is one
    /// of http.trusted_proxies. Registrations with the initial access token
    /// are not limited: whoever holds it may provision as many clients as it
    /// needs.
    #[default(20)]
    #[schemars(range(max = 1_000_000))]
    pub max_per_address: u64,
    /// The window of max_per_address.
    #[default(Seconds::new(3_600))]
    #[schemars(range(min = 1, max = 604_800))]
    pub window_seconds: Seconds,
    /// A JWK Set file of the public keys (RSA >= 2048 bits or EC P-256) of the
    /// parties trusted to sign software statements (RFC 7591 §2.3,
    /// docs/registration.md): signed JWTs whose claims are client metadata and
    /// win over the request body's. Without it, every statement is refused
    /// (unapproved_software_statement).
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub software_statement_jwks_file: Option<PathBuf>,
    /// Accepted `iss` values of statements; empty: any issuer whose key
    /// verifies.
    pub software_statement_issuers: Vec<String>,
    /// Refuse registrations (and RFC 7592 replacements) that carry no
    /// statement (invalid_software_statement). Needs
    /// software_statement_jwks_file.
    pub software_statement_required: bool,
}

/// How `registration.mode` may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationModeName {
    Closed,
    Token,
    Open,
}

/// Who may use the registration endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationMode {
    Closed,
    Token(String),
    Open,
}

impl Registration {
    /// Who may register, from `mode` and the initial access token.
    pub fn mode(&self) -> RegistrationMode {
        use RegistrationModeName as N;
        match (self.mode, &self.initial_access_token) {
            (None, None) | (Some(N::Closed), _) => RegistrationMode::Closed,
            (None | Some(N::Token), Some(token)) => RegistrationMode::Token(token.clone()),
            (Some(N::Token), None) => RegistrationMode::Closed, // refused by validate
            (Some(N::Open), _) => RegistrationMode::Open,
        }
    }

    /// The limits on clients that register themselves.
    pub fn self_registration(&self) -> latchkey_core::SelfRegistrationPolicy {
        latchkey_core::SelfRegistrationPolicy {
            redirect_hosts: self.allowed_redirect_hosts.clone(),
            redirect_schemes: self.allowed_redirect_schemes.iter().map(|s| s.to_ascii_lowercase()).collect(),
            grant_types: self.allowed_grant_types.clone(),
            scopes: self.allowed_scopes.clone(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match (self.mode, &self.initial_access_token) {
            (Some(RegistrationModeName::Token), None) => {
                return Err(ConfigError::new(
                    "registration.mode",
                    "is token but no registration.initial_access_token (LATCHKEY_REGISTRATION_TOKEN) is set",
                ));
            }
            (None | Some(RegistrationModeName::Token), Some(token)) if token.len() < 16 => {
                return Err(ConfigError::new(
                    "registration.initial_access_token",
                    "is shorter than 16 characters; use a long random value",
                ));
            }
            _ => {}
        }
        for scope in &self.allowed_scopes {
            latchkey_core::Scope::parse(scope).ok().filter(|s| s.iter().count() == 1).ok_or_else(|| {
                ConfigError::new("registration.allowed_scopes", format!("{scope:?} is not one scope"))
            })?;
        }
        for host in &self.allowed_redirect_hosts {
            let bare = host.strip_prefix("*.").unwrap_or(host);
            if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) || bare != bare.to_ascii_lowercase() {
                return Err(ConfigError::new(
                    "registration.allowed_redirect_hosts",
                    format!("{host:?}: use a lower-case host name, or *.name for its subdomains"),
                ));
            }
        }
        const FILE: &str = "registration.software_statement_jwks_file";
        let keys = self.software_statement_jwks_file.is_some();
        if self.software_statement_required && !keys {
            return Err(ConfigError::new(
                "registration.software_statement_required",
                format!("is true but no {FILE} names the keys that may sign them"),
            ));
        }
        if !self.software_statement_issuers.is_empty() && !keys {
            return Err(ConfigError::new(
                "registration.software_statement_issuers",
                format!("is set but no {FILE} names the issuers' keys"),
            ));
        }
        if let Some(iss) =
            self.software_statement_issuers.iter().find(|i| i.trim().is_empty() || i.trim() != i.as_str())
        {
            return Err(ConfigError::new(
                "registration.software_statement_issuers",
                format!("{iss:?} is not an issuer (empty, or with spaces around it)"),
            ));
        }
        Ok(())
    }
}

/// Connections and the proxies in front.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Load balancers and proxies in front of Latchkey: addresses or CIDR
    /// blocks ("10.0.0.0/8"). Only from these is X-Forwarded-For believed;
    /// without them every request seems to come from the proxy.
    #[schemars(with = "Vec<String>")]
    pub trusted_proxies: Vec<IpRange>,
    /// Time a client has to send a request's headers (from the request's first
    /// byte or from the connection's opening): slow clients are cut off.
    #[default(Seconds::new(10))]
    #[schemars(range(min = 1, max = 300))]
    pub header_read_timeout_seconds: Seconds,
    /// An idle keep-alive connection is closed after this. Keep it longer than
    /// your load balancer's idle timeout to its backends (nginx upstream
    /// keepalive_timeout, an AWS ALB's idle timeout: 60 s).
    #[default(Seconds::new(75))]
    #[schemars(range(min = 1, max = 3_600))]
    pub keepalive_timeout_seconds: Seconds,
    /// Request line and headers together, in bytes; larger requests get 431.
    /// At least hyper's 8 KiB read buffer.
    #[default(32 * 1024)]
    #[schemars(range(min = 8_192, max = 1_048_576))]
    pub max_header_bytes: usize,
    /// Connections open at once; more wait in the kernel's accept queue. Each
    /// one is a file descriptor: raise the process's limit with it (ulimit -n,
    /// LimitNOFILE= in systemd; docs/operations.md, "Connections").
    #[default(4_096)]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_connections: u32,
}

/// The discovery documents.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Discovery {
    /// Cache-Control max-age of the discovery documents.
    #[default(Seconds::new(3_600))]
    #[schemars(range(max = 86_400))]
    pub max_age_seconds: Seconds,
}

/// The admin API.
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// The admin API under /admin/api/v1 (docs/admin-api.md): JSON for
    /// clients, users, consents, sessions, signing keys and the audit log, for
    /// bearer tokens made with `latchkey admin token create`. Off by default:
    /// while disabled, /admin/api/v1/* answers 404.
    pub enabled: bool,
    /// A separate listener for the admin API and the console only, e.g.
    /// "127.0.0.1:9001" (keep it off the internet). Empty: both are served on
    /// the public listener.
    #[serde(deserialize_with = "crate::de::optional_address", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub listen: Option<SocketAddr>,
    /// The admin console in the browser at /admin (docs/admin-console.md):
    /// dashboard, clients, users, sessions, signing keys and the audit log.
    /// Admins sign in through Latchkey itself (every sign-in policy applies),
    /// and only members of `console_groups` get in. Served on `listen` when
    /// that is set, else on the public listener. Off by default.
    pub console: bool,
    /// Which groups may use the console, and with which role: "read-only"
    /// (sees everything, changes nothing), "support" (also account
    /// operations: unlock, reset a password, end sessions, remove second
    /// factors, disable and enable) or "full" (also clients and signing keys).
    /// A person in several groups gets the strongest role. Example:
    /// console_groups = { "it-admins" = "full", "helpdesk" = "support" }; in
    /// the environment: it-admins=full,helpdesk=support.
    #[serde(deserialize_with = "crate::de::group_roles")]
    #[schemars(example = &console_groups_example())]
    pub console_groups: BTreeMap<String, ConsoleRole>,
    /// The URL browsers reach the console at, e.g.
    /// "https://admin.example.com/admin" (its sign-in callback is
    /// <console_url>/callback). Empty: the issuer's origin with /admin, which
    /// fits a console on the public listener; set it when the console is on
    /// `listen` (http is accepted on a loopback host only).
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

fn console_groups_example() -> BTreeMap<String, ConsoleRole> {
    BTreeMap::from([
        ("auditors".to_string(), ConsoleRole::ReadOnly),
        ("helpdesk".to_string(), ConsoleRole::Support),
        ("it-admins".to_string(), ConsoleRole::Full),
    ])
}

/// What an admin may do in the console (docs/admin-console.md has the full
/// matrix). Ordered: each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConsoleRole {
    /// Sees every page; changes nothing.
    ReadOnly,
    /// Also the account operations of a support desk.
    Support,
    /// Also clients and signing keys.
    Full,
}

impl ConsoleRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Support => "support",
            Self::Full => "full",
        }
    }
}

/// Where the admin API is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminListener {
    /// `admin.enabled = false`: `/admin/api/v1` does not exist.
    Disabled,
    /// On the public listener.
    Public,
    /// On its own listener only.
    Separate(SocketAddr),
}

impl Admin {
    pub fn listener(&self) -> AdminListener {
        match (self.enabled, self.listen) {
            (false, _) => AdminListener::Disabled,
            (true, None) => AdminListener::Public,
            (true, Some(addr)) => AdminListener::Separate(addr),
        }
    }

    /// Where the console is served (`Disabled` while `console` is off).
    pub fn console_listener(&self) -> AdminListener {
        match (self.console, self.listen) {
            (false, _) => AdminListener::Disabled,
            (true, None) => AdminListener::Public,
            (true, Some(addr)) => AdminListener::Separate(addr),
        }
    }

    /// The console's base URL (no trailing slash): `console_url`, or the
    /// issuer's origin with `/admin`.
    pub fn console_base_url(&self, issuer: &str) -> String {
        match &self.console_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => match Url::parse(issuer) {
                Ok(u) => format!("{}/admin", u.origin().ascii_serialization()),
                Err(_) => "/admin".to_string(),
            },
        }
    }

    fn validate(&self, public: SocketAddr) -> Result<(), ConfigError> {
        if self.console {
            if self.console_groups.is_empty() {
                return Err(ConfigError::new(
                    "admin.console_groups",
                    "is empty, so nobody could use the console; map at least one group to a role, \
                     e.g. console_groups = { \"it-admins\" = \"full\" }",
                ));
            }
            let groups: Vec<String> = self.console_groups.keys().cloned().collect();
            latchkey_core::user::validate_groups(&groups)
                .map_err(|why| ConfigError::new("admin.console_groups", why))?;
        }
        if let Some(url) = &self.console_url {
            let parsed = Url::parse(url).map_err(|e| ConfigError::new("admin.console_url", format!("{url:?}: {e}")))?;
            let loopback_http = parsed.scheme() == "http" && is_loopback(&parsed);
            if parsed.scheme() != "https" && !loopback_http {
                return Err(ConfigError::new("admin.console_url", "must be https (http only on a loopback host)"));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(ConfigError::new("admin.console_url", "must have no query or fragment"));
            }
        }
        match (self.enabled || self.console, self.listen) {
            (false, Some(_)) => Err(ConfigError::new(
                "admin.listen",
                "is set but neither admin.enabled nor admin.console is; enable the admin API or the console",
            )),
            (true, Some(addr)) if addr == public => Err(ConfigError::new(
                "admin.listen",
                "is the public listener's address; leave it empty to serve the admin API there",
            )),
            _ => Ok(()),
        }
    }
}

/// One `[[upstream]]` table: an OpenID Connect provider people may sign in
/// with (docs/federation.md).
#[derive(Debug, Clone, SmartDefault, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Lowercase letters, digits and '-'; part of the callback URL.
    #[schemars(example = &"corp")]
    pub id: String,
    /// The provider's name on pages. Default: the id.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Corp SSO")]
    pub display_name: Option<String>,
    /// Default: "Sign in with <display_name>".
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Sign in with Corp SSO")]
    pub button_label: Option<String>,
    /// Exactly the provider's `iss`.
    #[schemars(example = &"https://login.corp.example")]
    pub issuer: String,
    /// Latchkey's client id at the provider (required).
    #[schemars(example = &"latchkey")]
    pub client_id: String,
    /// Or client_secret_file = "/run/secrets/corp", or
    /// LATCHKEY_UPSTREAM_<ID>_CLIENT_SECRET.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// Or private_key_jwt: an RSA key (PEM) whose public half is registered
    /// upstream.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// The `kid` of that key.
    #[serde(deserialize_with = "crate::de::empty_is_none", skip_serializing_if = "Option::is_none")]
    pub private_key_id: Option<String>,
    /// Scopes asked for; must include openid.
    #[default(vec!["openid".into(), "email".into(), "profile".into()])]
    pub scopes: Vec<String>,
    /// Home-realm discovery: these addresses go here.
    #[schemars(example = examples::domains())]
    pub email_domains: Vec<String>,
    /// Provisioning only for these domains (empty: any).
    pub allowed_email_domains: Vec<String>,
    /// Provisioning needs email_verified = true.
    #[default(true)]
    pub require_email_verified: bool,
    /// Create accounts on first sign-in.
    #[default(true)]
    pub provisioning: bool,
    /// email (as mapped), sub, or any string claim (preferred_username, upn…).
    #[default("email".into())]
    pub username_claim: String,
    /// `[upstream.claims]`, after its [[upstream]]: Latchkey claim = upstream
    /// claim name. By default each standard claim comes from the same name,
    /// groups from nowhere (Entra app roles: groups = "roles"); "" takes a
    /// claim from nowhere.
    #[schemars(example = examples::claims())]
    pub claims: BTreeMap<String, String>,
    /// Groups of every account this upstream provisions.
    pub default_groups: Vec<String>,
    /// Refresh mapped claims on sign-in: provisioned, always or never.
    pub update_claims: ClaimUpdate,
    /// Also read UserInfo after the code exchange.
    #[default(true)]
    pub userinfo: bool,
    /// Count the provider's second factor as ours: when its ID token's amr
    /// names mfa (or its acr is phr, phrh or urn:latchkey:acr:mfa), the
    /// session has two factors. false: a person with a local second factor,
    /// or one the policy requires, gives it here after the provider.
    pub trust_upstream_mfa: bool,
    /// How often the provider's discovery document and keys are read again.
    #[default(Seconds::new(3_600))]
    #[schemars(range(min = 60, max = 86_400))]
    pub metadata_refresh_seconds: Seconds,
    /// Bound on every request to the provider.
    #[default(Seconds::new(5))]
    #[schemars(range(min = 1, max = 60))]
    pub timeout_seconds: Seconds,
}

/// When an upstream account's mapped claims are copied again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimUpdate {
    /// Only for accounts this upstream created.
    #[default]
    Provisioned,
    /// At every sign-in, for every linked account.
    Always,
    /// Never after the first.
    Never,
}

impl Upstream {
    /// Checks what needs no file and no other crate; `earlier` are the tables
    /// before this one.
    fn validate(&self, index: usize, earlier: &[Upstream]) -> Result<(), ConfigError> {
        let err = |field: &str, message: String| ConfigError::upstream(index, field, message);
        let id = &self.id;
        let id_ok = !id.is_empty()
            && id.len() <= 32
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(err("id", format!("{id:?}: 1 to 32 lowercase letters, digits or '-'")));
        }
        if earlier.iter().any(|o| o.id == *id) {
            return Err(err("id", format!("{id:?} is used twice")));
        }
        let issuer = Url::parse(&self.issuer).map_err(|_| err("issuer", format!("{:?} is not a URL", self.issuer)))?;
        if issuer.scheme() != "https" && !(issuer.scheme() == "http" && is_loopback(&issuer)) {
            return Err(err("issuer", format!("{:?} must be https (plain http only on loopback)", self.issuer)));
        }
        if self.client_id.is_empty() {
            return Err(err("client_id", "is required".into()));
        }
        if self.client_secret.is_some() && self.client_secret_file.is_some() {
            return Err(err("client_secret", "set client_secret or client_secret_file, not both".into()));
        }
        if self.private_key_file.is_some() && (self.client_secret.is_some() || self.client_secret_file.is_some()) {
            return Err(err("private_key_file", "set a client secret or a private key, not both".into()));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(err("scopes", "must include openid".into()));
        }
        if !is_claim_name(&self.username_claim) {
            return Err(err(
                "username_claim",
                format!("{:?}: name an upstream claim (email, preferred_username, sub, upn…)", self.username_claim),
            ));
        }
        for (claim, source) in &self.claims {
            if !source.is_empty() && !is_claim_name(source) {
                return Err(err(
                    &format!("claims.{claim}"),
                    format!("{source:?} is not a claim name (1 to 64 characters, no white space)"),
                ));
            }
        }
        for (field, list) in
            [("email_domains", &self.email_domains), ("allowed_email_domains", &self.allowed_email_domains)]
        {
            if let Some(d) = list
                .iter()
                .map(|d| d.trim())
                .find(|d| d.is_empty() || d.contains('@') || d.contains(char::is_whitespace))
            {
                return Err(err(field, format!("{:?} is not a domain", d.to_ascii_lowercase())));
            }
        }
        for d in self.email_domains() {
            if let Some(other) = earlier.iter().find(|o| o.email_domains().contains(&d)) {
                return Err(err("email_domains", format!("{d} already goes to upstream {:?}", other.id)));
            }
        }
        Ok(())
    }

    /// The home-realm domains, lower-cased.
    pub fn email_domains(&self) -> Vec<String> {
        self.email_domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect()
    }

    /// The provisioning domains, lower-cased.
    pub fn allowed_email_domains(&self) -> Vec<String> {
        self.allowed_email_domains.iter().map(|d| d.trim().to_ascii_lowercase()).collect()
    }

    pub fn display_name(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| self.id.clone())
    }

    pub fn button_label(&self) -> String {
        self.button_label.clone().unwrap_or_else(|| format!("Sign in with {}", self.display_name()))
    }
}

/// Values shown in the example `[[upstream]]` table.
mod examples {
    pub fn groups() -> Vec<&'static str> {
        vec!["admins"]
    }

    pub fn domains() -> Vec<&'static str> {
        vec!["corp.example"]
    }

    pub fn claims() -> std::collections::BTreeMap<&'static str, &'static str> {
        [("email", "email"), ("name", "name"), ("groups", "groups")].into()
    }
}

fn is_claim_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && !n.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The issuer must be an https URL (plain http only on loopback) with no
/// query, fragment or trailing slash (OIDC Discovery §3, RFC 8414 §2).
fn validate_issuer(raw: &str) -> Result<(), ConfigError> {
    let err = |m: &str| ConfigError::new("issuer", format!("{raw:?} {m}"));
    let url = Url::parse(raw).map_err(|_| err("is not an absolute URL such as https://id.example.com"))?;
    if raw.contains('?') || url.query().is_some() {
        return Err(err("must not contain a query"));
    }
    if raw.contains('#') {
        return Err(err("must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("must not contain user information"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(err("uses plain http on a non-loopback host; use https")),
        _ => return Err(err("must use https")),
    }
    if raw.ends_with('/') {
        return Err(err("must not end with a slash"));
    }
    Ok(())
}

/// A URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Accepted while its name lives on: the key it became.
pub struct Renamed {
    pub old: &'static str,
    pub new: &'static str,
    /// Why it changed, for the warning.
    pub note: &'static str,
}

/// Keys that were renamed. The old name still works, with a warning; setting
/// both is an error naming both.
pub const RENAMED: &[Renamed] =
    &[Renamed { old: "login.max_attempts", new: "login.max_failures", note: "and counts failed sign-ins only" }];

/// Shorter names for the most used variables: (variable, key).
pub const ALIASES: &[(&str, &str)] = &[("LATCHKEY_REGISTRATION_TOKEN", "registration.initial_access_token")];

/// The environment variable holding an upstream's client secret.
pub fn upstream_secret_env(id: &str) -> String {
    format!("LATCHKEY_UPSTREAM_{}_CLIENT_SECRET", id.replace('-', "_").to_uppercase())
}
