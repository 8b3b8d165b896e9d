//! The server's configuration: the settings declared in `latchkey-config`
//! (defaults, then the TOML file, then `LATCHKEY_*` variables, checked as a
//! whole before anything opens a port), and what the server resolves from
//! them at startup: the files they name (the encryption key, the software
//! statement keys, upstream secrets and keys) and the checks that need
//! another crate (a database URL the SQL store can open, a log filter).

use std::path::Path;

use latchkey_keys::EncryptionKey;

pub use latchkey_config::{
    AdminListener, Config, ConfigError, LogFormat, RegistrationMode, config_path, env_name, redact,
};

/// The configuration, checked, with what it names read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Every setting as declared; each crate takes its sections from here.
    pub config: Config,
    /// The issuer's path without a trailing slash ("" for a host-only issuer).
    pub issuer_path: String,
    /// Redis for hot state; None keeps everything in the SQL database.
    pub redis: Option<latchkey_store_redis::RedisSettings>,
    pub encryption_key: Option<EncryptionKey>,
    /// Software statements: trusted keys, accepted issuers, whether required.
    pub software_statements: latchkey_registration::SoftwareStatementPolicy,
    pub upstreams: Vec<latchkey_federation::UpstreamSettings>,
    /// What the operator should change, though it still works (logged by `serve`).
    pub warnings: Vec<String>,
}

impl Settings {
    /// What every door that registers clients (CLI, registration endpoint,
    /// admin API) enforces and needs.
    pub fn registration_policy(&self) -> latchkey_core::RegistrationPolicy {
        latchkey_core::RegistrationPolicy {
            allow_insecure_redirects: self.config.registration.allow_insecure_redirects,
            client_secret_key: self.encryption_key.as_ref().map(EncryptionKey::client_secret_key),
            signing_algorithms: self.signing_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
            fapi2_by_default: self.config.fapi2.default_for_new_clients,
        }
    }

    /// Who may use the registration endpoint.
    pub fn registration(&self) -> RegistrationMode {
        self.config.registration.mode()
    }

    /// Where the admin API is served, if it is enabled.
    pub fn admin(&self) -> AdminListener {
        self.config.admin.listener()
    }

    /// In-memory caches of clients, users and denylist answers (None = off).
    pub fn cache(&self) -> Option<crate::cached::CacheSettings> {
        self.config.caches_on().then(|| crate::cached::CacheSettings {
            poll_interval: self.config.cache.poll_interval_ms.duration(),
            max_age: self.config.cache.max_age_seconds.duration(),
        })
    }

    /// Bounds on connections: header and idle timeouts, header size, count.
    pub fn connections(&self) -> crate::connections::ConnectionLimits {
        let h = &self.config.http;
        crate::connections::ConnectionLimits {
            header_read_timeout: h.header_read_timeout_seconds.duration(),
            idle_timeout: h.keepalive_timeout_seconds.duration(),
            max_header_bytes: h.max_header_bytes,
            max_connections: h.max_connections,
        }
    }

    /// How long a retired key must stay published: until every token it
    /// signed has expired and every cached JWKS has been refreshed.
    pub fn retired_key_grace(&self) -> i64 {
        self.config.retired_key_grace()
    }

    /// What the key operations (`latchkey_domain::keys`) need.
    /// `keys.algorithms`, RS256 first (the default signer), each once.
    pub fn signing_algorithms(&self) -> Vec<latchkey_keys::Algorithm> {
        let mut out = vec![latchkey_keys::Algorithm::RS256];
        for alg in &self.config.keys.algorithms {
            let alg = latchkey_keys::Algorithm::parse(alg.as_str()).expect("every configured algorithm is known");
            if !out.contains(&alg) {
                out.push(alg);
            }
        }
        out
    }

    pub fn key_settings(&self) -> latchkey_domain::keys::KeySettings {
        latchkey_domain::keys::KeySettings {
            algorithms: self.signing_algorithms(),
            rsa_bits: self.config.keys.rsa_bits,
            encryption_key: self.encryption_key.clone(),
            min_publish_seconds: self.config.keys.min_publish_seconds.secs(),
            retired_grace_seconds: self.retired_key_grace(),
        }
    }
}

/// Loads, checks and resolves the configuration. `database_url` (the
/// command line's `--database-url`) wins over the environment and the file.
pub fn load(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    database_url: Option<&str>,
) -> Result<Settings, ConfigError> {
    let mut loaded = latchkey_config::load(path, env)?;
    if let Some(url) = database_url {
        loaded.config.database_url = url.to_string();
    }
    let settings = resolve(&loaded).map_err(|e| match e.key.as_str() {
        "database_url" if database_url.is_some() => e,
        _ => loaded.locate(e),
    })?;
    // Every command sets passwords through `latchkey_core::password`,
    // which reads the policy of the process.
    latchkey_core::password::set_policy(loaded.config.password.policy());
    Ok(settings)
}

fn resolve(loaded: &latchkey_config::Loaded) -> Result<Settings, ConfigError> {
    let config = &loaded.config;
    if latchkey_store_sql::Backend::of_url(&config.database_url).is_none() {
        return Err(ConfigError::new(
            "database_url",
            format!(
                "{:?} is not supported; use sqlite://PATH or postgres://USER@HOST/DB",
                redact(&config.database_url)
            ),
        ));
    }
    if tracing_subscriber::EnvFilter::try_new(&config.log_level).is_err() {
        return Err(ConfigError::new(
            "log_level",
            format!("{:?} is not a log filter such as info or debug", config.log_level),
        ));
    }
    let redis = config.redis_url.as_ref().map(|url| latchkey_store_redis::RedisSettings {
        url: url.clone(),
        key_prefix: config.redis.key_prefix.clone(),
        timeout: config.redis.timeout_ms.duration(),
    });
    let upstreams = config
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| latchkey_federation::UpstreamSettings::from_config(i, u))
        .collect::<Result<_, _>>()?;
    Ok(Settings {
        issuer_path: config.issuer_path(),
        redis,
        encryption_key: encryption_key(&config.keys)?,
        software_statements: software_statements(&config.registration)?,
        upstreams,
        warnings: loaded.warnings.clone(),
        config: config.clone(),
    })
}

/// `keys.encryption_key`, or the key in `keys.encryption_key_file`.
fn encryption_key(keys: &latchkey_config::Keys) -> Result<Option<EncryptionKey>, ConfigError> {
    if let Some(key) = &keys.encryption_key {
        return EncryptionKey::parse(key).map(Some).map_err(|e| ConfigError::new("keys.encryption_key", e.to_string()));
    }
    let Some(path) = &keys.encryption_key_file else { return Ok(None) };
    let path = path.display();
    let text = std::fs::read_to_string(path.to_string())
        .map_err(|e| ConfigError::new("keys.encryption_key_file", format!("cannot read {path}: {e}")))?;
    EncryptionKey::parse(&text)
        .map(Some)
        .map_err(|e| ConfigError::new("keys.encryption_key_file", format!("{path}: {e}")))
}

/// The `registration.software_statement_*` keys: the trusted key set is
/// read and checked now, so a bad file stops the server at startup.
fn software_statements(
    r: &latchkey_config::Registration,
) -> Result<latchkey_registration::SoftwareStatementPolicy, ConfigError> {
    const FILE: &str = "registration.software_statement_jwks_file";
    let jwks = match &r.software_statement_jwks_file {
        None => None,
        Some(path) => {
            let path = path.display();
            let text = std::fs::read_to_string(path.to_string())
                .map_err(|e| ConfigError::new(FILE, format!("cannot read {path}: {e}")))?;
            let jwks: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ConfigError::new(FILE, format!("{path} is not a JSON Web Key Set: {e}")))?;
            latchkey_core::client_keys::validate_client_jwks(&jwks)
                .map_err(|why| ConfigError::new(FILE, format!("{path}: the key set {why}")))?;
            Some(jwks)
        }
    };
    Ok(latchkey_registration::SoftwareStatementPolicy {
        required: r.software_statement_required,
        jwks,
        issuers: r.software_statement_issuers.clone(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        load(None, &env_of(pairs), None)
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.config.issuer, "http://localhost:8080");
        assert_eq!(s.config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.config.database_url, "sqlite://./data/latchkey.db");
        assert_eq!(s.registration(), RegistrationMode::Closed);
        assert_eq!(s.config.keys.rsa_bits, 2048);
        assert!(s.config.keys.refresh_interval_seconds.duration().as_secs() <= 60);
        assert_eq!(s.admin(), AdminListener::Disabled, "the admin API is off by default");
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
        assert_eq!(s.config.login.lock_policy(), expected);
        assert!(s.warnings.is_empty());
        let s = settings(&[("LATCHKEY_LOGIN_MAX_FAILURES", "5"), ("LATCHKEY_LOGIN_LOCK_SECONDS", "2")]).unwrap();
        let limits = s.config.login.lock_policy();
        assert_eq!((limits.max_failures, limits.lock_seconds), (5, 2));
        // The old name still works, with a warning naming the new one.
        let s = settings(&[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "3")]).unwrap();
        assert_eq!(s.config.login.lock_policy().max_failures, 3);
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
        assert_eq!(s.admin(), AdminListener::Public);
        let s = settings(&[("LATCHKEY_ADMIN_ENABLED", "true"), ("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9001")]).unwrap();
        assert_eq!(s.admin(), AdminListener::Separate("127.0.0.1:9001".parse().unwrap()));
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
    fn console_settings() {
        use latchkey_config::ConsoleRole;
        let on = ("LATCHKEY_ADMIN_CONSOLE", "true");
        let s =
            settings(&[on, ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "it-admins=full, helpdesk = support,auditors=read-only")])
                .unwrap();
        let groups = &s.config.admin.console_groups;
        assert_eq!(
            (groups["it-admins"], groups["helpdesk"], groups["auditors"]),
            (ConsoleRole::Full, ConsoleRole::Support, ConsoleRole::ReadOnly)
        );
        assert_eq!(s.config.admin.console_listener(), AdminListener::Public);
        assert_eq!(s.admin(), AdminListener::Disabled, "the console does not turn the admin API on");
        assert_eq!(s.config.admin.console_base_url("https://id.example.com/tenant"), "https://id.example.com/admin");
        // The console alone may have its own listener.
        let s =
            settings(&[on, ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "ops=full"), ("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9001")])
                .unwrap();
        assert_eq!(s.config.admin.console_listener(), AdminListener::Separate("127.0.0.1:9001".parse().unwrap()));
        for (pairs, key, why) in [
            (&[on][..], "admin.console_groups", "nobody could use"),
            (&[on, ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "ops=root")][..], "admin.console_groups", "root"),
            (&[on, ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "ops")][..], "admin.console_groups", "GROUP=ROLE"),
            (
                &[
                    on,
                    ("LATCHKEY_ADMIN_CONSOLE_GROUPS", "ops=full"),
                    ("LATCHKEY_ADMIN_CONSOLE_URL", "http://admin.example.com/admin"),
                ][..],
                "admin.console_url",
                "https",
            ),
        ] {
            let e = settings(pairs).unwrap_err();
            assert_eq!(e.key, key, "{e}");
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
        assert_eq!(s.config.keys.rsa_bits, 3072);
        assert!(s.config.registration.allow_insecure_redirects);
        assert_eq!(s.registration(), RegistrationMode::Token("0123456789abcdef0123".into()));
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
        let c = load(Some(&file), &env_of(&[("LATCHKEY_KEYS_RSA_BITS", "3072")]), None).unwrap().config;
        assert_eq!(c.issuer, "https://a.example");
        assert_eq!(c.keys.rsa_bits, 3072, "the environment wins over the file");
        std::fs::write(&file, "isuer = \"typo\"\n").unwrap();
        let err = load(Some(&file), &env_of(&[]), None).unwrap_err();
        assert!(err.message.contains("isuer"), "{err}");
        assert_eq!(err.at, Some(format!("{}:1:1", file.display())));
        assert!(err.message.contains("did you mean `issuer`?"), "{err}");
        // A typo in a section, a key in the wrong section, a wrong type.
        for (text, at, needle) in [
            ("issuer = \"https://a.example\"\n[keys]\nrsa_bitz = 4096\n", ":3:1", "did you mean `keys.rsa_bits`?"),
            ("[keys]\naccess_token_ttl_seconds = 5\n", ":2:1", "did you mean `tokens.access_token_ttl_seconds`?"),
            ("[keys]\ncolour = 5\n", ":2:1", "the keys allowed in `keys` are algorithm, algorithms, rsa_bits"),
            ("[keys]\nrsa_bits = \"many\"\n", ":2:12", "invalid type"),
            ("[keys\n", ":1:6", "not valid TOML"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = load(Some(&file), &env_of(&[]), None).unwrap_err();
            assert!(err.at.as_deref().is_some_and(|a| a.ends_with(at)), "{text}: {err}");
            assert!(err.to_string().starts_with(&file.display().to_string()), "{err}");
            assert!(err.message.contains(needle), "{text}: {err}");
        }
        // A value the validation refuses is located in the file, unless the
        // environment set it.
        std::fs::write(&file, "issuer = \"https://a.example\"\n\n[keys]\nrsa_bits = 1024\n").unwrap();
        let err = load(Some(&file), &env_of(&[]), None).unwrap_err();
        assert_eq!(err.at, Some(format!("{}:4:1", file.display())));
        assert_eq!(err.key, "keys.rsa_bits");
        let env = env_of(&[("LATCHKEY_KEYS_RSA_BITS", "1024")]);
        let err = load(Some(&file), &env, None).unwrap_err();
        assert_eq!(err.at, None, "set by the environment: {err}");
        let err = load(Some(&dir.join("missing.toml")), &env_of(&[]), None).unwrap_err();
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
        let settings = load(Some(&file), &env_of(&[]), None);
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
            ("[upstream.claims]\nshoe_size = \"size\"\n", "upstream[0].claims.shoe_size", "not a Latchkey claim"),
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
        for (_, key) in latchkey_config::load::variables() {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(text.contains(&format!("{leaf} =")), "example config lacks {key}");
        }
        let s = load(Some(Path::new(example)), &env_of(&[]), None).unwrap();
        let defaults = Config::default();
        assert_eq!(s.config.issuer, defaults.issuer);
        assert_eq!(s.config.keys.rsa_bits, defaults.keys.rsa_bits);
        assert_eq!(s.config.keys.refresh_interval_seconds, defaults.keys.refresh_interval_seconds);
        assert_eq!(s.config.tokens.access_token_ttl_seconds, defaults.tokens.access_token_ttl_seconds);
        assert!(s.redis.is_none() && s.encryption_key.is_none() && s.upstreams.is_empty());
    }

    #[test]
    fn the_command_line_database_url_wins_and_is_named_as_given() {
        let s = load(None, &env_of(&[("LATCHKEY_DATABASE_URL", "sqlite://a.db")]), Some("sqlite://b.db")).unwrap();
        assert_eq!(s.config.database_url, "sqlite://b.db");
        let e = load(None, &env_of(&[]), Some("mysql://x")).unwrap_err();
        assert_eq!((e.key.as_str(), e.at.as_deref()), ("database_url", None));
    }
}
