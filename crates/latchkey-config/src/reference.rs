//! The reference documents, written from the declarations:
//! `config/latchkey.example.toml` and the settings table of README.md. A
//! test compares them with the files, so neither can drift from the code;
//! `UPDATE_REFERENCE=1 cargo test -p latchkey-config` rewrites them.

use serde_json::Value;

use crate::schema::{self, Kind, Section, Setting};

const WIDTH: usize = 78;

/// Where the README's table starts and ends.
pub const README_START: &str = "<!-- settings table: generated from crates/latchkey-config/src/settings.rs -->";
pub const README_END: &str = "<!-- end of settings table -->";

const HEADER: &str = "\
Latchkey configuration. Every key is shown with its default value. Each key
can also be set from the environment: LATCHKEY_<SECTION>_<KEY>, e.g.
`keys.rsa_bits` -> LATCHKEY_KEYS_RSA_BITS. The environment wins over this
file. Pass the file with `latchkey --config PATH ...` or LATCHKEY_CONFIG.

Written from the declarations in crates/latchkey-config/src/settings.rs by
`UPDATE_REFERENCE=1 cargo test -p latchkey-config`; edit those, not this.";

/// `config/latchkey.example.toml`.
pub fn example_toml() -> String {
    let mut out = String::new();
    for line in HEADER.lines() {
        out.push_str(&comment(line));
    }
    for section in schema::sections() {
        if section.repeated {
            out.push('\n');
            repeated(&mut out, section);
            continue;
        }
        if !section.name.is_empty() {
            out.push_str(&format!("\n[{}]\n", section.name));
            wrap_into(&mut out, &section.doc, "# ");
            out.push_str("#\n");
        }
        for s in &section.settings {
            if section.name.is_empty() {
                out.push('\n');
            }
            wrap_into(&mut out, &described(s), "# ");
            out.push_str(&format!("{} = {}\n", s.name, toml_value(s.default.as_ref())));
        }
    }
    out
}

/// A `[[upstream]]`-like section: commented out, with example values.
fn repeated(out: &mut String, section: &Section) {
    wrap_into(out, &section.doc, "# ");
    out.push_str("#\n");
    out.push_str(&format!("# [[{}]]\n", section.name));
    let (tables, plain): (Vec<&Setting>, Vec<&Setting>) = section.settings.iter().partition(|s| s.kind == Kind::Table);
    for s in plain {
        wrap_into(out, &described(s), "#   ");
        let value = s.example.as_ref().or(s.default.as_ref());
        out.push_str(&format!("# {} = {}\n", s.name, toml_value(value)));
    }
    for s in tables {
        wrap_into(out, &described(s), "#   ");
        out.push_str(&format!("# [{}.{}]\n", section.name, s.name));
        if let Some(Value::Object(map)) = &s.example {
            for (k, v) in map {
                out.push_str(&format!("# {k} = {}\n", toml_value(Some(v))));
            }
        }
    }
}

/// The doc, and the unit and range when there is one.
fn described(s: &Setting) -> String {
    let range = match (s.min, s.max) {
        (Some(min), Some(max)) => Some(format!("{min} to {max}")),
        (None, Some(max)) => Some(format!("at most {max}")),
        _ => None,
    };
    let bounds = match (s.unit, range) {
        (Some(unit), Some(range)) => format!("{unit}, {range}"),
        (Some(unit), None) => unit.to_string(),
        (None, Some(range)) => range,
        (None, None) => return s.doc.clone(),
    };
    format!("{} ({bounds})", s.doc)
}

/// The settings table of README.md, between its markers.
pub fn readme_table() -> String {
    let mut out = format!("{README_START}\n| key | default | what |\n|---|---|---|\n");
    for s in schema::sections().iter().filter(|s| !s.repeated).flat_map(|s| &s.settings) {
        let first = described(&Setting { doc: s.doc.split("\n\n").next().unwrap_or("").to_string(), ..s.clone() });
        let default = match s.default.as_ref() {
            None => "empty".to_string(),
            Some(Value::String(v)) if v.is_empty() => "empty".to_string(),
            Some(v) => format!("`{}`", toml_value(Some(v)).trim_matches('"')),
        };
        out.push_str(&format!("| `{}` | {default} | {} |\n", s.key, first.replace('|', "\\|")));
    }
    out.push_str(README_END);
    out
}

/// The README with its table replaced by `table`.
pub fn with_readme_table(readme: &str, table: &str) -> Option<String> {
    let start = readme.find(README_START)?;
    let end = readme[start..].find(README_END)? + start + README_END.len();
    Some(format!("{}{table}{}", &readme[..start], &readme[end..]))
}

fn toml_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "\"\"".into(),
        Some(v) => match toml::Value::try_from(v) {
            Ok(t) => t.to_string(),
            Err(_) => v.to_string(),
        },
    }
}

fn comment(line: &str) -> String {
    if line.is_empty() { "#\n".into() } else { format!("# {line}\n") }
}

/// `text`'s paragraphs as comment lines of at most [`WIDTH`] characters.
fn wrap_into(out: &mut String, text: &str, prefix: &str) {
    for (i, paragraph) in text.split("\n\n").filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            out.push_str(prefix.trim_end());
            out.push('\n');
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && prefix.len() + line.len() + 1 + word.len() > WIDTH {
                out.push_str(&format!("{prefix}{line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(&format!("{prefix}{line}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The example file and the README's table say what the declarations
    /// say; with UPDATE_REFERENCE=1 they are rewritten instead.
    #[test]
    fn the_reference_documents_are_written_from_the_declarations() {
        let update = std::env::var_os("UPDATE_REFERENCE").is_some();
        let example = root().join("config/latchkey.example.toml");
        let readme_path = root().join("README.md");
        let readme = std::fs::read_to_string(&readme_path).unwrap();
        let wanted_readme = with_readme_table(&readme, &readme_table()).expect("README.md has the table's markers");
        if update {
            std::fs::write(&example, example_toml()).unwrap();
            std::fs::write(&readme_path, &wanted_readme).unwrap();
        }
        let current = std::fs::read_to_string(&example).unwrap();
        assert!(
            current == example_toml(),
            "config/latchkey.example.toml differs from the declarations; run UPDATE_REFERENCE=1 cargo test -p latchkey-config"
        );
        assert!(
            readme == wanted_readme || update,
            "README.md's settings table differs from the declarations; run UPDATE_REFERENCE=1 cargo test -p latchkey-config"
        );
    }

    #[test]
    fn the_example_file_loads_to_the_defaults() {
        let example = root().join("config/latchkey.example.toml");
        let loaded = crate::load(Some(&example), &|_| None).unwrap();
        let defaults = crate::Config::default();
        assert_eq!(serde_json::to_value(&loaded.config).unwrap(), serde_json::to_value(&defaults).unwrap());
        let text = example_toml();
        for s in schema::settings() {
            assert!(text.contains(&format!("{} =", s.name)), "the example lacks {}", s.key);
        }
        assert!(text.contains("# [[upstream]]\n") && text.contains("# [upstream.claims]\n"));
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH || !l.starts_with('#')), "{text}");
    }

    #[test]
    fn comments_wrap_by_words() {
        let mut out = String::new();
        wrap_into(&mut out, &"word ".repeat(30), "# ");
        assert!(out.lines().all(|l| l.len() <= WIDTH && l.starts_with("# word")), "{out}");
        assert_eq!(out.split_whitespace().filter(|w| *w == "word").count(), 30);
    }
}
