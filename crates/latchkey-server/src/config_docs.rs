//! The documentation names only settings that exist: every `section.key` in
//! backticks, every `LATCHKEY_*` variable and every TOML example in
//! README.md and docs/ is checked against what the configuration loader
//! accepts. Serde and the declarations decide, so nothing here lists the
//! settings a second time.

use std::path::PathBuf;

use crate::config::Config;

/// Tables of the configuration (`[keys]`, `[[upstream]]`, …), as declared.
fn sections() -> impl Iterator<Item = &'static str> {
    latchkey_config::schema::sections().iter().map(|s| s.name.as_str()).filter(|s| !s.is_empty())
}

/// Variables that are not settings: the file, the log filter, those of the
/// tests, scripts/cluster and bench/run, upstream secrets
/// (`LATCHKEY_UPSTREAM_<ID>_CLIENT_SECRET`).
const OTHER_VARIABLES: &[&str] = &["LATCHKEY_CONFIG", "LATCHKEY_LOG", "LATCHKEY_BIN"];
const OTHER_PREFIXES: &[&str] = &["LATCHKEY_TEST_", "LATCHKEY_CLUSTER_", "LATCHKEY_BENCH_", "LATCHKEY_UPSTREAM_"];

fn documents() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("README.md"), root.join("config/latchkey.example.toml")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files.into_iter().map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// Whether serde knows `path` (`keys.rsa_bits`, `upstream.claims`): a value
/// of the wrong type is fine, an unknown field is not.
fn is_setting(path: &str) -> bool {
    if latchkey_config::RENAMED.iter().any(|r| r.old == path) {
        return true;
    }
    let (section, rest) = path.split_once('.').expect("a dotted path");
    let mut leaf = toml::Value::Integer(0);
    for part in rest.rsplit('.') {
        let mut t = toml::Table::new();
        t.insert(part.to_string(), leaf);
        leaf = toml::Value::Table(t);
    }
    if section == "upstream" {
        leaf = toml::Value::Array(vec![leaf]);
    }
    let mut doc = toml::Table::new();
    doc.insert(section.to_string(), leaf);
    match toml::from_str::<Config>(&toml::to_string(&doc).unwrap()) {
        Ok(_) => true,
        Err(e) => !e.message().starts_with("unknown field"),
    }
}

/// Whether the loader reads `var` (as a setting, an alias or an old name of one).
fn is_variable(var: &str) -> bool {
    let prefixed = |p: &&str| format!("{var}_").starts_with(p);
    if OTHER_VARIABLES.contains(&var) || OTHER_PREFIXES.iter().any(prefixed) {
        return true;
    }
    latchkey_config::load::variables().iter().any(|(name, _)| name == var)
}

/// Backticked `a.b` names whose first part is a section.
fn dotted_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        let name = span.trim();
        let ok = i % 2 == 1
            && name.contains('.')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
            && name.split_once('.').is_some_and(|(s, rest)| {
                // A section, or a typo of one (`session.end_revokes`).
                !rest.is_empty() && latchkey_config::file::nearest(s, sections()).is_some()
            })
            && !latchkey_core::audit::KINDS.contains(&name)
            && !["rs", "md", "toml", "json", "sql", "conf", "html", "css", "db", "lua", "sh", "py", "mjs", "yml"]
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")));
        if ok {
            out.push(name.to_string());
        }
    }
    out
}

fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("LATCHKEY_") {
        let tail = &rest[i..];
        let end =
            tail.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(tail.len());
        let var = tail[..end].trim_end_matches('_');
        if var.len() > "LATCHKEY_".len() {
            out.push(var.to_string());
        }
        rest = &tail[end..];
    }
    out
}

/// The text without docs/branding.md's generated list of the values each
/// page template receives (`ui.css_href`, `email.address`, …): those are
/// template values, not settings.
fn without_template_values(text: &str) -> String {
    match (text.find("<!-- pages:start -->"), text.find("<!-- pages:end -->")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &text[..start], &text[end..]),
        _ => text.to_string(),
    }
}

/// The ```` ```toml ```` blocks of a Markdown text.
fn toml_blocks(text: &str) -> Vec<&str> {
    text.split("```toml\n").skip(1).filter_map(|b| b.split("\n```").next()).collect()
}

#[test]
fn every_setting_the_documentation_names_exists() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (file, text) in documents() {
        for name in dotted_names(&without_template_values(&text)) {
            checked += 1;
            if !is_setting(&name) {
                wrong.push(format!("{file}: `{name}` is not a setting"));
            }
        }
        for var in variables(&text) {
            checked += 1;
            if !is_variable(&var) {
                wrong.push(format!("{file}: {var} is not read by Latchkey"));
            }
        }
        for block in toml_blocks(&text) {
            checked += 1;
            if let Err(e) = toml::from_str::<Config>(block)
                && e.message().starts_with("unknown field")
            {
                wrong.push(format!("{file}: a TOML example has an {}", e.message()));
            }
        }
    }
    assert!(checked > 100, "the scan found too little to be right ({checked})");
    assert!(wrong.is_empty(), "the documentation names settings that do not exist:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_catches_what_does_not_exist() {
    assert!(is_setting("keys.rsa_bits") && is_setting("sessions.end_revokes") && is_setting("upstream.claims"));
    assert!(!is_setting("session.end_revokes"), "a typo of the section");
    assert!(!is_setting("keys.rsa_bitz") && !is_setting("upstream.colour") && !is_setting("tokens.address"));
    assert!(is_variable("LATCHKEY_KEYS_RSA_BITS") && is_variable("LATCHKEY_REGISTRATION_TOKEN"));
    assert!(is_variable("LATCHKEY_ISSUER") && is_variable("LATCHKEY_ADMIN_ENABLED"));
    assert!(!is_variable("LATCHKEY_KEYS_RSA_BITZ") && !is_variable("LATCHKEY_SESSION_END_REVOKES"));
    assert_eq!(
        dotted_names("see `session.end_revokes`, `keys.rsa_bits`, `key.rotated` and `cli.rs`"),
        ["session.end_revokes", "keys.rsa_bits"]
    );
    assert_eq!(
        variables("LATCHKEY_LOG=info LATCHKEY_<SECTION>_<KEY> `LATCHKEY_ADMIN_ENABLED`"),
        ["LATCHKEY_LOG", "LATCHKEY_ADMIN_ENABLED"]
    );
}
