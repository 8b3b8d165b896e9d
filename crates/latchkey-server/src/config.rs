//! Configuration: defaults, then the TOML file, then `LATCHKEY_*` environment
//! variables; validated as a whole before anything opens a port. Every key is
//! documented in `config/latchkey.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use latchkey_core::redirect_uri::is_loopback;
use latchkey_keys::EncryptionKey;
use serde::Deserialize;
use url::Url;

/// A configuration problem, named by its key so that the operator knows what
/// to fix, and by its place in the configuration file when it was set there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub key: String,
    pub env: String,
    pub message: String,
    /// `FILE:LINE:COLUMN` of the key, when the file sets it.
    pub at: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "`{}` ({}): {}", self.key, self.env, self.message)
    }
}

impl ConfigError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Self { key: key.to_string(), env: env_name(key), message: message.into(), at: None }
    }
}

/// The environment variable for a key: `keys.rsa_bits` → `LATCHKEY_KEYS_RSA_BITS`.
pub fn env_name(key: &str) -> String {
    format!("LATCHKEY_{}", key.replace('.', "_").to_uppercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Bool,
    /// A list of strings; in the environment, comma-separated.
    List,
}

/// Every key that can be set, with its type; used to read the environment
/// and checked against the example config by a test.
const KEYS: &[(&str, Kind)] = &[
    ("issuer", Kind::Str),
    ("listen", Kind::Str),
    ("database_url", Kind::Str),
    ("redis_url", Kind::Str),
    ("log_format", Kind::Str),
    ("log_level", Kind::Str),
    ("database.max_connections", Kind::Int),
    ("database.acquire_timeout_seconds", Kind::Int),
    ("redis.key_prefix", Kind::Str),
    ("redis.timeout_ms", Kind::Int),
    ("login.max_failures", Kind::Int),
    ("login.max_failures_per_address", Kind::Int),
    ("login.window_seconds", Kind::Int),
    ("login.lock_seconds", Kind::Int),
    ("login.max_lock_seconds", Kind::Int),
    // The old name of login.max_failures, still accepted.
    ("login.max_attempts", Kind::Int),
    ("login.password_enabled", Kind::Bool),
    ("login.interaction_ttl_seconds", Kind::Int),
    ("audit.retention_days", Kind::Int),
    ("cache.mode", Kind::Str),
    ("cache.poll_interval_ms", Kind::Int),
    ("cache.max_age_seconds", Kind::Int),
    ("shutdown_timeout_seconds", Kind::Int),
    ("metrics.enabled", Kind::Bool),
    ("keys.algorithm", Kind::Str),
    ("keys.rsa_bits", Kind::Int),
    ("keys.refresh_interval_seconds", Kind::Int),
    ("keys.min_publish_seconds", Kind::Int),
    ("keys.jwks_max_age_seconds", Kind::Int),
    ("keys.encryption_key", Kind::Str),
    ("keys.encryption_key_file", Kind::Str),
    ("tokens.access_token_ttl_seconds", Kind::Int),
    ("tokens.id_token_ttl_seconds", Kind::Int),
    ("tokens.code_ttl_seconds", Kind::Int),
    ("tokens.refresh_token_ttl_seconds", Kind::Int),
    ("tokens.refresh_idle_ttl_seconds", Kind::Int),
    ("tokens.refresh_grace_seconds", Kind::Int),
    ("tokens.refresh_without_offline_access", Kind::Bool),
    ("sessions.idle_ttl_seconds", Kind::Int),
    ("sessions.end_revokes", Kind::Str),
    ("gc.interval_seconds", Kind::Int),
    ("gc.batch_size", Kind::Int),
    ("tokens.default_audience", Kind::Str),
    ("pkce.require_for_confidential", Kind::Bool),
    ("sessions.ttl_seconds", Kind::Int),
    ("ui.product_name", Kind::Str),
    ("ui.logo_uri", Kind::Str),
    ("registration.mode", Kind::Str),
    ("registration.initial_access_token", Kind::Str),
    ("registration.allow_insecure_redirects", Kind::Bool),
    ("registration.allowed_redirect_hosts", Kind::List),
    ("registration.allowed_redirect_schemes", Kind::List),
    ("registration.allowed_grant_types", Kind::List),
    ("registration.allowed_scopes", Kind::List),
    ("registration.max_per_address", Kind::Int),
    ("registration.window_seconds", Kind::Int),
    ("registration.software_statement_required", Kind::Bool),
    ("registration.software_statement_jwks_file", Kind::Str),
    ("registration.software_statement_issuers", Kind::List),
    ("http.trusted_proxies", Kind::List),
    ("http.header_read_timeout_seconds", Kind::Int),
    ("http.keepalive_timeout_seconds", Kind::Int),
    ("http.max_header_bytes", Kind::Int),
    ("http.max_connections", Kind::Int),
    ("discovery.max_age_seconds", Kind::Int),
    ("admin.enabled", Kind::Bool),
    ("admin.listen", Kind::Str),
];

/// Short aliases for the most used variables.
const ALIASES: &[(&str, &str)] = &[("LATCHKEY_REGISTRATION_TOKEN", "registration.initial_access_token")];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub issuer: String,
    pub listen: String,
    pub database_url: String,
    pub redis_url: String,
    pub log_format: String,
    pub log_level: String,
    pub shutdown_timeout_seconds: i64,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub login: LoginConfig,
    pub cache: CacheConfig,
    pub metrics: MetricsConfig,
    pub keys: KeysConfig,
    pub tokens: TokensConfig,
    pub registration: RegistrationConfig,
    pub http: HttpConfig,
    pub discovery: DiscoveryConfig,
    pub pkce: PkceConfig,
    pub sessions: SessionsConfig,
    pub ui: UiConfig,
    pub gc: GcConfig,
    pub audit: AuditConfig,
    pub admin: AdminConfig,
    /// Upstream OpenID Connect providers (`[[upstream]]` tables).
    #[serde(rename = "upstream")]
    pub upstreams: Vec<UpstreamConfig>,
}

/// One `[[upstream]]` table (docs/federation.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub id: String,
    pub display_name: String,
    pub button_label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_secret_file: String,
    pub private_key_file: String,
    pub private_key_id: String,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub allowed_email_domains: Vec<String>,
    pub require_email_verified: bool,
    pub provisioning: bool,
    pub username_claim: String,
    /// `[upstream.claims]`: Latchkey claim = upstream claim name ("" = not taken from upstream).
    pub claims: std::collections::BTreeMap<String, String>,
    pub default_groups: Vec<String>,
    /// `provisioned`, `always` or `never`.
    pub update_claims: String,
    pub userinfo: bool,
    pub metadata_refresh_seconds: i64,
    pub timeout_seconds: i64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            display_name: String::new(),
            button_label: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            client_secret_file: String::new(),
            private_key_file: String::new(),
            private_key_id: String::new(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            email_domains: Vec::new(),
            allowed_email_domains: Vec::new(),
            require_email_verified: true,
            provisioning: true,
            username_claim: "email".into(),
            claims: Default::default(),
            default_groups: Vec::new(),
            update_claims: "provisioned".into(),
            userinfo: true,
            metadata_refresh_seconds: 3600,
            timeout_seconds: 5,
        }
    }
}

/// The admin API (`/admin/api/v1`): off unless enabled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub enabled: bool,
    /// A separate listener for the admin API (e.g. 127.0.0.1:9001); empty:
    /// the API is served on the public listener.
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PkceConfig {
    pub require_for_confidential: bool,
}

impl Default for PkceConfig {
    fn default() -> Self {
        Self { require_for_confidential: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    pub ttl_seconds: i64,
    pub idle_ttl_seconds: i64,
    /// "session_bound" (default), "all" or "none".
    pub end_revokes: String,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self { ttl_seconds: 7 * 86400, idle_ttl_seconds: 86400, end_revokes: "session_bound".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    pub interval_seconds: i64,
    pub batch_size: i64,
}

impl Default for GcConfig {
    fn default() -> Self {
        Self { interval_seconds: 60, batch_size: 1000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    pub product_name: String,
    pub logo_uri: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { product_name: "Latchkey".into(), logo_uri: String::new() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            upstreams: Vec::new(),
            issuer: "http://localhost:8080".into(),
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/latchkey.db".into(),
            redis_url: String::new(),
            log_format: "text".into(),
            log_level: "info".into(),
            shutdown_timeout_seconds: 30,
            redis: RedisConfig::default(),
            login: LoginConfig::default(),
            cache: CacheConfig::default(),
            metrics: MetricsConfig::default(),
            database: DatabaseConfig::default(),
            keys: KeysConfig::default(),
            tokens: TokensConfig::default(),
            registration: RegistrationConfig::default(),
            http: HttpConfig::default(),
            discovery: DiscoveryConfig::default(),
            pkce: PkceConfig::default(),
            sessions: SessionsConfig::default(),
            ui: UiConfig::default(),
            gc: GcConfig::default(),
            audit: AuditConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: i64,
    pub acquire_timeout_seconds: i64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout_seconds: 5 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    pub key_prefix: String,
    pub timeout_ms: i64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { key_prefix: "latchkey:".into(), timeout_ms: 1000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Failed sign-ins of one account before it is locked; unset: 10.
    pub max_failures: Option<i64>,
    /// The old name of `max_failures` (which counted every attempt).
    pub max_attempts: Option<i64>,
    pub max_failures_per_address: i64,
    pub window_seconds: i64,
    pub lock_seconds: i64,
    pub max_lock_seconds: i64,
    pub password_enabled: bool,
    /// How long a sign-in in progress (its login and consent pages) stays valid.
    pub interaction_ttl_seconds: i64,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            max_failures: None,
            max_attempts: None,
            max_failures_per_address: 100,
            window_seconds: 900,
            lock_seconds: 60,
            max_lock_seconds: 900,
            password_enabled: true,
            interaction_ttl_seconds: 600,
        }
    }
}

/// The audit log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Events older than this are deleted by the garbage collection (0 = kept forever).
    pub retention_days: i64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 365 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub mode: String,
    pub poll_interval_ms: i64,
    pub max_age_seconds: i64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { mode: "auto".into(), poll_interval_ms: 250, max_age_seconds: 60 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    pub algorithm: String,
    pub rsa_bits: i64,
    pub refresh_interval_seconds: i64,
    pub min_publish_seconds: i64,
    pub jwks_max_age_seconds: i64,
    pub encryption_key: String,
    pub encryption_key_file: String,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            algorithm: "RS256".into(),
            rsa_bits: 2048,
            refresh_interval_seconds: 30,
            min_publish_seconds: 600,
            jwks_max_age_seconds: 300,
            encryption_key: String::new(),
            encryption_key_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    pub access_token_ttl_seconds: i64,
    pub id_token_ttl_seconds: i64,
    pub code_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub refresh_idle_ttl_seconds: i64,
    pub refresh_grace_seconds: i64,
    pub refresh_without_offline_access: bool,
    /// Empty: the issuer.
    pub default_audience: String,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_seconds: 900,
            id_token_ttl_seconds: 3600,
            code_ttl_seconds: 60,
            refresh_token_ttl_seconds: 30 * 86400,
            refresh_idle_ttl_seconds: 30 * 86400,
            refresh_grace_seconds: 0,
            refresh_without_offline_access: false,
            default_audience: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// "closed", "token" or "open"; empty means `token` when a token is set, else `closed`.
    pub mode: String,
    pub initial_access_token: String,
    pub allow_insecure_redirects: bool,
    pub allowed_redirect_hosts: Vec<String>,
    pub allowed_redirect_schemes: Vec<String>,
    pub allowed_grant_types: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub max_per_address: i64,
    pub window_seconds: i64,
    /// Refuse registrations without a software statement (RFC 7591 §2.3).
    pub software_statement_required: bool,
    /// A JWK Set of the public keys that may sign software statements.
    pub software_statement_jwks_file: String,
    /// Accepted `iss` of software statements; empty: any trusted key's.
    pub software_statement_issuers: Vec<String>,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            mode: String::new(),
            initial_access_token: String::new(),
            allow_insecure_redirects: false,
            allowed_redirect_hosts: Vec::new(),
            allowed_redirect_schemes: Vec::new(),
            allowed_grant_types: Vec::new(),
            allowed_scopes: Vec::new(),
            max_per_address: 20,
            window_seconds: 3600,
            software_statement_required: false,
            software_statement_jwks_file: String::new(),
            software_statement_issuers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Addresses of proxies (load balancers) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Time a client has to send a request's headers.
    pub header_read_timeout_seconds: i64,
    /// An idle keep-alive connection is closed after this.
    pub keepalive_timeout_seconds: i64,
    /// Request line and headers together; more gets 431.
    pub max_header_bytes: i64,
    /// Connections open at once.
    pub max_connections: i64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let limits = crate::connections::ConnectionLimits::default();
        Self {
            trusted_proxies: Vec::new(),
            header_read_timeout_seconds: limits.header_read_timeout.as_secs() as i64,
            keepalive_timeout_seconds: limits.idle_timeout.as_secs() as i64,
            max_header_bytes: limits.max_header_bytes as i64,
            max_connections: i64::from(limits.max_connections),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    pub max_age_seconds: i64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self { max_age_seconds: 3600 }
    }
}

/// Who may use the registration endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationMode {
    Closed,
    Token(String),
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The configuration after validation: parsed, typed, ready to use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    /// The issuer's path without a trailing slash ("" for a host-only issuer).
    pub issuer_path: String,
    pub listen: SocketAddr,
    pub database_url: String,
    /// Redis for hot state; None keeps everything in the SQL database.
    pub redis: Option<latchkey_store_redis::RedisSettings>,
    /// Failed sign-ins allowed per account and per source address, and the
    /// locks beyond (docs/operations.md, "Sign-in limits").
    pub login_limits: latchkey_core::lockout::LockPolicy,
    /// What the operator should change, though it still works (logged by `serve`).
    pub warnings: Vec<String>,
    /// In-memory caches of clients, users and denylist answers (None = off).
    pub cache: Option<crate::cached::CacheSettings>,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_timeout: std::time::Duration,
    /// Serve Prometheus metrics at /metrics.
    pub metrics: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub db_max_connections: u32,
    pub db_acquire_timeout: std::time::Duration,
    pub rsa_bits: u32,
    pub key_refresh_interval: std::time::Duration,
    pub key_min_publish_seconds: i64,
    pub jwks_max_age_seconds: u64,
    pub encryption_key: Option<EncryptionKey>,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub registration: RegistrationMode,
    pub allow_insecure_redirects: bool,
    /// Limits on self-registered clients (registration endpoint, RFC 7592).
    pub self_registration: latchkey_core::SelfRegistrationPolicy,
    /// Registrations per source address and window (0 = no limit).
    pub registrations_per_address: u64,
    pub registration_window: u32,
    /// Software statements: trusted keys, accepted issuers, whether required.
    pub software_statements: latchkey_registration::SoftwareStatementPolicy,
    /// Proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<latchkey_http::IpRange>,
    /// Bounds on connections: header and idle timeouts, header size, count.
    pub connections: crate::connections::ConnectionLimits,
    pub discovery_max_age_seconds: u64,
    pub code_ttl: i64,
    pub refresh_token_ttl: i64,
    pub default_audience: String,
    pub require_pkce_for_confidential: bool,
    pub session_ttl: i64,
    pub session_idle_ttl: i64,
    pub end_revokes: latchkey_domain::EndRevokes,
    pub refresh_idle_ttl: i64,
    pub refresh_grace: i64,
    pub refresh_without_offline_access: bool,
    pub gc_interval: std::time::Duration,
    pub gc_batch: u32,
    /// Audit events older than this are deleted (None = kept forever).
    pub audit_retention: Option<std::time::Duration>,
    /// Lifetime of a sign-in in progress (seconds).
    pub interaction_ttl: i64,
    pub product_name: String,
    pub logo_uri: Option<String>,
    /// The login page offers the password form.
    pub password_login: bool,
    pub upstreams: Vec<latchkey_federation::UpstreamSettings>,
    /// Where the admin API is served, if it is enabled.
    pub admin: AdminListener,
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

impl Settings {
    /// What every door that registers clients (CLI, registration endpoint,
    /// admin API) enforces and needs.
    pub fn registration_policy(&self) -> latchkey_core::RegistrationPolicy {
        latchkey_core::RegistrationPolicy {
            allow_insecure_redirects: self.allow_insecure_redirects,
            client_secret_key: self.encryption_key.as_ref().map(EncryptionKey::client_secret_key),
        }
    }

    /// How long a retired key must stay published: until every token it
    /// signed has expired and every cached JWKS has been refreshed.
    /// What the key operations (`latchkey_domain::keys`) need.
    pub fn key_settings(&self) -> latchkey_domain::keys::KeySettings {
        latchkey_domain::keys::KeySettings {
            rsa_bits: self.rsa_bits,
            encryption_key: self.encryption_key.clone(),
            min_publish_seconds: self.key_min_publish_seconds,
            retired_grace_seconds: self.retired_key_grace(),
        }
    }

    pub fn retired_key_grace(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
            + self.jwks_max_age_seconds as i64
            + self.key_refresh_interval.as_secs() as i64
    }
}

/// Loads the configuration: the file (if any) and the environment over the defaults.
pub fn load(path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
            let table = text.parse::<toml::Table>().map_err(|e| file_error(path, &text, &e, "is not valid TOML: "))?;
            // Unknown keys and values of the wrong type, while their place
            // in the file is still known (the environment is merged below).
            toml::from_str::<Config>(&text).map_err(|e| file_error(path, &text, &e, ""))?;
            table
        }
        None => toml::Table::new(),
    };
    let mut overrides: Vec<(&str, String)> = Vec::new();
    for (alias, key) in ALIASES {
        if let Some(v) = env(alias) {
            overrides.push((key, v));
        }
    }
    for (key, _) in KEYS {
        if let Some(v) = env(&env_name(key)) {
            overrides.push((key, v));
        }
    }
    for (key, raw) in overrides {
        let kind = KEYS.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind).unwrap_or(Kind::Str);
        let value = match kind {
            Kind::Str => toml::Value::String(raw),
            Kind::Int => toml::Value::Integer(
                raw.trim().parse().map_err(|_| ConfigError::new(key, format!("{raw:?} is not a whole number")))?,
            ),
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| toml::Value::String(v.into()))
                    .collect(),
            ),
            Kind::Bool => toml::Value::Boolean(match raw.trim() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError::new(key, format!("{raw:?} is not true or false")));
                }
            }),
        };
        set_path(&mut table, key, value);
    }
    // Upstream client secrets may come from the environment instead of the
    // file: LATCHKEY_UPSTREAM_<ID>_CLIENT_SECRET (id upper-cased, '-' as '_').
    if let Some(toml::Value::Array(list)) = table.get_mut("upstream") {
        for entry in list.iter_mut() {
            let toml::Value::Table(t) = entry else { continue };
            let Some(toml::Value::String(id)) = t.get("id") else { continue };
            if let Some(secret) = env(&upstream_secret_env(id)) {
                t.insert("client_secret".into(), toml::Value::String(secret));
            }
        }
    }
    Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::new("config", e.to_string()))
}

/// An error of the file's syntax or shape, at its line and column, with the
/// key that was probably meant when the key is unknown.
fn file_error(path: &Path, text: &str, e: &toml::de::Error, what: &str) -> ConfigError {
    let span = e.span();
    let mut message = match crate::config_file::unknown_field(e.message()) {
        Some((name, expected)) => {
            let key = span.as_ref().and_then(|s| crate::config_file::key_at(text, s.start));
            unknown_key_message(key.as_deref().unwrap_or(name), name, &expected)
        }
        None => format!("{what}{}", e.message().trim_end()),
    };
    if span.is_none() {
        message = format!("{}: {message}", path.display());
    }
    ConfigError {
        at: span.map(|s| crate::config_file::position(path, text, s.start)),
        ..ConfigError::new("config", message)
    }
}

/// "unknown key `keys.rsa_bitz`; did you mean `rsa_bits`?", or where a key
/// of that name belongs, or the keys allowed there.
fn unknown_key_message(full: &str, name: &str, expected: &[&str]) -> String {
    let section = full.rsplit_once('.').map(|(s, _)| s);
    if let Some(near) = crate::config_file::nearest(name, expected.iter().copied()) {
        let near = section.map(|s| format!("{s}.{near}")).unwrap_or_else(|| near.to_string());
        return format!("unknown key `{full}`; did you mean `{near}`?");
    }
    // The right name in the wrong section: `[keys] access_token_ttl_seconds`.
    if let Some((elsewhere, _)) = KEYS.iter().find(|(k, _)| k.rsplit('.').next() == Some(name) && *k != full) {
        return format!("unknown key `{full}`; did you mean `{elsewhere}`?");
    }
    let place = section.map(|s| format!(" in `{s}`")).unwrap_or_default();
    format!("unknown key `{full}`; the keys allowed{place} are {}", expected.join(", "))
}

/// Adds the file position of the key a validation error names, when the
/// file set it and the environment did not override it.
pub fn locate(mut err: ConfigError, path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> ConfigError {
    let from_env =
        env(&err.env).is_some() || ALIASES.iter().any(|(alias, key)| *key == err.key && env(alias).is_some());
    if let (None, Some(path), false) = (&err.at, path, from_env)
        && let Ok(text) = std::fs::read_to_string(path)
        && let Some(span) = crate::config_file::key_span(&text, &err.key)
    {
        err.at = Some(crate::config_file::position(path, &text, span.start));
    }
    err
}

/// The environment variable holding an upstream's client secret.
pub fn upstream_secret_env(id: &str) -> String {
    format!("LATCHKEY_UPSTREAM_{}_CLIENT_SECRET", id.replace('-', "_").to_uppercase())
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_string(), value);
        }
        Some((section, rest)) => {
            let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = entry {
                set_path(t, rest, value);
            }
        }
    }
}

fn range(key: &str, value: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(key, format!("{value} is out of range; use {min} to {max}")));
    }
    Ok(value)
}

/// Validates every value; the first problem found is returned.
pub fn validate(config: &Config) -> Result<Settings, ConfigError> {
    let issuer = validate_issuer(&config.issuer)?;
    let issuer_path = Url::parse(&issuer).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default();
    let listen: SocketAddr = config.listen.parse().map_err(|_| {
        ConfigError::new("listen", format!("{:?} is not an address like 127.0.0.1:8080", config.listen))
    })?;
    if latchkey_store_sql::Backend::of_url(&config.database_url).is_none() {
        return Err(ConfigError::new(
            "database_url",
            format!(
                "{:?} is not supported; use sqlite://PATH or postgres://USER@HOST/DB",
                redact(&config.database_url)
            ),
        ));
    }
    let redis = match config.redis_url.as_str() {
        "" => None,
        url if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") => {
            if Url::parse(url).is_err() {
                return Err(ConfigError::new("redis_url", format!("{:?} is not a URL", redact(url))));
            }
            let prefix = config.redis.key_prefix.clone();
            if prefix.is_empty() || prefix.len() > 64 || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::new("redis.key_prefix", "must be 1 to 64 characters without spaces"));
            }
            let timeout = range("redis.timeout_ms", config.redis.timeout_ms, 10, 60_000)?;
            Some(latchkey_store_redis::RedisSettings {
                url: url.to_string(),
                key_prefix: prefix,
                timeout: std::time::Duration::from_millis(timeout as u64),
            })
        }
        url => {
            return Err(ConfigError::new(
                "redis_url",
                format!("{:?} is not supported; use redis://HOST:PORT/DB or rediss:// (TLS)", redact(url)),
            ));
        }
    };
    let upstreams = validate_upstreams(config)?;
    let mut warnings = Vec::new();
    let login_limits = validate_login_limits(&config.login, &mut warnings)?;
    let cache_on = match config.cache.mode.as_str() {
        // With Redis, replicas share hot state and see one another's
        // revocations at once; a per-process cache would delay that.
        "auto" => redis.is_none(),
        "on" => true,
        "off" => false,
        other => return Err(ConfigError::new("cache.mode", format!("{other:?}: use auto, on or off"))),
    };
    let poll_ms = range("cache.poll_interval_ms", config.cache.poll_interval_ms, 10, 60_000)?;
    let max_age = range("cache.max_age_seconds", config.cache.max_age_seconds, 1, 3_600)?;
    let cache = cache_on.then(|| crate::cached::CacheSettings {
        poll_interval: std::time::Duration::from_millis(poll_ms as u64),
        max_age: std::time::Duration::from_secs(max_age as u64),
    });
    let r = &config.registration;
    let mut allowed_grant_types = Vec::new();
    for g in &r.allowed_grant_types {
        allowed_grant_types.push(latchkey_core::GrantType::parse(g).ok_or_else(|| {
            ConfigError::new("registration.allowed_grant_types", format!("{g:?} is not a supported grant type"))
        })?);
    }
    for scope in &r.allowed_scopes {
        latchkey_core::Scope::parse(scope)
            .ok()
            .filter(|s| s.iter().count() == 1)
            .ok_or_else(|| ConfigError::new("registration.allowed_scopes", format!("{scope:?} is not one scope")))?;
    }
    for host in &r.allowed_redirect_hosts {
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) || bare != bare.to_ascii_lowercase() {
            return Err(ConfigError::new(
                "registration.allowed_redirect_hosts",
                format!("{host:?}: use a lower-case host name, or *.name for its subdomains"),
            ));
        }
    }
    let self_registration = latchkey_core::SelfRegistrationPolicy {
        redirect_hosts: r.allowed_redirect_hosts.clone(),
        redirect_schemes: r.allowed_redirect_schemes.iter().map(|s| s.to_ascii_lowercase()).collect(),
        grant_types: allowed_grant_types,
        scopes: r.allowed_scopes.clone(),
    };
    let registrations_per_address = range("registration.max_per_address", r.max_per_address, 0, 1_000_000)? as u64;
    let registration_window = range("registration.window_seconds", r.window_seconds, 1, 86_400 * 7)? as u32;
    let software_statements = validate_software_statements(r)?;
    let mut trusted_proxies = Vec::new();
    for p in &config.http.trusted_proxies {
        trusted_proxies.push(latchkey_http::IpRange::parse(p).ok_or_else(|| {
            ConfigError::new("http.trusted_proxies", format!("{p:?} is not an IP address or CIDR block"))
        })?);
    }
    let h = &config.http;
    let connections = crate::connections::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(range(
            "http.header_read_timeout_seconds",
            h.header_read_timeout_seconds,
            1,
            300,
        )? as u64),
        idle_timeout: std::time::Duration::from_secs(range(
            "http.keepalive_timeout_seconds",
            h.keepalive_timeout_seconds,
            1,
            3_600,
        )? as u64),
        // hyper needs room for at least its 8 KiB read buffer.
        max_header_bytes: range("http.max_header_bytes", h.max_header_bytes, 8 * 1024, 1024 * 1024)? as usize,
        max_connections: range("http.max_connections", h.max_connections, 1, 1_000_000)? as u32,
    };
    let shutdown_timeout = range("shutdown_timeout_seconds", config.shutdown_timeout_seconds, 0, 3_600)?;
    let log_format = match config.log_format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::new("log_format", format!("{other:?} is not text or json")));
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&config.log_level).is_err() {
        return Err(ConfigError::new(
            "log_level",
            format!("{:?} is not a log filter such as info or debug", config.log_level),
        ));
    }
    let db_max_connections = range("database.max_connections", config.database.max_connections, 1, 1000)? as u32;
    let acquire = range("database.acquire_timeout_seconds", config.database.acquire_timeout_seconds, 1, 300)?;

    if config.keys.algorithm != "RS256" {
        return Err(ConfigError::new(
            "keys.algorithm",
            format!("{:?} is not supported; use RS256", config.keys.algorithm),
        ));
    }
    let rsa_bits = match config.keys.rsa_bits {
        b @ (2048 | 3072 | 4096) => b as u32,
        other => {
            return Err(ConfigError::new("keys.rsa_bits", format!("{other} is not supported; use 2048, 3072 or 4096")));
        }
    };
    let refresh = range("keys.refresh_interval_seconds", config.keys.refresh_interval_seconds, 1, 3600)?;
    let min_publish = range("keys.min_publish_seconds", config.keys.min_publish_seconds, 0, 30 * 86400)?;
    let jwks_max_age = range("keys.jwks_max_age_seconds", config.keys.jwks_max_age_seconds, 0, 86400)?;
    let encryption_key = match (config.keys.encryption_key.is_empty(), config.keys.encryption_key_file.is_empty()) {
        (true, true) => None,
        (false, false) => {
            return Err(ConfigError::new(
                "keys.encryption_key",
                "set either keys.encryption_key or keys.encryption_key_file, not both",
            ));
        }
        (false, true) => Some(
            EncryptionKey::parse(&config.keys.encryption_key)
                .map_err(|e| ConfigError::new("keys.encryption_key", e.to_string()))?,
        ),
        (true, false) => {
            let path = &config.keys.encryption_key_file;
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new("keys.encryption_key_file", format!("cannot read {path}: {e}")))?;
            Some(
                EncryptionKey::parse(&text)
                    .map_err(|e| ConfigError::new("keys.encryption_key_file", format!("{path}: {e}")))?,
            )
        }
    };
    let access_ttl = range("tokens.access_token_ttl_seconds", config.tokens.access_token_ttl_seconds, 1, 86400)?;
    let id_ttl = range("tokens.id_token_ttl_seconds", config.tokens.id_token_ttl_seconds, 1, 86400)?;

    let token = config.registration.initial_access_token.clone();
    let registration = match (config.registration.mode.as_str(), token.is_empty()) {
        ("", true) | ("closed", _) => RegistrationMode::Closed,
        ("", false) | ("token", false) => {
            if token.len() < 16 {
                return Err(ConfigError::new(
                    "registration.initial_access_token",
                    "is shorter than 16 characters; use a long random value",
                ));
            }
            RegistrationMode::Token(token)
        }
        ("token", true) => {
            return Err(ConfigError::new(
                "registration.mode",
                "is token but no registration.initial_access_token (LATCHKEY_REGISTRATION_TOKEN) is set",
            ));
        }
        ("open", _) => RegistrationMode::Open,
        (other, _) => {
            return Err(ConfigError::new("registration.mode", format!("{other:?} is not closed, token or open")));
        }
    };
    let discovery_max_age = range("discovery.max_age_seconds", config.discovery.max_age_seconds, 0, 86400)?;
    let code_ttl = range("tokens.code_ttl_seconds", config.tokens.code_ttl_seconds, 1, 600)?;
    let refresh_ttl =
        range("tokens.refresh_token_ttl_seconds", config.tokens.refresh_token_ttl_seconds, 60, 365 * 86400)?;
    let default_audience =
        if config.tokens.default_audience.is_empty() { issuer.clone() } else { config.tokens.default_audience.clone() };
    let session_ttl = range("sessions.ttl_seconds", config.sessions.ttl_seconds, 60, 365 * 86400)?;
    let session_idle_ttl = range("sessions.idle_ttl_seconds", config.sessions.idle_ttl_seconds, 60, 365 * 86400)?;
    let end_revokes = match config.sessions.end_revokes.as_str() {
        "session_bound" => latchkey_domain::EndRevokes::SessionBound,
        "all" => latchkey_domain::EndRevokes::All,
        "none" => latchkey_domain::EndRevokes::Nothing,
        other => {
            return Err(ConfigError::new(
                "sessions.end_revokes",
                format!("{other:?} is not session_bound, all or none"),
            ));
        }
    };
    let refresh_idle_ttl =
        range("tokens.refresh_idle_ttl_seconds", config.tokens.refresh_idle_ttl_seconds, 60, 365 * 86400)?;
    let refresh_grace = range("tokens.refresh_grace_seconds", config.tokens.refresh_grace_seconds, 0, 300)?;
    let gc_interval = range("gc.interval_seconds", config.gc.interval_seconds, 1, 86400)?;
    let gc_batch = range("gc.batch_size", config.gc.batch_size, 1, 100_000)?;
    let retention_days = range("audit.retention_days", config.audit.retention_days, 0, 100 * 365)?;
    let audit_retention = (retention_days > 0).then(|| std::time::Duration::from_secs(retention_days as u64 * 86_400));
    let interaction_ttl = range("login.interaction_ttl_seconds", config.login.interaction_ttl_seconds, 60, 86_400)?;
    let product_name = config.ui.product_name.trim().to_string();
    if product_name.is_empty() || product_name.chars().count() > 60 {
        return Err(ConfigError::new("ui.product_name", "must be 1 to 60 characters"));
    }
    let logo_uri = match config.ui.logo_uri.as_str() {
        "" => None,
        uri => {
            latchkey_core::redirect_uri::validate_web_uri(uri, false)
                .map_err(|why| ConfigError::new("ui.logo_uri", format!("{uri:?} {why}")))?;
            Some(uri.to_string())
        }
    };

    let admin = match (config.admin.enabled, config.admin.listen.as_str()) {
        (false, "") => AdminListener::Disabled,
        (false, _) => {
            return Err(ConfigError::new("admin.listen", "is set but admin.enabled is false; enable the admin API"));
        }
        (true, "") => AdminListener::Public,
        (true, addr) => {
            let addr: SocketAddr = addr.parse().map_err(|_| {
                ConfigError::new("admin.listen", format!("{addr:?} is not an address like 127.0.0.1:9001"))
            })?;
            if addr == listen {
                return Err(ConfigError::new(
                    "admin.listen",
                    "is the public listener's address; leave it empty to serve the admin API there",
                ));
            }
            AdminListener::Separate(addr)
        }
    };

    Ok(Settings {
        issuer,
        issuer_path,
        listen,
        database_url: config.database_url.clone(),
        redis,
        login_limits,
        warnings,
        cache,
        shutdown_timeout: std::time::Duration::from_secs(shutdown_timeout as u64),
        metrics: config.metrics.enabled,
        log_format,
        log_level: config.log_level.clone(),
        db_max_connections,
        db_acquire_timeout: std::time::Duration::from_secs(acquire as u64),
        rsa_bits,
        key_refresh_interval: std::time::Duration::from_secs(refresh as u64),
        key_min_publish_seconds: min_publish,
        jwks_max_age_seconds: jwks_max_age as u64,
        encryption_key,
        access_token_ttl: access_ttl,
        id_token_ttl: id_ttl,
        registration,
        allow_insecure_redirects: config.registration.allow_insecure_redirects,
        self_registration,
        registrations_per_address,
        registration_window,
        software_statements,
        trusted_proxies,
        connections,
        discovery_max_age_seconds: discovery_max_age as u64,
        code_ttl,
        refresh_token_ttl: refresh_ttl,
        default_audience,
        require_pkce_for_confidential: config.pkce.require_for_confidential,
        session_ttl,
        session_idle_ttl,
        end_revokes,
        refresh_idle_ttl,
        refresh_grace,
        refresh_without_offline_access: config.tokens.refresh_without_offline_access,
        gc_interval: std::time::Duration::from_secs(gc_interval as u64),
        gc_batch: gc_batch as u32,
        audit_retention,
        interaction_ttl,
        product_name,
        logo_uri,
        admin,
        password_login: config.login.password_enabled,
        upstreams,
    })
}

/// The `login.*` limits. `login.max_attempts`, the old name of
/// `login.max_failures`, still works (with a warning), but not beside it.
fn validate_login_limits(
    login: &LoginConfig,
    warnings: &mut Vec<String>,
) -> Result<latchkey_core::lockout::LockPolicy, ConfigError> {
    let max_failures = match (login.max_attempts, login.max_failures) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "login.max_attempts",
                "is the old name of login.max_failures (LATCHKEY_LOGIN_MAX_FAILURES); set only that one",
            ));
        }
        (Some(old), None) => {
            warnings.push(
                "`login.max_attempts` (LATCHKEY_LOGIN_MAX_ATTEMPTS) is now `login.max_failures` \
                 (LATCHKEY_LOGIN_MAX_FAILURES) and counts failed sign-ins only; rename it"
                    .into(),
            );
            range("login.max_attempts", old, 0, 1_000_000)?
        }
        (None, new) => range("login.max_failures", new.unwrap_or(10), 0, 1_000_000)?,
    };
    let lock_seconds = range("login.lock_seconds", login.lock_seconds, 1, 86_400)?;
    let max_lock_seconds = range("login.max_lock_seconds", login.max_lock_seconds, 1, 7 * 86_400)?;
    if max_lock_seconds < lock_seconds {
        return Err(ConfigError::new(
            "login.max_lock_seconds",
            format!("{max_lock_seconds} is shorter than login.lock_seconds ({lock_seconds})"),
        ));
    }
    Ok(latchkey_core::lockout::LockPolicy {
        max_failures: max_failures as u64,
        max_failures_per_address: range("login.max_failures_per_address", login.max_failures_per_address, 0, 1_000_000)?
            as u64,
        window_seconds: range("login.window_seconds", login.window_seconds, 1, 86_400)? as u32,
        lock_seconds: lock_seconds as u32,
        max_lock_seconds: max_lock_seconds as u32,
    })
}

/// The `registration.software_statement_*` keys: the trusted key set is
/// read and checked now, so a bad file stops the server at startup.
fn validate_software_statements(
    r: &RegistrationConfig,
) -> Result<latchkey_registration::SoftwareStatementPolicy, ConfigError> {
    const FILE: &str = "registration.software_statement_jwks_file";
    let jwks = match r.software_statement_jwks_file.as_str() {
        "" => None,
        path => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(FILE, format!("cannot read {path}: {e}")))?;
            let jwks: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ConfigError::new(FILE, format!("{path} is not a JSON Web Key Set: {e}")))?;
            latchkey_core::client_keys::validate_client_jwks(&jwks)
                .map_err(|why| ConfigError::new(FILE, format!("{path}: the key set {why}")))?;
            Some(jwks)
        }
    };
    if r.software_statement_required && jwks.is_none() {
        return Err(ConfigError::new(
            "registration.software_statement_required",
            format!("is true but no {FILE} names the keys that may sign them"),
        ));
    }
    if !r.software_statement_issuers.is_empty() && jwks.is_none() {
        return Err(ConfigError::new(
            "registration.software_statement_issuers",
            format!("is set but no {FILE} names the issuers' keys"),
        ));
    }
    if let Some(iss) = r.software_statement_issuers.iter().find(|i| i.trim().is_empty() || i.trim() != i.as_str()) {
        return Err(ConfigError::new(
            "registration.software_statement_issuers",
            format!("{iss:?} is not an issuer (empty, or with spaces around it)"),
        ));
    }
    Ok(latchkey_registration::SoftwareStatementPolicy {
        required: r.software_statement_required,
        jwks,
        issuers: r.software_statement_issuers.clone(),
    })
}

/// Checks the `[[upstream]]` tables. Errors name the table by its position
/// (`upstream[0].issuer`), since the environment cannot set these.
fn validate_upstreams(config: &Config) -> Result<Vec<latchkey_federation::UpstreamSettings>, ConfigError> {
    let mut out: Vec<latchkey_federation::UpstreamSettings> = Vec::new();
    for (i, u) in config.upstreams.iter().enumerate() {
        let err = |field: &str, message: String| ConfigError {
            key: format!("upstream[{i}].{field}"),
            env: "config file only".into(),
            message,
            at: None,
        };
        let id_ok = !u.id.is_empty()
            && u.id.len() <= 32
            && u.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(err("id", format!("{:?}: 1 to 32 lowercase letters, digits or '-'", u.id)));
        }
        if out.iter().any(|o| o.id == u.id) {
            return Err(err("id", format!("{:?} is used twice", u.id)));
        }
        let issuer = Url::parse(&u.issuer).map_err(|_| err("issuer", format!("{:?} is not a URL", u.issuer)))?;
        let loopback = is_loopback(&issuer);
        if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
            return Err(err("issuer", format!("{:?} must be https (plain http only on loopback)", u.issuer)));
        }
        if u.client_id.is_empty() {
            return Err(err("client_id", "is required".into()));
        }
        let client_secret = match (u.client_secret.as_str(), u.client_secret_file.as_str()) {
            ("", "") => None,
            (secret, "") => Some(secret.to_string()),
            ("", file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| err("client_secret_file", format!("cannot read {file}: {e}")))?
                    .trim()
                    .to_string(),
            ),
            _ => return Err(err("client_secret", "set client_secret or client_secret_file, not both".into())),
        };
        let private_key = match u.private_key_file.as_str() {
            "" => None,
            _ if client_secret.is_some() => {
                return Err(err("private_key_file", "set a client secret or a private key, not both".into()));
            }
            file => {
                let key = latchkey_federation::PrivateKey {
                    pem: std::fs::read_to_string(file)
                        .map_err(|e| err("private_key_file", format!("cannot read {file}: {e}")))?,
                    kid: (!u.private_key_id.is_empty()).then(|| u.private_key_id.clone()),
                };
                key.validate().map_err(|e| err("private_key_file", format!("{file}: not an RSA private key ({e})")))?;
                Some(key)
            }
        };
        if !u.scopes.iter().any(|s| s == "openid") {
            return Err(err("scopes", "must include openid".into()));
        }
        let claim_name_ok =
            |n: &str| !n.is_empty() && n.len() <= 64 && !n.chars().any(|c| c.is_whitespace() || c.is_control());
        if !claim_name_ok(&u.username_claim) {
            return Err(err(
                "username_claim",
                format!("{:?}: name an upstream claim (email, preferred_username, sub, upn…)", u.username_claim),
            ));
        }
        let mut claims = latchkey_federation::ClaimMap::default();
        for (claim, source) in &u.claims {
            if !source.is_empty() && !claim_name_ok(source) {
                return Err(err(
                    &format!("claims.{claim}"),
                    format!("{source:?} is not a claim name (1 to 64 characters, no white space)"),
                ));
            }
            claims
                .set(claim, (!source.is_empty()).then(|| source.clone()))
                .map_err(|e| err(&format!("claims.{claim}"), e))?;
        }
        let default_groups =
            latchkey_core::user::validate_groups(&u.default_groups).map_err(|e| err("default_groups", e))?;
        let update_claims = match u.update_claims.as_str() {
            "provisioned" => latchkey_federation::ClaimUpdate::Provisioned,
            "always" => latchkey_federation::ClaimUpdate::Always,
            "never" => latchkey_federation::ClaimUpdate::Never,
            other => {
                return Err(err("update_claims", format!("{other:?}: use provisioned, always or never")));
            }
        };
        let domains = |field: &str, list: &[String]| -> Result<Vec<String>, ConfigError> {
            list.iter()
                .map(|d| {
                    let d = d.trim().to_ascii_lowercase();
                    if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
                        Err(err(field, format!("{d:?} is not a domain")))
                    } else {
                        Ok(d)
                    }
                })
                .collect()
        };
        let email_domains = domains("email_domains", &u.email_domains)?;
        if let Some(taken) =
            out.iter().find_map(|o| email_domains.iter().find(|d| o.email_domains.contains(d)).map(|d| (d, &o.id)))
        {
            return Err(err("email_domains", format!("{} already goes to upstream {:?}", taken.0, taken.1)));
        }
        let refresh = range_of(&err, "metadata_refresh_seconds", u.metadata_refresh_seconds, 60, 86_400)?;
        let timeout = range_of(&err, "timeout_seconds", u.timeout_seconds, 1, 60)?;
        let display_name = if u.display_name.is_empty() { u.id.clone() } else { u.display_name.clone() };
        out.push(latchkey_federation::UpstreamSettings {
            id: u.id.clone(),
            button_label: if u.button_label.is_empty() {
                format!("Sign in with {display_name}")
            } else {
                u.button_label.clone()
            },
            display_name,
            // Exactly as configured: it must equal the ID tokens' `iss`.
            issuer: u.issuer.clone(),
            client_id: u.client_id.clone(),
            client_secret,
            private_key,
            scopes: u.scopes.clone(),
            email_domains,
            allowed_email_domains: domains("allowed_email_domains", &u.allowed_email_domains)?,
            require_email_verified: u.require_email_verified,
            provisioning: u.provisioning,
            username_claim: u.username_claim.clone(),
            claims,
            default_groups,
            update_claims,
            userinfo: u.userinfo,
            metadata_refresh: std::time::Duration::from_secs(refresh as u64),
            timeout: std::time::Duration::from_secs(timeout as u64),
        });
    }
    if !config.login.password_enabled && out.is_empty() {
        return Err(ConfigError::new(
            "login.password_enabled",
            "false leaves no way to sign in: configure an [[upstream]] provider",
        ));
    }
    Ok(out)
}

fn range_of(
    err: &dyn Fn(&str, String) -> ConfigError,
    field: &str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    if (min..=max).contains(&value) { Ok(value) } else { Err(err(field, format!("{value} is not in {min}..={max}"))) }
}

/// The issuer must be an https URL (plain http only on loopback) with no
/// query, fragment or trailing slash (OIDC Discovery §3, RFC 8414 §2).
fn validate_issuer(raw: &str) -> Result<String, ConfigError> {
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
    Ok(raw.to_string())
}

/// A database URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Where the database is, for logs and messages: the absolute path of a
/// SQLite file (a relative one depends on the directory the process runs
/// in), or the URL without its password.
pub fn database_location(url: &str) -> String {
    match latchkey_store_sql::sqlite_file(url) {
        Some(file) => format!("SQLite file {}", file.display()),
        None => redact(url),
    }
}

/// The config file named by `--config`, else by `LATCHKEY_CONFIG`.
pub fn config_path(flag: Option<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    flag.or_else(|| env("LATCHKEY_CONFIG").filter(|s| !s.is_empty()).map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        validate(&load(None, &env_of(pairs))?)
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.issuer, "http://localhost:8080");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/latchkey.db");
        assert_eq!(s.registration, RegistrationMode::Closed);
        assert_eq!(s.rsa_bits, 2048);
        assert!(s.key_refresh_interval.as_secs() <= 60);
        assert_eq!(s.admin, AdminListener::Disabled, "the admin API is off by default");
    }

    #[test]
    fn sign_in_limits_and_the_old_key() {
        let s = settings(&[]).unwrap();
        let expected = latchkey_core::lockout::LockPolicy {
            max_failures: 10,
            max_failures_per_address: 100,
            window_seconds: 900,
            lock_seconds: 60,
            max_lock_seconds: 900,
        };
        assert_eq!(s.login_limits, expected);
        assert!(s.warnings.is_empty());
        let s = settings(&[("LATCHKEY_LOGIN_MAX_FAILURES", "5"), ("LATCHKEY_LOGIN_LOCK_SECONDS", "2")]).unwrap();
        assert_eq!((s.login_limits.max_failures, s.login_limits.lock_seconds), (5, 2));
        // The old name still works, with a warning naming the new one.
        let s = settings(&[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "3")]).unwrap();
        assert_eq!(s.login_limits.max_failures, 3);
        assert!(s.warnings.iter().any(|w| w.contains("login.max_failures")), "{:?}", s.warnings);
        let e = settings(&[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "3"), ("LATCHKEY_LOGIN_MAX_FAILURES", "4")]).unwrap_err();
        assert_eq!(e.key, "login.max_attempts");
        assert!(e.to_string().contains("login.max_failures"), "{e}");
        let e =
            settings(&[("LATCHKEY_LOGIN_LOCK_SECONDS", "600"), ("LATCHKEY_LOGIN_MAX_LOCK_SECONDS", "60")]).unwrap_err();
        assert_eq!(e.key, "login.max_lock_seconds");
        let e = settings(&[("LATCHKEY_LOGIN_WINDOW_SECONDS", "0")]).unwrap_err();
        assert_eq!(e.key, "login.window_seconds");
    }

    #[test]
    fn admin_api_settings() {
        let s = settings(&[("LATCHKEY_ADMIN_ENABLED", "true")]).unwrap();
        assert_eq!(s.admin, AdminListener::Public);
        let s = settings(&[("LATCHKEY_ADMIN_ENABLED", "true"), ("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9001")]).unwrap();
        assert_eq!(s.admin, AdminListener::Separate("127.0.0.1:9001".parse().unwrap()));
        for (pairs, why) in [
            (&[("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9001")][..], "is set but"),
            (&[("LATCHKEY_ADMIN_ENABLED", "true"), ("LATCHKEY_ADMIN_LISTEN", "nine")][..], "not an address"),
            (&[("LATCHKEY_ADMIN_ENABLED", "true"), ("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:8080")][..], "public"),
        ] {
            let e = settings(pairs).unwrap_err();
            assert_eq!(e.key, "admin.listen");
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn environment_overrides_every_kind_of_value() {
        let s = settings(&[
            ("LATCHKEY_ISSUER", "https://id.example.com/tenant"),
            ("LATCHKEY_KEYS_RSA_BITS", "3072"),
            ("LATCHKEY_REGISTRATION_ALLOW_INSECURE_REDIRECTS", "true"),
            ("LATCHKEY_REGISTRATION_TOKEN", "0123456789abcdef0123"),
        ])
        .unwrap();
        assert_eq!(s.issuer_path, "/tenant");
        assert_eq!(s.rsa_bits, 3072);
        assert!(s.allow_insecure_redirects);
        assert_eq!(s.registration, RegistrationMode::Token("0123456789abcdef0123".into()));
    }

    #[test]
    fn errors_name_the_key() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[("LATCHKEY_ISSUER", "https://id.example.com?x=1")], "issuer", "query"),
            (&[("LATCHKEY_ISSUER", "https://id.example.com/#f")], "issuer", "fragment"),
            (&[("LATCHKEY_ISSUER", "http://id.example.com")], "issuer", "plain http"),
            (&[("LATCHKEY_ISSUER", "https://id.example.com/")], "issuer", "slash"),
            (&[("LATCHKEY_LISTEN", "nowhere")], "listen", "address"),
            (&[("LATCHKEY_DATABASE_URL", "mysql://x")], "database_url", "not supported"),
            (&[("LATCHKEY_KEYS_RSA_BITS", "1024")], "keys.rsa_bits", "not supported"),
            (&[("LATCHKEY_KEYS_RSA_BITS", "many")], "keys.rsa_bits", "whole number"),
            (&[("LATCHKEY_KEYS_ENCRYPTION_KEY_FILE", "/nonexistent/key")], "keys.encryption_key_file", "cannot read"),
            (&[("LATCHKEY_KEYS_ENCRYPTION_KEY", "short")], "keys.encryption_key", "invalid"),
            (&[("LATCHKEY_REGISTRATION_MODE", "token")], "registration.mode", "no registration"),
            (&[("LATCHKEY_REGISTRATION_MODE", "maybe")], "registration.mode", "not closed"),
            (&[("LATCHKEY_REGISTRATION_TOKEN", "short")], "registration.initial_access_token", "16"),
            (&[("LATCHKEY_LOG_FORMAT", "xml")], "log_format", "text or json"),
            (
                &[("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_REQUIRED", "true")],
                "registration.software_statement_required",
                "software_statement_jwks_file",
            ),
            (
                &[("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_ISSUERS", "https://a.example")],
                "registration.software_statement_issuers",
                "software_statement_jwks_file",
            ),
            (
                &[("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_JWKS_FILE", "/nonexistent/jwks.json")],
                "registration.software_statement_jwks_file",
                "cannot read",
            ),
        ];
        for (env, key, needle) in cases {
            let err = settings(env).unwrap_err();
            assert_eq!(err.key, *key, "{env:?}: {err}");
            assert!(err.to_string().contains(needle), "{env:?}: {err}");
            assert!(err.to_string().contains(&env_name(key)));
        }
    }

    #[test]
    fn file_values_and_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("latchkey-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "issuer = \"https://a.example\"\n[keys]\nrsa_bits = 4096\n").unwrap();
        let c = load(Some(&file), &env_of(&[("LATCHKEY_KEYS_RSA_BITS", "3072")])).unwrap();
        assert_eq!(c.issuer, "https://a.example");
        assert_eq!(c.keys.rsa_bits, 3072, "the environment wins over the file");
        std::fs::write(&file, "isuer = \"typo\"\n").unwrap();
        let err = load(Some(&file), &env_of(&[])).unwrap_err();
        assert!(err.message.contains("isuer"), "{err}");
        assert_eq!(err.at, Some(format!("{}:1:1", file.display())));
        assert!(err.message.contains("did you mean `issuer`?"), "{err}");
        // A typo in a section, a key in the wrong section, a wrong type.
        for (text, at, needle) in [
            ("issuer = \"https://a.example\"\n[keys]\nrsa_bitz = 4096\n", ":3:1", "did you mean `keys.rsa_bits`?"),
            ("[keys]\naccess_token_ttl_seconds = 5\n", ":2:1", "did you mean `tokens.access_token_ttl_seconds`?"),
            ("[keys]\ncolour = 5\n", ":2:1", "the keys allowed in `keys` are algorithm, rsa_bits"),
            ("[keys]\nrsa_bits = \"many\"\n", ":2:12", "invalid type"),
            ("[keys\n", ":1:6", "not valid TOML"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = load(Some(&file), &env_of(&[])).unwrap_err();
            assert!(err.at.as_deref().is_some_and(|a| a.ends_with(at)), "{text}: {err}");
            assert!(err.to_string().starts_with(&file.display().to_string()), "{err}");
            assert!(err.message.contains(needle), "{text}: {err}");
        }
        // A value the validation refuses is located in the file, unless the
        // environment set it.
        std::fs::write(&file, "issuer = \"https://a.example\"\n\n[keys]\nrsa_bits = 1024\n").unwrap();
        let err = validate(&load(Some(&file), &env_of(&[])).unwrap()).unwrap_err();
        let err = locate(err, Some(&file), &env_of(&[]));
        assert_eq!(err.at, Some(format!("{}:4:1", file.display())));
        assert_eq!(err.key, "keys.rsa_bits");
        let env = env_of(&[("LATCHKEY_KEYS_RSA_BITS", "1024")]);
        let err = locate(validate(&load(Some(&file), &env).unwrap()).unwrap_err(), Some(&file), &env);
        assert_eq!(err.at, None, "set by the environment: {err}");
        let err = load(Some(&dir.join("missing.toml")), &env_of(&[])).unwrap_err();
        assert!(err.message.contains("cannot read"));
    }

    /// Settings from one `[[upstream]]` table (`extra` appended to a valid one).
    fn upstream(extra: &str) -> Result<latchkey_federation::UpstreamSettings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("latchkey-upstream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{:x}.toml", extra.len() * 31 + extra.bytes().map(usize::from).sum::<usize>()));
        let table =
            format!("[[upstream]]\nid = \"corp\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n{extra}");
        std::fs::write(&file, table).unwrap();
        let settings = validate(&load(Some(&file), &env_of(&[]))?);
        let _ = std::fs::remove_file(&file);
        Ok(settings?.upstreams.remove(0))
    }

    #[test]
    fn upstream_claim_mapping_and_groups() {
        let u = upstream("").unwrap();
        assert_eq!(u.claims, latchkey_federation::ClaimMap::default());
        assert_eq!(u.claims.source("email"), Some("email"));
        assert_eq!(u.claims.source("groups"), None, "groups are imported only when mapped");
        assert!(u.default_groups.is_empty());
        assert_eq!(u.update_claims, latchkey_federation::ClaimUpdate::Provisioned);

        let u = upstream(
            "username_claim = \"upn\"\ndefault_groups = [\"staff\", \"staff\", \"sso\"]\nupdate_claims = \"always\"\n\
             [upstream.claims]\nname = \"displayName\"\nemail = \"mail\"\ngroups = \"roles\"\nphone_number = \"\"\n",
        )
        .unwrap();
        assert_eq!(u.username_claim, "upn");
        assert_eq!(u.default_groups, ["staff", "sso"]);
        assert_eq!(u.update_claims, latchkey_federation::ClaimUpdate::Always);
        assert_eq!(
            (u.claims.source("name"), u.claims.source("email"), u.claims.source("groups")),
            (Some("displayName"), Some("mail"), Some("roles"))
        );
        assert_eq!(u.claims.source("phone_number"), None, "\"\" maps nothing");
        assert_eq!(u.claims.source("given_name"), Some("given_name"));

        for (extra, key, needle) in [
            ("[upstream.claims]\nnickname = \"nick\"\n", "upstream[0].claims.nickname", "not a Latchkey claim"),
            ("[upstream.claims]\nusername = \"upn\"\n", "upstream[0].claims.username", "groups"),
            ("[upstream.claims]\nname = \"display name\"\n", "upstream[0].claims.name", "not a claim name"),
            ("default_groups = [\"two words\"]\n", "upstream[0].default_groups", "white space"),
            ("default_groups = [\"\"]\n", "upstream[0].default_groups", "1 to 128"),
            ("update_claims = \"sometimes\"\n", "upstream[0].update_claims", "provisioned, always or never"),
            ("username_claim = \"\"\n", "upstream[0].username_claim", "upstream claim"),
        ] {
            let err = upstream(extra).unwrap_err();
            assert_eq!(err.key, key, "{extra}: {err}");
            assert!(err.to_string().contains(needle), "{extra}: {err}");
        }
        let too_many: Vec<String> = (0..=100).map(|i| format!("\"g{i}\"")).collect();
        let err = upstream(&format!("default_groups = [{}]\n", too_many.join(", "))).unwrap_err();
        assert!(err.to_string().contains("at most 100"), "{err}");
    }

    #[test]
    fn example_config_documents_every_key_and_parses() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/latchkey.example.toml");
        let text = std::fs::read_to_string(example).unwrap();
        for (key, _) in KEYS {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(text.contains(&format!("{leaf} =")), "example config lacks {key}");
        }
        let config = load(Some(Path::new(example)), &env_of(&[])).unwrap();
        let defaults = Config::default();
        assert_eq!(config.issuer, defaults.issuer);
        assert_eq!(config.keys.rsa_bits, defaults.keys.rsa_bits);
        assert_eq!(config.keys.refresh_interval_seconds, defaults.keys.refresh_interval_seconds);
        assert_eq!(config.tokens.access_token_ttl_seconds, defaults.tokens.access_token_ttl_seconds);
        validate(&config).unwrap();
    }
}
