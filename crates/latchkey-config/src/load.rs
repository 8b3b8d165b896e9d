//! Loading: the defaults, then the TOML file, then `LATCHKEY_*` variables,
//! layered by figment and read into [`Config`]; then the ranges the
//! declarations give and each section's `validate`. Every error names its
//! key and variable, and the file's line and column when the file set it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::Serialized;

use crate::error::{ConfigError, FILE_ONLY, env_name};
use crate::schema::{self, Kind, Setting};
use crate::settings::{ALIASES, Config, RENAMED, upstream_secret_env};

/// A loaded, checked configuration, and where each value came from (to
/// place errors found later, e.g. when a file it names cannot be read).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// What the operator should change, though it still works (logged by `serve`).
    pub warnings: Vec<String>,
    sources: Sources,
}

#[derive(Debug, Clone, Default)]
struct Sources {
    /// The file and its text.
    file: Option<(PathBuf, String)>,
    /// Keys the environment set.
    env_keys: BTreeSet<String>,
    /// New key → the old name it was set under.
    renamed: Vec<(&'static str, &'static str)>,
}

impl Loaded {
    /// Adds the file position of the key an error names, when the file set
    /// it and the environment did not override it.
    pub fn locate(&self, err: ConfigError) -> ConfigError {
        self.sources.locate(err, false)
    }
}

/// The variables that are read, each with the key it sets: one per declared
/// key, the aliases, and the old names of renamed keys.
pub fn variables() -> Vec<(String, &'static str)> {
    let mut vars: Vec<(String, &'static str)> =
        schema::settings().filter_map(|s| Some((s.env()?, s.key.as_str()))).collect();
    vars.extend(RENAMED.iter().map(|r| (env_name(r.old), r.old)));
    vars.extend(ALIASES.iter().map(|(var, key)| (var.to_string(), *key)));
    vars
}

/// Loads and checks the configuration: the file (if any) and the environment
/// over the defaults.
pub fn load(path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    let mut sources = Sources::default();
    let mut file = toml::Table::new();
    if let Some(path) = path {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
        file = text.parse::<toml::Table>().map_err(|e| syntax_error(path, &text, &e))?;
        sources.file = Some((path.to_path_buf(), text));
    }
    let mut environment = toml::Table::new();
    // The long names win over the aliases.
    let aliases = ALIASES.iter().map(|(var, key)| (var.to_string(), *key));
    let long = variables().into_iter().filter(|(var, _)| !ALIASES.iter().any(|(alias, _)| alias == var));
    for (var, key) in aliases.chain(long) {
        let Some(raw) = env(&var) else { continue };
        set_path(&mut environment, key, env_value(key, kind_of(key), raw)?);
        sources.env_keys.insert(key.to_string());
    }
    let mut warnings = Vec::new();
    for r in RENAMED {
        let (in_file, in_env) = (get_path(&file, r.old).is_some(), sources.env_keys.contains(r.old));
        if !in_file && !in_env {
            continue;
        }
        if get_path(&file, r.new).is_some() || sources.env_keys.contains(r.new) {
            let err = ConfigError::new(
                r.old,
                format!("is the old name of {} ({}); set only that one", r.new, env_name(r.new)),
            );
            return Err(sources.locate(err, false));
        }
        warnings.push(format!(
            "`{}` ({}) is now `{}` ({}) {}; rename it",
            r.old,
            env_name(r.old),
            r.new,
            env_name(r.new),
            r.note
        ));
        for table in [&mut file, &mut environment] {
            if let Some(v) = remove_path(table, r.old) {
                set_path(table, r.new, v);
            }
        }
        sources.renamed.push((r.new, r.old));
    }
    // Upstream client secrets may come from the environment instead of the
    // file: LATCHKEY_UPSTREAM_<ID>_CLIENT_SECRET (id upper-cased, '-' as '_').
    if let Some(toml::Value::Array(list)) = file.get_mut("upstream") {
        for entry in list.iter_mut() {
            let toml::Value::Table(t) = entry else { continue };
            let Some(toml::Value::String(id)) = t.get("id") else { continue };
            if let Some(secret) = env(&upstream_secret_env(id)) {
                t.insert("client_secret".into(), toml::Value::String(secret));
            }
        }
    }

    let figment = Figment::from(Serialized::defaults(Config::default()))
        .merge(Serialized::defaults(file))
        .merge(Serialized::defaults(environment));
    check_declared(&figment).map_err(|e| sources.locate(e, false))?;
    let config: Config = figment.extract().map_err(|e| sources.extraction_error(e))?;
    config.validate().map_err(|e| sources.locate(e, false))?;
    Ok(Loaded { config, warnings, sources })
}

/// How a key is written; a renamed key as its new name is.
fn kind_of(key: &str) -> Kind {
    let key = RENAMED.iter().find(|r| r.old == key).map_or(key, |r| r.new);
    schema::find(key).map_or(Kind::Str, |s| s.kind)
}

/// A variable's text as a value of the key's kind.
fn env_value(key: &str, kind: Kind, raw: String) -> Result<toml::Value, ConfigError> {
    Ok(match kind {
        Kind::Str | Kind::Table => toml::Value::String(raw),
        Kind::Int => toml::Value::Integer(
            raw.trim().parse().map_err(|_| ConfigError::new(key, format!("{raw:?} is not a whole number")))?,
        ),
        Kind::List => toml::Value::Array(
            raw.split(',').map(str::trim).filter(|v| !v.is_empty()).map(|v| toml::Value::String(v.into())).collect(),
        ),
        Kind::Bool => toml::Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(ConfigError::new(key, format!("{raw:?} is not true or false"))),
        }),
    })
}

/// The ranges the declarations give, before the values are read into their
/// types (so that a negative number gets the same message as a large one).
fn check_declared(figment: &Figment) -> Result<(), ConfigError> {
    let check = |key: &str, s: &Setting, value: &figment::value::Value| -> Result<(), ConfigError> {
        let (Some(n), true) = (value.to_i128(), s.min.is_some() || s.max.is_some()) else { return Ok(()) };
        let (min, max) = (s.min.unwrap_or(i64::MIN), s.max.unwrap_or(i64::MAX));
        if n < i128::from(min) || n > i128::from(max) {
            let unit = s.unit.map(|u| format!(" {u}")).unwrap_or_default();
            let range = match s.max {
                Some(_) => format!("{min} to {max}{unit}"),
                None => format!("at least {min}{unit}"),
            };
            return Err(ConfigError {
                key: key.to_string(),
                env: s.env_or_file_only(),
                message: format!("{n} is out of range; use {range}"),
                at: None,
            });
        }
        Ok(())
    };
    for s in schema::settings() {
        if let Some(name) = s.key.strip_prefix("upstream.") {
            let Ok(figment::value::Value::Array(_, list)) = figment.find_value("upstream") else { continue };
            for (i, entry) in list.iter().enumerate() {
                if let Some(v) = entry.as_dict().and_then(|d| d.get(name)) {
                    check(&format!("upstream[{i}].{name}"), s, v)?;
                }
            }
        } else if let Ok(v) = figment.find_value(&s.key) {
            check(&s.key, s, &v)?;
        }
    }
    Ok(())
}

impl Sources {
    /// Where the file sets `key`: its name, or (`value`) its value.
    fn position(&self, key: &str, value: bool) -> Option<String> {
        let (path, text) = self.file.as_ref()?;
        let span = if value { crate::file::value_span(text, key) } else { None }
            .or_else(|| crate::file::key_span(text, key))?;
        Some(crate::file::position(path, text, span.start))
    }

    fn locate(&self, mut err: ConfigError, value: bool) -> ConfigError {
        // An error about a renamed key names the name it was set under.
        if let Some((_, old)) = self.renamed.iter().find(|(new, _)| *new == err.key) {
            err.key = old.to_string();
            err.env = env_name(old);
        }
        if err.at.is_none() && !self.env_keys.contains(&err.key) {
            err.at = self.position(&err.key, value);
        }
        err
    }

    /// A value the types refuse, or a key they do not know.
    fn extraction_error(&self, e: figment::Error) -> ConfigError {
        let e = e.into_iter().next().expect("an error has at least one");
        let key = key_of(&e.path);
        let env = if key.starts_with("upstream") { FILE_ONLY.to_string() } else { env_name(&key) };
        let with_key = |message: String| ConfigError { key: key.clone(), env: env.clone(), message, at: None };
        use figment::error::Kind as K;
        match e.kind {
            K::UnknownField(name, expected) => {
                // The path ends with the unknown name itself.
                let full = if key == name || key.ends_with(&format!(".{name}")) {
                    key.clone()
                } else if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                let message = unknown_key_message(&full, &name, expected);
                let at = self.position(&full, false);
                ConfigError { at, ..ConfigError::new("config", message) }
            }
            K::UnknownVariant(found, expected) => {
                self.locate(with_key(format!("{found:?} is not {}", one_of(expected))), false)
            }
            K::InvalidType(..) => self.locate(with_key(e.kind.to_string()), true),
            K::Message(m) if m.starts_with("invalid type") => self.locate(with_key(m), true),
            // An unknown variant read through `empty_is_none`.
            K::Message(m) if crate::file::unknown_name(&m, "variant").is_some() => {
                let (found, expected) = crate::file::unknown_name(&m, "variant").expect("just matched");
                self.locate(with_key(format!("{found:?} is not {}", one_of(&expected))), false)
            }
            kind => self.locate(with_key(kind.to_string()), false),
        }
    }
}

/// `upstream.0.claims` → `upstream[0].claims`; the index of an element of
/// any other list is dropped (`http.trusted_proxies`).
fn key_of(path: &[String]) -> String {
    let mut key = String::new();
    let mut last = "";
    for seg in path {
        if seg.parse::<usize>().is_ok() {
            if last == "upstream" {
                key.push_str(&format!("[{seg}]"));
            }
            continue;
        }
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(seg);
        last = seg;
    }
    key
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "allowed here".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// "unknown key `keys.rsa_bitz`; did you mean `keys.rsa_bits`?", or where a
/// key of that name belongs, or the keys allowed there.
fn unknown_key_message(full: &str, name: &str, expected: &[&str]) -> String {
    let section = full.rsplit_once('.').map(|(s, _)| s);
    if let Some(near) = crate::file::nearest(name, expected.iter().copied()) {
        let near = section.map(|s| format!("{s}.{near}")).unwrap_or_else(|| near.to_string());
        return format!("unknown key `{full}`; did you mean `{near}`?");
    }
    // The right name in the wrong section: `[keys] access_token_ttl_seconds`.
    let plain = crate::file::without_indices(full);
    if let Some(elsewhere) = schema::settings().find(|s| s.name == name && s.key != plain) {
        return format!("unknown key `{full}`; did you mean `{}`?", elsewhere.key);
    }
    let place = section.map(|s| format!(" in `{s}`")).unwrap_or_default();
    format!("unknown key `{full}`; the keys allowed{place} are {}", expected.join(", "))
}

/// A file that is not TOML, at the line and column where it stops being so.
fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let message = format!("is not valid TOML: {}", e.message().trim_end());
    match e.span() {
        Some(span) => ConfigError {
            at: Some(crate::file::position(path, text, span.start)),
            ..ConfigError::new("config", message)
        },
        None => ConfigError::new("config", format!("{}: {message}", path.display())),
    }
}

fn get_path<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    match key.split_once('.') {
        None => table.get(key),
        Some((section, rest)) => get_path(table.get(section)?.as_table()?, rest),
    }
}

fn remove_path(table: &mut toml::Table, key: &str) -> Option<toml::Value> {
    match key.split_once('.') {
        None => table.remove(key),
        Some((section, rest)) => remove_path(table.get_mut(section)?.as_table_mut()?, rest),
    }
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

    fn from_env(pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        load(None, &env_of(pairs))
    }

    fn from_file(text: &str, pairs: &[(&str, &str)]) -> (PathBuf, Result<Loaded, ConfigError>) {
        let dir = std::env::temp_dir().join(format!("latchkey-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{:x}.toml", text.bytes().map(usize::from).sum::<usize>() * 31 + text.len()));
        std::fs::write(&file, text).unwrap();
        let loaded = load(Some(&file), &env_of(pairs));
        (file, loaded)
    }

    #[test]
    fn every_declared_key_has_its_variable_and_no_two_share_one() {
        let vars = variables();
        let mut names: Vec<&str> = vars.iter().map(|(v, _)| v.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), vars.len(), "two keys map to one variable");
        for (var, key) in [
            ("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "tokens.access_token_ttl_seconds"),
            ("LATCHKEY_REGISTRATION_TOKEN", "registration.initial_access_token"),
            ("LATCHKEY_LOGIN_MAX_ATTEMPTS", "login.max_attempts"),
            ("LATCHKEY_SHUTDOWN_TIMEOUT_SECONDS", "shutdown_timeout_seconds"),
        ] {
            assert!(vars.iter().any(|(v, k)| v == var && *k == key), "{var}");
        }
        assert!(!vars.iter().any(|(v, _)| v.starts_with("LATCHKEY_UPSTREAM_")), "upstream tables are the file's");
    }

    #[test]
    fn variables_are_read_by_the_kind_of_their_key() {
        let c = from_env(&[
            ("LATCHKEY_HTTP_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("LATCHKEY_REGISTRATION_ALLOWED_GRANT_TYPES", "authorization_code,refresh_token"),
            ("LATCHKEY_METRICS_ENABLED", "off"),
            ("LATCHKEY_ADMIN_ENABLED", "yes"),
            ("LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9001"),
            ("LATCHKEY_REDIS_URL", ""),
            ("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "20"),
            ("LATCHKEY_REDIS_TIMEOUT_MS", "1500"),
            ("LATCHKEY_SESSIONS_END_REVOKES", "none"),
        ])
        .unwrap()
        .config;
        assert_eq!(c.http.trusted_proxies.iter().map(|r| r.to_string()).collect::<Vec<_>>(), ["10.0.0.0/8", "::1"]);
        assert_eq!(c.registration.allowed_grant_types.len(), 2);
        assert!(!c.metrics.enabled && c.admin.enabled);
        assert_eq!(c.admin.listen, Some("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(c.redis_url, None, "empty is unset");
        assert_eq!(c.tokens.refresh_grace_seconds.duration(), std::time::Duration::from_secs(20));
        assert_eq!(c.redis.timeout_ms.duration(), std::time::Duration::from_millis(1500));
        assert_eq!(c.sessions.end_revokes, crate::EndRevokes::Nothing);
        // The long name wins over the alias.
        let c = from_env(&[
            ("LATCHKEY_REGISTRATION_TOKEN", "short-alias-token-0000"),
            ("LATCHKEY_REGISTRATION_INITIAL_ACCESS_TOKEN", "long-name-token-000000"),
        ])
        .unwrap()
        .config;
        assert_eq!(c.registration.initial_access_token.as_deref(), Some("long-name-token-000000"));
    }

    #[test]
    fn refused_values_name_the_key_the_variable_and_the_choices() {
        for (pairs, key, needle) in [
            (&[("LATCHKEY_METRICS_ENABLED", "maybe")][..], "metrics.enabled", "not true or false"),
            (&[("LATCHKEY_LOG_FORMAT", "xml")][..], "log_format", "\"xml\" is not text or json"),
            (&[("LATCHKEY_CACHE_MODE", "sometimes")][..], "cache.mode", "is not auto, on or off"),
            (&[("LATCHKEY_HTTP_TRUSTED_PROXIES", "10.0.0.0/33")][..], "http.trusted_proxies", "CIDR"),
            (
                &[("LATCHKEY_REGISTRATION_ALLOWED_GRANT_TYPES", "password")][..],
                "registration.allowed_grant_types",
                "is not",
            ),
            (&[("LATCHKEY_TOKENS_CODE_TTL_SECONDS", "-5")][..], "tokens.code_ttl_seconds", "use 1 to 600 seconds"),
            (&[("LATCHKEY_GC_BATCH_SIZE", "0")][..], "gc.batch_size", "use 1 to 100000"),
            (&[("LATCHKEY_AUDIT_RETENTION_DAYS", "99999")][..], "audit.retention_days", "days"),
            (&[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "-1")][..], "login.max_attempts", "out of range"),
            (
                &[
                    ("LATCHKEY_EMAIL_SMTP_URL", "http://user:s3cret@mail.example"),
                    ("LATCHKEY_EMAIL_FROM", "id@example.com"),
                ][..],
                "email.smtp_url",
                "use smtp://HOST:PORT, smtp+starttls://HOST:PORT or smtps://HOST:PORT",
            ),
            (&[("LATCHKEY_EMAIL_SMTP_URL", "smtp://127.0.0.1:25")][..], "email.from", "must be set"),
            (
                &[("LATCHKEY_EMAIL_SMTP_URL", "smtp://127.0.0.1:25"), ("LATCHKEY_EMAIL_FROM", "Example ID")][..],
                "email.from",
                "is not an address",
            ),
        ] {
            let e = from_env(pairs).unwrap_err();
            assert_eq!(e.key, key, "{pairs:?}: {e}");
            assert_eq!(e.env, env_name(key));
            assert!(e.to_string().contains(needle), "{pairs:?}: {e}");
            assert!(!e.to_string().contains("s3cret"), "no password in messages: {e}");
        }
        let ok = from_env(&[
            ("LATCHKEY_EMAIL_SMTP_URL", "smtp+starttls://apikey:s3cret@smtp.example.com:587"),
            ("LATCHKEY_EMAIL_FROM", "Example ID <id@example.com>"),
        ])
        .unwrap();
        assert!(ok.config.email.enabled());
        assert!(!from_env(&[]).unwrap().config.email.enabled(), "off by default");
    }

    #[test]
    fn open_sign_up_that_needs_a_confirmed_address_needs_email() {
        let e = from_env(&[("LATCHKEY_SIGNUP_MODE", "open")]).unwrap_err();
        assert_eq!(e.key, "signup.require_verified_email");
        assert!(e.to_string().contains("email.smtp_url"), "{e}");
        let without =
            from_env(&[("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_SIGNUP_REQUIRE_VERIFIED_EMAIL", "false")]);
        assert!(without.is_ok());
        let with_email = from_env(&[
            ("LATCHKEY_SIGNUP_MODE", "open"),
            ("LATCHKEY_EMAIL_SMTP_URL", "smtp://127.0.0.1:25"),
            ("LATCHKEY_EMAIL_FROM", "id@example.com"),
            ("LATCHKEY_SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com,example.org"),
        ])
        .unwrap();
        assert_eq!(with_email.config.signup.allowed_email_domains(), ["example.com", "example.org"]);
        assert_eq!(from_env(&[]).unwrap().config.signup.mode, crate::settings::SignupMode::Closed, "closed by default");
        assert!(from_env(&[("LATCHKEY_SIGNUP_MODE", "invite")]).is_ok(), "invitations need no email");
        let e = from_env(&[("LATCHKEY_SIGNUP_MODE", "sometimes")]).unwrap_err();
        assert_eq!(e.key, "signup.mode");
        let e = from_env(&[("LATCHKEY_PASSWORD_MIN_LENGTH", "6")]).unwrap_err();
        assert_eq!(e.key, "password.min_length", "NIST's minimum is 8: {e}");
    }

    #[test]
    fn an_old_name_works_with_a_warning_and_not_beside_the_new_one() {
        let (_, l) = from_file("[login]\nmax_attempts = 4\n", &[]);
        let l = l.unwrap();
        assert_eq!(l.config.login.max_failures, 4);
        assert!(l.warnings[0].contains("LATCHKEY_LOGIN_MAX_FAILURES"), "{:?}", l.warnings);
        let (file, l) = from_file("[login]\nmax_attempts = 4\n", &[("LATCHKEY_LOGIN_MAX_FAILURES", "5")]);
        let e = l.unwrap_err();
        assert_eq!(e.key, "login.max_attempts");
        assert!(e.message.contains("login.max_failures"), "{e}");
        assert_eq!(e.at, Some(format!("{}:2:1", file.display())));
    }

    #[test]
    fn file_errors_point_at_the_key_or_the_value() {
        let (file, l) = from_file("[cache]\nmode = \"sometimes\"\n", &[]);
        let e = l.unwrap_err();
        assert_eq!((e.key.as_str(), e.at), ("cache.mode", Some(format!("{}:2:1", file.display()))));
        let (file, l) = from_file("[http]\nmax_connections = \"many\"\n", &[]);
        let e = l.unwrap_err();
        assert_eq!(e.key, "http.max_connections");
        assert_eq!(e.at, Some(format!("{}:2:19", file.display())), "{e}");
        let (_, l) = from_file("[[upstream]]\nid = \"a\"\ntimeout_seconds = 0\n", &[]);
        let e = l.unwrap_err();
        assert_eq!((e.key.as_str(), e.env.as_str()), ("upstream[0].timeout_seconds", FILE_ONLY));
        assert!(e.at.unwrap().ends_with(":3:1"));
        let (_, l) = from_file("[[upstream]]\nid = \"a\"\ncolour = 1\n", &[]);
        let e = l.unwrap_err();
        assert!(e.message.contains("unknown key `upstream[0].colour`"), "{e}");
    }

    #[test]
    fn upstream_secrets_come_from_their_variable() {
        let text = "[[upstream]]\nid = \"corp-sso\"\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n";
        let (_, l) = from_file(text, &[("LATCHKEY_UPSTREAM_CORP_SSO_CLIENT_SECRET", "s3cret")]);
        assert_eq!(l.unwrap().config.upstreams[0].client_secret.as_deref(), Some("s3cret"));
    }
}
