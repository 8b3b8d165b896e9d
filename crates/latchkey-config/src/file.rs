//! Where a setting sits in a TOML configuration file, so that an error about
//! it names the file, line and column, and the key that was probably meant.
//! Everything here works from key paths (`keys.rsa_bits`,
//! `upstream[0].claims.name`) and the file's text, not from how the file was
//! deserialized, so any loader that reports the path of a bad key can use it.

use std::ops::Range;
use std::path::Path;

use toml_edit::{ImDocument, Item, TableLike};

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// `path:line:column` of a byte offset in `text`.
pub fn position(path: &Path, text: &str, offset: usize) -> String {
    let LineCol { line, column } = line_col(text, offset);
    format!("{}:{line}:{column}", path.display())
}

/// The line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    LineCol { line, column }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One step of a key path: a table key, optionally indexed (`upstream[0]`).
fn segments(path: &str) -> Vec<(&str, Option<usize>)> {
    path.split('.')
        .map(|seg| match seg.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
            None => (seg, None),
        })
        .collect()
}

/// The byte range of the key `path` in the TOML `text`, if the file sets it.
pub fn key_span(text: &str, path: &str) -> Option<Range<usize>> {
    span(text, path, false)
}

/// The byte range of the value of the key `path`, if the file sets it.
pub fn value_span(text: &str, path: &str) -> Option<Range<usize>> {
    span(text, path, true)
}

fn span(text: &str, path: &str, value: bool) -> Option<Range<usize>> {
    let doc = ImDocument::parse(text).ok()?;
    let mut table: &dyn TableLike = doc.as_table();
    let segs = segments(path);
    for (i, (name, index)) in segs.iter().enumerate() {
        let (key, item) = table.get_key_value(name)?;
        let item = match index {
            Some(n) => match item {
                Item::ArrayOfTables(list) => return descend(list.get(*n)?, &segs[i + 1..], key.span(), value),
                _ => item.as_array()?.get(*n).and_then(|v| v.as_inline_table()).map(|t| t as &dyn TableLike)?,
            },
            None if i + 1 == segs.len() => return if value { item.span() } else { key.span() },
            None => item.as_table_like()?,
        };
        table = item;
    }
    None
}

/// The rest of a path inside one `[[array]]` table.
fn descend(
    table: &dyn TableLike,
    rest: &[(&str, Option<usize>)],
    fallback: Option<Range<usize>>,
    value: bool,
) -> Option<Range<usize>> {
    let Some(((name, _), more)) = rest.split_first() else {
        return fallback;
    };
    let (key, item) = table.get_key_value(name)?;
    if more.is_empty() {
        if value { item.span() } else { key.span() }
    } else {
        descend(item.as_table_like()?, more, key.span(), value)
    }
}

/// A key path without its indices: `upstream[0].id` → `upstream.id`.
pub fn without_indices(path: &str) -> String {
    segments(path).iter().map(|(name, _)| *name).collect::<Vec<_>>().join(".")
}

/// The path of the key whose name starts at byte `offset` (the reverse of
/// [`key_span`]), e.g. for a deserializer's error that carries a span only.
pub fn key_at(text: &str, offset: usize) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    find_key(doc.as_table(), offset, "")
}

fn find_key(table: &dyn TableLike, offset: usize, prefix: &str) -> Option<String> {
    for (name, item) in table.iter() {
        let path = if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
        if let Some((key, _)) = table.get_key_value(name)
            && key.span().is_some_and(|s| s.contains(&offset))
        {
            return Some(path);
        }
        let found = match item {
            Item::ArrayOfTables(list) => {
                list.iter().enumerate().find_map(|(i, t)| find_key(t, offset, &format!("{path}[{i}]")))
            }
            _ => item.as_table_like().and_then(|t| find_key(t, offset, &path)),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a typo of it.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The parts of serde's "unknown field `x`, expected one of `a`, `b`"
/// message: the unknown name and the names allowed there.
pub fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    unknown_name(message, "field")
}

/// The same for "unknown variant `x`, ..." (`what` = `variant`).
pub fn unknown_name<'a>(message: &'a str, what: &str) -> Option<(&'a str, Vec<&'a str>)> {
    let rest = message.strip_prefix(&format!("unknown {what} `"))?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((name, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "issuer = \"https://a.example\"\n\n[keys]\nrsa_bits = 4096\n\n\
                        [[upstream]]\nid = \"corp\"\n[upstream.claims]\nname = \"displayName\"\n\n\
                        [[upstream]]\nid = \"other\"\ntimeout_seconds = 5\n";

    fn at(path: &str) -> Option<LineCol> {
        key_span(FILE, path).map(|s| line_col(FILE, s.start))
    }

    #[test]
    fn keys_are_found_by_path_and_back() {
        assert_eq!(at("issuer"), Some(LineCol { line: 1, column: 1 }));
        assert_eq!(at("keys.rsa_bits"), Some(LineCol { line: 4, column: 1 }));
        assert_eq!(at("upstream[0].id"), Some(LineCol { line: 7, column: 1 }));
        assert_eq!(at("upstream[0].claims.name"), Some(LineCol { line: 9, column: 1 }));
        assert_eq!(at("upstream[1].timeout_seconds"), Some(LineCol { line: 13, column: 1 }));
        assert_eq!(at("keys.algorithm"), None, "not set in the file");
        assert_eq!(at("upstream[2].id"), None);
        for path in ["issuer", "keys.rsa_bits", "upstream[0].claims.name", "upstream[1].timeout_seconds"] {
            let span = key_span(FILE, path).unwrap();
            assert_eq!(key_at(FILE, span.start).as_deref(), Some(path));
        }
        let v = value_span(FILE, "keys.rsa_bits").unwrap();
        assert_eq!(&FILE[v], "4096");
        assert_eq!(without_indices("upstream[1].claims.name"), "upstream.claims.name");
        let dotted = "keys.rsa_bits = 3072\n";
        assert_eq!(key_span(dotted, "keys.rsa_bits").map(|s| line_col(dotted, s.start).column), Some(6));
    }

    #[test]
    fn typos_find_their_key() {
        let keys = ["issuer", "listen", "database_url", "redis_url"];
        assert_eq!(nearest("isuer", keys), Some("issuer"));
        assert_eq!(nearest("databse_url", keys), Some("database_url"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(
            unknown_field("unknown field `rsa_bitz`, expected one of `algorithm`, `rsa_bits`"),
            Some(("rsa_bitz", vec!["algorithm", "rsa_bits"]))
        );
        assert_eq!(unknown_field("unknown field `x`, expected `y`"), Some(("x", vec!["y"])));
        assert_eq!(line_col("aé\nbc", 5), LineCol { line: 2, column: 2 });
    }
}
