//! Template overrides (`ui.templates_dir`, docs/branding.md): a file named
//! like a built-in page or email (`login.html`, `email/password_reset.txt`)
//! replaces it, without rebuilding. The built-in templates are askama,
//! compiled into the binary; overrides are Jinja, compiled by minijinja at
//! startup and given the same values the built-in template gets.
//!
//! Everything is checked before the server starts: a file that does not
//! parse, names a template Latchkey does not render, or uses a variable
//! its template does not receive stops it, with the file and line. Each
//! override is also rendered once against a sample of its values, with
//! undefined values an error (strict), so that a typo in a branch the
//! static check cannot see is caught too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use latchkey_i18n::{Arg, Language};
use minijinja::value::{Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior};

/// A template Latchkey renders, and a sample of the values it receives
/// (the static check and the trial render use it).
pub struct Known {
    pub name: &'static str,
    pub sample: Value,
}

/// Templates that must not be overridden, and why.
const RESERVED: &[(&str, &str)] = &[
    (
        "base.html",
        "the built-in pages are compiled with the built-in layout; restyle them with ui.color_* and \
         ui.stylesheet, or override pages and have them extend your own layout (e.g. _layout.html)",
    ),
    ("email/layout.html", "the built-in emails are compiled with it; have overridden emails extend your own layout"),
];

/// Why the overrides cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template { path: PathBuf, line: Option<usize>, message: String },
}

/// The compiled overrides.
pub struct Overrides {
    env: Environment<'static>,
    /// Known templates that have an override.
    overridden: BTreeSet<String>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides").field("overridden", &self.overridden).finish()
    }
}

impl Overrides {
    /// Reads and checks every template under `dir`. Files whose name
    /// starts with `_` are partials (layouts, includes) for overrides to
    /// use; every other file must be named like one of `known`.
    pub fn load(dir: &Path, known: &[Known]) -> Result<Self, OverrideError> {
        let mut files = BTreeMap::new();
        collect(dir, dir, &mut files)?;
        let known_by_name: BTreeMap<&str, &Value> = known.iter().map(|k| (k.name, &k.sample)).collect();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
        let mut overridden = BTreeSet::new();
        for (name, (path, source)) in &files {
            let template_error = |line, message: String| OverrideError::Template { path: path.clone(), line, message };
            if let Some((_, why)) = RESERVED.iter().find(|(r, _)| r == name) {
                return Err(template_error(None, format!("{name} cannot be overridden: {why}")));
            }
            let partial = name.rsplit('/').next().is_some_and(|file| file.starts_with('_'));
            if !partial && !known_by_name.contains_key(name.as_str()) {
                let names: Vec<&str> = known_by_name.keys().copied().collect();
                return Err(template_error(
                    None,
                    format!(
                        "Latchkey renders no template named {name}; name a partial _{name}, or override one of: {}",
                        names.join(", ")
                    ),
                ));
            }
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|e| template_error(e.line(), e.detail().unwrap_or("syntax error").to_string()))?;
            if !partial {
                overridden.insert(name.clone());
            }
        }
        let globals: BTreeSet<String> = env.globals().map(|(name, _)| name.to_string()).collect();
        for name in &overridden {
            let (path, source) = &files[name];
            let sample = known_by_name[name.as_str()];
            let template = env.get_template(name).expect("added above");
            for variable in template.undeclared_variables(true) {
                if let Some(message) = unknown(&variable, sample, &globals) {
                    return Err(OverrideError::Template {
                        path: path.clone(),
                        line: line_of(source, &variable),
                        message: format!("{message}; {name} receives: {}", receives(sample)),
                    });
                }
            }
            template.render(sample.clone()).map_err(|outer| {
                // An error in an included or extended template is the innermost source.
                let mut e = &outer;
                while let Some(inner) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<minijinja::Error>())
                {
                    e = inner;
                }
                let at = e.name().and_then(|n| files.get(n)).map(|(p, _)| p.clone()).unwrap_or_else(|| path.clone());
                let mut message = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
                if e.kind() == minijinja::ErrorKind::UndefinedError {
                    message = format!("{message} (an undefined value; {name} receives: {})", receives(sample));
                }
                OverrideError::Template { path: at, line: e.line(), message: format!("rendering a sample: {message}") }
            })?;
        }
        Ok(Self { env, overridden })
    }

    /// Whether `name` is overridden.
    pub fn has(&self, name: &str) -> bool {
        self.overridden.contains(name)
    }

    /// Renders the override of `name` with `context`; `None` when there is
    /// none.
    pub fn render(&self, name: &str, context: Value) -> Option<Result<String, minijinja::Error>> {
        if !self.has(name) {
            return None;
        }
        Some(self.env.get_template(name).and_then(|t| t.render(context)))
    }

    /// The overridden templates.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.overridden.iter().map(String::as_str)
    }
}

/// A language in an override's values, answering like the built-in
/// templates' `lang`: `{{ lang }}` is its tag (`de`), `{{ lang.t(id) }}`
/// the message `id` in it, `{{ lang.t_with(id, name, value) }}` and
/// `{{ lang.t_with2(id, name, value, name2, value2) }}` one with variables.
#[derive(Debug, Clone, Copy)]
pub struct Catalog(pub Language);

impl Catalog {
    pub fn value(lang: Language) -> Value {
        Value::from_object(Self(lang))
    }
}

impl Object for Catalog {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.tag())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        let lang = self.0;
        let text = match method {
            "t" => {
                let (id,): (&str,) = from_args(args)?;
                lang.message(id)
            }
            "t_with" => {
                let (id, name, value): (&str, &str, Value) = from_args(args)?;
                lang.message_with(id, &[(name, arg(&value))])
            }
            "t_with2" => {
                let (id, name, value, name2, value2): (&str, &str, Value, &str, Value) = from_args(args)?;
                lang.message_with(id, &[(name, arg(&value)), (name2, arg(&value2))])
            }
            _ => return Err(minijinja::Error::from(ErrorKind::UnknownMethod)),
        };
        Ok(Value::from(text))
    }
}

/// A template's value as a message variable: numbers stay numbers (for
/// plurals), anything else is its text.
pub fn arg(value: &Value) -> Arg<'static> {
    match value.as_i64() {
        Some(n) => Arg::Number(n),
        None => Arg::from(value.to_string()),
    }
}

/// The variables a template receives, from its sample, one level of
/// attributes spelt out: `ui.product_name, action, …`.
pub fn variables(sample: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(keys) = sample.try_iter() {
        for key in keys {
            let name = key.to_string();
            let value = sample.get_attr(&name).unwrap_or_default();
            if value.kind() == ValueKind::Map {
                let nested: Vec<String> =
                    value.try_iter().map(|k| k.map(|k| k.to_string()).collect()).unwrap_or_default();
                out.extend(nested.into_iter().map(|n| format!("{name}.{n}")));
            } else {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn receives(sample: &Value) -> String {
    let mut top: Vec<String> = sample.try_iter().map(|k| k.map(|k| k.to_string()).collect()).unwrap_or_default();
    top.sort();
    top.join(", ")
}

/// Why `path` (`ui.product_name`) is not among the values in `sample`, if
/// it is not. Attributes are checked where the sample holds a map; a value
/// the sample leaves empty (`None`) is not looked into.
fn unknown(path: &str, sample: &Value, globals: &BTreeSet<String>) -> Option<String> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    if globals.contains(first) || matches!(first, "loop" | "self" | "super" | "caller" | "varargs" | "kwargs") {
        return None;
    }
    let mut value = sample.get_attr(first).ok().filter(|v| !v.is_undefined());
    if value.is_none() {
        return Some(format!("unknown variable `{first}`"));
    }
    let mut walked = first.to_string();
    for part in parts {
        let current = value.take()?;
        if current.kind() != ValueKind::Map {
            return None;
        }
        match current.get_attr(part) {
            Ok(v) if !v.is_undefined() => value = Some(v),
            _ => return Some(format!("`{walked}` has no `{part}`")),
        }
        walked.push('.');
        walked.push_str(part);
    }
    None
}

/// The first line of `source` that mentions the last part of `variable`.
fn line_of(source: &str, variable: &str) -> Option<usize> {
    let word = variable.rsplit('.').next()?;
    source.lines().position(|l| l.contains(word)).map(|i| i + 1)
}

fn read_err(path: &Path) -> impl Fn(std::io::Error) -> OverrideError + '_ {
    move |source| OverrideError::Read { path: path.to_path_buf(), source }
}

/// Every file under `dir`, by its name relative to `root` with `/`
/// separators. Hidden files (editor leftovers, `.git`) are skipped.
fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, (PathBuf, String)>) -> Result<(), OverrideError> {
    let entries = std::fs::read_dir(dir).map_err(read_err(dir))?;
    for entry in entries {
        let entry = entry.map_err(read_err(dir))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out)?;
            continue;
        }
        let name = path
            .strip_prefix(root)
            .expect("under root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let source = std::fs::read_to_string(&path).map_err(read_err(&path))?;
        out.insert(name, (path, source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    fn known() -> Vec<Known> {
        vec![
            Known {
                name: "login.html",
                sample: context! { ui => context! { product_name => "Acme" }, username => "ann", error => () },
            },
            Known { name: "email/reset.txt", sample: context! { link => "https://x/y" } },
        ]
    }

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn refused(files: &[(&str, &str)]) -> String {
        let d = dir(files);
        Overrides::load(d.path(), &known()).unwrap_err().to_string()
    }

    #[test]
    fn overrides_render_escaped_and_partials_are_shared() {
        let d = dir(&[
            ("_layout.html", "<h1>{{ ui.product_name }}</h1>{% block body %}{% endblock %}"),
            ("login.html", "{% extends '_layout.html' %}{% block body %}Hi {{ username }}{% endblock %}"),
            ("email/reset.txt", "Reset: {{ link }}"),
        ]);
        let o = Overrides::load(d.path(), &known()).unwrap();
        assert_eq!(o.names().collect::<Vec<_>>(), ["email/reset.txt", "login.html"]);
        let page =
            o.render("login.html", context! { ui => context! { product_name => "A&B" }, username => "<b>" }).unwrap();
        assert_eq!(page.unwrap(), "<h1>A&amp;B</h1>Hi &lt;b&gt;");
        // Text emails are not HTML-escaped.
        assert_eq!(
            o.render("email/reset.txt", context! { link => "https://x/?a=1&b=2" }).unwrap().unwrap(),
            "Reset: https://x/?a=1&b=2"
        );
        assert!(o.render("consent.html", context! {}).is_none());
    }

    #[test]
    fn bad_templates_are_refused_with_file_and_line() {
        let e = refused(&[("login.html", "line one\n{% if username %}\nno end")]);
        assert!(e.contains("login.html line 2: unexpected end of input"), "{e}");
        let e = refused(&[("login.html", "one\n{{ usrname }}")]);
        assert!(
            e.contains("login.html line 2: unknown variable `usrname`; login.html receives: error, ui, username"),
            "{e}"
        );
        let e = refused(&[("login.html", "{% if username %}{{ ui.product }}{% endif %}")]);
        assert!(e.contains("`ui` has no `product`"), "{e}");
        // An unknown name in a partial surfaces when the sample renders.
        let e = refused(&[("_p.html", "{{ nope }}"), ("login.html", "{% include '_p.html' %}")]);
        assert!(e.contains("_p.html line 1") && e.contains("rendering a sample"), "{e}");
        let e = refused(&[("logn.html", "x")]);
        assert!(e.contains("no template named logn.html") && e.contains("login.html"), "{e}");
        let e = refused(&[("base.html", "x")]);
        assert!(e.contains("base.html cannot be overridden"), "{e}");
        let e = Overrides::load(Path::new("/nonexistent/templates"), &known()).unwrap_err().to_string();
        assert!(e.contains("cannot read /nonexistent/templates"), "{e}");
    }

    #[test]
    fn variables_are_listed_with_one_level_of_attributes() {
        assert_eq!(variables(&known()[0].sample), ["error", "ui.product_name", "username"]);
    }
}
