//! The languages of pages and emails. Every word a person reads comes from a
//! Fluent message catalog (`locales/<tag>.ftl`, embedded in the binary and
//! parsed once); a message missing from a catalog falls back to English.
//!
//! The language of a page is chosen by [`negotiate`]: the authorization
//! request's `ui_locales`, then the account's `locale` claim, then the
//! browser's `Accept-Language`, then English.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language Latchkey ships complete catalogs for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    En,
    De,
    Fr,
}

impl Language {
    /// Every shipped language, English (the fallback) first.
    pub const ALL: [Language; 3] = [Language::En, Language::De, Language::Fr];

    /// The BCP 47 tag (`<html lang>`, `ui_locales_supported`).
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// The shipped language a BCP 47 tag asks for, by its primary language
    /// subtag (`de-AT` is German), case-insensitively.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Self::ALL.into_iter().find(|l| primary.eq_ignore_ascii_case(l.tag()))
    }

    /// The first shipped language of an OIDC `ui_locales` value (BCP 47
    /// tags separated by spaces, in order of preference).
    pub fn from_ui_locales(value: &str) -> Option<Self> {
        value.split_ascii_whitespace().find_map(Self::from_tag)
    }

    /// The shipped language an `Accept-Language` header prefers (RFC 9110
    /// §12.5.4): the highest q-value wins, ties in the header's order; `q=0`
    /// means "not this one" and `*` matches nothing in particular.
    pub fn from_accept_language(value: &str) -> Option<Self> {
        let mut ranges: Vec<(u16, usize, &str)> = Vec::new();
        for (position, item) in value.split(',').enumerate().take(32) {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            let mut quality = 1000;
            for param in parts {
                if let Some((name, q)) = param.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    quality = parse_quality(q.trim()).unwrap_or(0);
                }
            }
            if quality > 0 && !range.is_empty() && range != "*" {
                ranges.push((quality, position, range));
            }
        }
        ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.into_iter().find_map(|(_, _, range)| Self::from_tag(range))
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        &CATALOGS[self as usize]
    }

    /// The message `id` in this language (English if this catalog lacks it).
    pub fn message(self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with its variables.
    pub fn message_with(self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut fluent = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fluent.set(*name, value.to_fluent());
        }
        self.format(id, Some(&fluent))
    }

    /// The message `id` (templates: `{{ lang.t("email-reset-subject") }}`).
    pub fn t(self, id: &str) -> String {
        self.message(id)
    }

    /// The message `id` with one variable.
    pub fn t_with(self, id: &str, name: &str, value: impl ToArg) -> String {
        self.message_with(id, &[(name, value.to_arg())])
    }

    /// The message `id` with two variables.
    pub fn t_with2(self, id: &str, name: &str, value: impl ToArg, name2: &str, value2: impl ToArg) -> String {
        self.message_with(id, &[(name, value.to_arg()), (name2, value2.to_arg())])
    }

    /// A message that holds markup (its id ends in `-html`), with one
    /// variable, which is HTML-escaped; the result is HTML to show as is.
    pub fn t_html_with(self, id: &str, name: &str, value: impl ToArg) -> String {
        self.message_with(id, &[(name, escaped(value.to_arg()))])
    }

    /// Like [`Language::t_html_with`], with two variables.
    pub fn t_html_with2(self, id: &str, name: &str, value: impl ToArg, name2: &str, value2: impl ToArg) -> String {
        self.message_with(id, &[(name, escaped(value.to_arg())), (name2, escaped(value2.to_arg()))])
    }

    /// A [`Text`] (a message and its variables, or words as they are).
    pub fn text(self, text: &Text) -> String {
        match text {
            Text::Message { id, args, messages } => {
                let mut all: Vec<(&str, Arg<'_>)> = args.iter().map(|(n, v)| (*n, Arg::from(v.as_str()))).collect();
                all.extend(messages.iter().map(|(n, m)| (*n, Arg::from(self.message(m)))));
                self.message_with(id, &all)
            }
            Text::Verbatim(s) => s.clone(),
        }
    }

    fn format(self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        format_from([self.bundle(), Self::En.bundle()], id, args)
    }
}

/// The message `id` from the first bundle of `chain` that has it (the
/// page's language, then English); the id itself if none has.
fn format_from(chain: [&FluentBundle<FluentResource>; 2], id: &str, args: Option<&FluentArgs<'_>>) -> String {
    for bundle in chain {
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let value = bundle.format_pattern(pattern, args, &mut errors);
            if !errors.is_empty() {
                tracing::warn!(id, locales = ?bundle.locales, ?errors, "message formatted with errors");
            }
            return value.into_owned();
        }
        tracing::warn!(id, locales = ?bundle.locales, "message missing from a catalog");
    }
    id.to_string()
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A variable with its text HTML-escaped.
fn escaped(arg: Arg<'_>) -> Arg<'static> {
    match arg {
        Arg::Text(s) => Arg::from(escape_html(&s)),
        Arg::Number(n) => Arg::Number(n),
    }
}

/// `s` with the characters that mean something in HTML escaped (as askama
/// does, so that a page reads the same either way).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `q=` of Accept-Language, in thousandths (`0.5` → 500).
fn parse_quality(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match int {
        "0" => Some(format!("{frac:0<3}").parse().ok()?),
        "1" if frac.bytes().all(|b| b == b'0') => Some(1000),
        _ => None,
    }
}

/// The language of a page: `ui_locales` of the authorization request, then
/// the account's `locale` claim, then `Accept-Language`, then English. Each
/// source counts only when it names a shipped language.
pub fn negotiate(ui_locales: Option<&str>, account_locale: Option<&str>, accept_language: Option<&str>) -> Language {
    ui_locales
        .and_then(Language::from_ui_locales)
        .or_else(|| account_locale.and_then(Language::from_tag))
        .or_else(|| accept_language.and_then(Language::from_accept_language))
        .unwrap_or_default()
}

/// A variable's value: text, or a number (so that plurals agree with it).
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Text(Cow<'a, str>),
    Number(i64),
}

impl Arg<'_> {
    fn to_fluent(&self) -> FluentValue<'_> {
        match self {
            Arg::Text(s) => FluentValue::from(s.as_ref()),
            Arg::Number(n) => FluentValue::from(*n),
        }
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(Cow::Borrowed(s))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(Cow::Borrowed(s))
    }
}
impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Text(Cow::Owned(s))
    }
}
macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(n: $t) -> Self {
                Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
number_arg!(i32, i64, u32, u64, usize);

/// A value that can be a message's variable: text or a number, or a
/// reference to one (as templates pass them).
pub trait ToArg {
    fn to_arg(&self) -> Arg<'_>;
}

impl ToArg for str {
    fn to_arg(&self) -> Arg<'_> {
        Arg::from(self)
    }
}
impl ToArg for String {
    fn to_arg(&self) -> Arg<'_> {
        Arg::from(self.as_str())
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg<'_> {
        (**self).to_arg()
    }
}
macro_rules! number_to_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Arg<'_> {
                Arg::from(*self)
            }
        }
    )*};
}
number_to_arg!(i32, i64, u32, u64, usize);

/// Something to say that Rust code decides (an error page's message, a
/// notice): a catalog message and its variables, or — for details that are
/// not prose, such as an OAuth error description — words as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// A message; `args` are its variables as they are, `messages` those
    /// that are themselves messages (said in the same language).
    Message {
        id: &'static str,
        args: Vec<(&'static str, String)>,
        messages: Vec<(&'static str, &'static str)>,
    },
    Verbatim(String),
}

impl Text {
    pub fn new(id: &'static str) -> Self {
        Self::Message { id, args: Vec::new(), messages: Vec::new() }
    }

    /// The message `id` with one variable.
    pub fn with(id: &'static str, name: &'static str, value: impl Into<String>) -> Self {
        Self::Message { id, args: vec![(name, value.into())], messages: Vec::new() }
    }

    /// The message `id` whose variable `name` is the message `message`
    /// ("The address is not accepted: { $reason }." with the reason's own
    /// message), both in the reader's language.
    pub fn with_message(id: &'static str, name: &'static str, message: &'static str) -> Self {
        Self::Message { id, args: Vec::new(), messages: vec![(name, message)] }
    }

    /// Another variable.
    pub fn and(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Self::Message { args, .. } = &mut self {
            args.push((name, value.into()));
        }
        self
    }

    pub fn verbatim(s: impl Into<String>) -> Self {
        Self::Verbatim(s.into())
    }
}

impl From<&'static str> for Text {
    /// A message id.
    fn from(id: &'static str) -> Self {
        Self::new(id)
    }
}

/// The catalog sources, in [`Language::ALL`]'s order.
pub const SOURCES: [(Language, &str); 3] = [
    (Language::En, include_str!("../locales/en.ftl")),
    (Language::De, include_str!("../locales/de.ftl")),
    (Language::Fr, include_str!("../locales/fr.ftl")),
];

/// The parsed catalogs, one bundle per language (built on first use; the
/// server touches them at startup).
static CATALOGS: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(language, source)| {
            let resource = FluentResource::try_new(source.to_string())
                .unwrap_or_else(|(_, errors)| panic!("locales/{language}.ftl does not parse: {errors:?}"));
            let tag = language.tag().parse().expect("a valid language tag");
            let mut bundle = FluentBundle::new_concurrent(vec![tag]);
            // Unicode isolation marks would show up inside HTML attributes and emails.
            bundle.set_use_isolating(false);
            bundle.add_resource(resource).unwrap_or_else(|e| panic!("locales/{language}.ftl: {e:?}"));
            bundle
        })
        .collect()
});

/// Parses every catalog now (at startup), so that a broken catalog stops
/// the server before it serves a page.
pub fn load() {
    LazyLock::force(&CATALOGS);
}

#[cfg(test)]
mod tests;
