use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_syntax::ast;

use super::*;

/// Every message of a catalog with the variables it uses.
fn messages(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let resource = fluent_syntax::parser::parse(source).unwrap_or_else(|(_, errors)| panic!("{errors:?}"));
    let mut out = BTreeMap::new();
    for entry in resource.body {
        if let ast::Entry::Message(m) = entry {
            let mut vars = BTreeSet::new();
            if let Some(p) = &m.value {
                pattern_variables(p, &mut vars);
            }
            for a in &m.attributes {
                pattern_variables(&a.value, &mut vars);
            }
            out.insert(m.id.name.to_string(), vars);
        }
    }
    out
}

fn pattern_variables(pattern: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, vars);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_variables(selector, vars);
            for v in variants {
                pattern_variables(&v.value, vars);
            }
        }
        ast::Expression::Inline(inline) => inline_variables(inline, vars),
    }
}

fn inline_variables(inline: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_variables(a, vars);
            }
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, vars),
        _ => {}
    }
}

#[test]
fn every_catalog_has_exactly_the_english_messages_with_the_same_variables() {
    let english = messages(SOURCES[0].1);
    assert!(english.len() > 10, "the English catalog is nearly empty");
    for (language, source) in &SOURCES[1..] {
        let other = messages(source);
        let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
        assert!(missing.is_empty(), "locales/{language}.ftl lacks {missing:?}");
        let extra: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(extra.is_empty(), "locales/{language}.ftl has messages English lacks: {extra:?}");
        for (id, vars) in &english {
            assert_eq!(&other[id], vars, "locales/{language}.ftl: {id} uses other variables than English");
        }
    }
}

#[test]
fn every_catalog_parses_and_formats_without_errors() {
    load();
    for (language, source) in SOURCES {
        let bundle = language.bundle();
        for (id, vars) in messages(source) {
            let mut args = FluentArgs::new();
            for v in &vars {
                args.set(v.clone(), FluentValue::from(2));
            }
            let pattern = bundle.get_message(&id).and_then(|m| m.value()).expect("a value");
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
            assert!(errors.is_empty(), "{language}: {id}: {errors:?}");
            assert!(!text.trim().is_empty(), "{language}: {id} is empty");
        }
    }
}

/// The message ids used in templates (`ui.t("…")`, `ui.t_with("…"`) and in
/// Rust code (`Text::new("…")`, `.message("…")`, …) exist in English.
#[test]
fn every_message_used_exists_in_english() {
    let english = messages(SOURCES[0].1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    collect(&root.join("templates"), &mut files);
    collect(&root.join("crates"), &mut files);
    let calls = [
        "t(\"",
        "t_with(\"",
        "t_with2(\"",
        "Text::new(\"",
        "Text::with(\"",
        "Text::with_message(\"",
        "message(\"",
        "message_with(\"",
    ];
    let mut used = 0;
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for call in calls {
            for (at, _) in source.match_indices(call) {
                let before = source[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &source[at + call.len()..];
                let id = &rest[..rest.find('"').unwrap()];
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    continue;
                }
                used += 1;
                assert!(english.contains_key(id), "{}: message {id:?} is not in locales/en.ftl", file.display());
            }
        }
    }
    assert!(used > 10, "found only {used} uses of messages");
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") {
                collect(&path, files);
            }
        } else if path.extension().is_some_and(|e| e == "html" || e == "txt" || e == "rs")
            && !path.ends_with("latchkey-i18n/src/tests.rs")
        {
            files.push(path);
        }
    }
}

#[test]
fn a_message_missing_from_a_catalog_falls_back_to_english() {
    let english = bundle_of(Language::En, "hello = Hello { $name }\nbye = Bye\n");
    let german = bundle_of(Language::De, "bye = Tschüss\n");
    let mut args = FluentArgs::new();
    args.set("name", "Ann");
    assert_eq!(format_from([&german, &english], "bye", None), "Tschüss");
    assert_eq!(format_from([&german, &english], "hello", Some(&args)), "Hello Ann");
    assert_eq!(format_from([&german, &english], "nowhere", None), "nowhere");
}

fn bundle_of(language: Language, source: &str) -> FluentBundle<FluentResource> {
    let mut bundle = FluentBundle::new_concurrent(vec![language.tag().parse().unwrap()]);
    bundle.set_use_isolating(false);
    bundle.add_resource(FluentResource::try_new(source.to_string()).unwrap()).unwrap();
    bundle
}

#[test]
fn plurals_follow_the_number() {
    for language in Language::ALL {
        let one = language.message_with("email-reset-valid", &[("minutes", Arg::from(1))]);
        let many = language.message_with("email-reset-valid", &[("minutes", Arg::from(30))]);
        assert_ne!(one.replace('1', ""), many.replace("30", ""), "{language}: {one} / {many}");
    }
}

#[test]
fn ui_locales_take_the_first_shipped_language() {
    assert_eq!(Language::from_ui_locales("ja de-CH fr"), Some(Language::De));
    assert_eq!(Language::from_ui_locales("FR-ca"), Some(Language::Fr));
    assert_eq!(Language::from_ui_locales("ja zh"), None);
    assert_eq!(Language::from_ui_locales(""), None);
}

#[test]
fn accept_language_is_negotiated_by_quality() {
    let pick = Language::from_accept_language;
    assert_eq!(pick("de-DE,de;q=0.9,en;q=0.8"), Some(Language::De));
    assert_eq!(pick("en;q=0.5, fr;q=0.8, de;q=0.7"), Some(Language::Fr));
    assert_eq!(pick("ja, fr;q=0.1"), Some(Language::Fr));
    assert_eq!(pick("fr;q=0, de;q=0.001"), Some(Language::De));
    assert_eq!(pick("de;q=0.5, fr;q=0.5"), Some(Language::De), "ties keep the header's order");
    assert_eq!(pick("*"), None);
    assert_eq!(pick("ja, zh-CN;q=0.9"), None);
    assert_eq!(pick("de;q=2, fr;q=abc, en;q=0.3"), Some(Language::En), "invalid q-values count as 0");
    assert_eq!(pick(""), None);
}

#[test]
fn ui_locales_beat_the_account_which_beats_the_browser() {
    assert_eq!(negotiate(Some("fr"), Some("de"), Some("en")), Language::Fr);
    assert_eq!(negotiate(Some("ja"), Some("de"), Some("fr")), Language::De);
    assert_eq!(negotiate(None, Some("it"), Some("fr")), Language::Fr);
    assert_eq!(negotiate(None, None, Some("ja")), Language::En);
    assert_eq!(negotiate(None, None, None), Language::En);
}
