//! The declarations of [`crate::Config`] as data: every key with its type,
//! doc, default, unit, range and choices, read from the JSON Schema that
//! `schemars` derives from the structs (doc comments, `#[default]`,
//! `#[schemars(range)]`). The loader, the variables and the reference
//! documents are built on this list.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::FILE_ONLY;

/// How a value is written in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// A list of strings; in the environment, comma-separated.
    List,
    /// A table of its own (`[upstream.claims]`): the file only.
    Table,
}

/// One setting.
#[derive(Debug, Clone)]
pub struct Setting {
    /// `tokens.access_token_ttl_seconds`; `upstream.id` for a field of every
    /// `[[upstream]]` table.
    pub key: String,
    /// The part after the section.
    pub name: String,
    pub kind: Kind,
    /// Its doc comment, paragraphs separated by a blank line.
    pub doc: String,
    /// `None`: unset by default (written `""`).
    pub default: Option<Value>,
    /// A value to show where there is no useful default.
    pub example: Option<Value>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// `seconds`, `milliseconds` or `days`.
    pub unit: Option<&'static str>,
    /// The values allowed, when they are a fixed list.
    pub choices: Vec<String>,
}

impl Setting {
    /// The variable that sets it, unless only the file can.
    pub fn env(&self) -> Option<String> {
        (!self.key.starts_with("upstream.")).then(|| crate::env_name(&self.key))
    }

    /// What an error about it names as its variable.
    pub fn env_or_file_only(&self) -> String {
        self.env().unwrap_or_else(|| FILE_ONLY.into())
    }
}

/// A table of the file, with its settings in declaration order.
#[derive(Debug, Clone)]
pub struct Section {
    /// `""` for the top-level keys.
    pub name: String,
    pub doc: String,
    pub settings: Vec<Setting>,
    /// `[[upstream]]`: any number of tables.
    pub repeated: bool,
}

/// Every section, in declaration order; the top-level keys first.
pub fn sections() -> &'static [Section] {
    static SECTIONS: OnceLock<Vec<Section>> = OnceLock::new();
    SECTIONS.get_or_init(|| {
        let schema = schemars::schema_for!(crate::Config);
        read(schema.as_value())
    })
}

/// Every setting, in declaration order.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    sections().iter().flat_map(|s| s.settings.iter())
}

/// The setting of a key (`keys.rsa_bits`, `upstream[0].timeout_seconds`).
pub fn find(key: &str) -> Option<&'static Setting> {
    let key = crate::file::without_indices(key);
    settings().find(|s| s.key == key)
}

fn read(root: &Value) -> Vec<Section> {
    let defs = root.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut top = Section { name: String::new(), doc: String::new(), settings: Vec::new(), repeated: false };
    let mut sections = Vec::new();
    for (name, prop) in properties(root) {
        let resolved = resolve(prop, &defs);
        if resolved.get("type").and_then(Value::as_str) == Some("object") && resolved.get("properties").is_some() {
            sections.push(section(name, &resolved, prop, &defs, false));
        } else if let Some(items) = resolved.get("items").filter(|_| name == "upstream") {
            let mut s = section(name, &resolve(items, &defs), prop, &defs, true);
            s.doc = doc(prop);
            sections.push(s);
        } else {
            top.settings.push(setting(name, name, prop, &defs));
        }
    }
    std::iter::once(top).chain(sections).collect()
}

fn section(name: &str, schema: &Value, prop: &Value, defs: &Map<String, Value>, repeated: bool) -> Section {
    let settings = properties(schema).map(|(key, p)| setting(&format!("{name}.{key}"), key, p, defs)).collect();
    let doc = if doc(prop).is_empty() { doc(schema) } else { doc(prop) };
    Section { name: name.to_string(), doc, settings, repeated }
}

fn properties(schema: &Value) -> impl Iterator<Item = (&str, &Value)> {
    schema.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(k, v)| (k.as_str(), v))
}

/// The schema with its `$ref` replaced by what it names (keeping the
/// property's own keywords), and an optional value's `null` branch dropped.
fn resolve(schema: &Value, defs: &Map<String, Value>) -> Value {
    let mut out = schema.as_object().cloned().unwrap_or_default();
    if let Some(name) = out.remove("$ref").as_ref().and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
        && let Some(Value::Object(def)) = defs.get(name)
    {
        for (k, v) in def {
            if k != "description" || !out.contains_key(k) {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    for combinator in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = out.get(combinator).cloned() else { continue };
        let real: Vec<Value> = branches
            .iter()
            .map(|b| resolve(b, defs))
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        // Unit-only enums with documented variants: one `const` per branch.
        if real.len() > 1 && real.iter().all(|b| b.get("const").is_some()) {
            out.remove(combinator);
            out.insert("type".into(), "string".into());
            out.insert("enum".into(), real.iter().map(|b| b["const"].clone()).collect());
        } else if let [one] = real.as_slice() {
            out.remove(combinator);
            for (k, v) in one.as_object().into_iter().flatten() {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Value::Object(out)
}

fn setting(key: &str, name: &str, prop: &Value, defs: &Map<String, Value>) -> Setting {
    let s = resolve(prop, defs);
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = if types.contains(&"integer") {
        Kind::Int
    } else if types.contains(&"boolean") {
        Kind::Bool
    } else if types.contains(&"array") {
        Kind::List
    } else if types.contains(&"object") {
        Kind::Table
    } else {
        Kind::Str
    };
    let unit = match s.get("x-unit").and_then(Value::as_str) {
        Some("seconds") => Some("seconds"),
        Some("milliseconds") => Some("milliseconds"),
        Some("days") => Some("days"),
        _ => None,
    };
    Setting {
        key: key.to_string(),
        name: name.to_string(),
        kind,
        doc: doc(prop),
        default: s.get("default").filter(|d| !d.is_null()).cloned(),
        example: s.get("examples").and_then(|e| e.get(0)).cloned(),
        min: s.get("minimum").and_then(Value::as_i64),
        max: s.get("maximum").and_then(Value::as_i64),
        unit,
        choices: s
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default(),
    }
}

/// A doc comment as paragraphs: the lines of one paragraph joined.
fn doc(schema: &Value) -> String {
    let title = schema.get("title").and_then(Value::as_str);
    let description = schema.get("description").and_then(Value::as_str);
    let text = match (title, description) {
        (Some(t), Some(d)) => format!("{t}\n\n{d}"),
        (Some(t), None) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => String::new(),
    };
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declarations_are_read_with_their_types_units_and_ranges() {
        let s = find("tokens.access_token_ttl_seconds").unwrap();
        assert_eq!((s.kind, s.unit, s.min, s.max), (Kind::Int, Some("seconds"), Some(1), Some(86_400)));
        assert_eq!(s.default, Some(900.into()));
        assert_eq!(s.doc, "Lifetime of access tokens.");
        assert_eq!(s.env().as_deref(), Some("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS"));
        assert_eq!(find("redis.timeout_ms").unwrap().unit, Some("milliseconds"));
        assert_eq!(find("audit.retention_days").unwrap().unit, Some("days"));
        assert_eq!(find("sessions.end_revokes").unwrap().choices, ["session_bound", "all", "none"]);
        assert_eq!(find("cache.mode").unwrap().choices, ["auto", "on", "off"]);
        assert_eq!(find("registration.mode").unwrap().choices, ["closed", "token", "open"]);
        assert_eq!(find("registration.mode").unwrap().default, None);
        assert_eq!(find("registration.allowed_grant_types").unwrap().kind, Kind::List);
        assert_eq!(find("http.trusted_proxies").unwrap().kind, Kind::List);
        assert_eq!(find("metrics.enabled").unwrap().kind, Kind::Bool);
        assert_eq!(find("admin.listen").unwrap().kind, Kind::Str);
        assert_eq!(find("upstream[3].timeout_seconds").unwrap().max, Some(60));
        assert_eq!(find("upstream.id").unwrap().env(), None);
        assert_eq!(find("upstream.claims").unwrap().kind, Kind::Table);
        assert!(find("login.max_attempts").is_none(), "a renamed key is not declared");
        let names: Vec<&str> = sections().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[..3], ["", "database", "redis"]);
        assert_eq!(names.last(), Some(&"upstream"));
        assert!(sections()[0].settings.iter().any(|s| s.key == "shutdown_timeout_seconds"));
        assert!(settings().count() > 70);
    }
}
