//! `application/x-www-form-urlencoded` bodies and query strings, parsed the
//! way OAuth requires: a repeated parameter is an error (RFC 6749 §3.1,
//! §3.2), and a parameter without a value counts as absent.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};

/// Parameters with at most one value each.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

/// Why parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("parameter {0} is repeated")]
    Repeated(String),
}

impl Params {
    /// Parses, refusing repeated names. Empty values are dropped.
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        let (params, repeated) = Self::parse_lenient(input);
        match repeated.into_iter().next() {
            Some(name) => Err(FormError::Repeated(name)),
            None => Ok(params),
        }
    }

    /// Parses, keeping the first value of a repeated name and reporting the
    /// repeated names, for callers that must still read some parameters
    /// (the authorization endpoint needs `redirect_uri` to report an error).
    pub fn parse_lenient(input: &[u8]) -> (Self, Vec<String>) {
        let mut map = HashMap::new();
        let mut repeated = Vec::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if v.is_empty() {
                continue;
            }
            if map.contains_key(k.as_ref()) {
                if !repeated.iter().any(|r| r == k.as_ref()) {
                    repeated.push(k.into_owned());
                }
                continue;
            }
            map.insert(k.into_owned(), v.into_owned());
        }
        (Self(map), repeated)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Whether the request declares a form body.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_repeats() {
        let p = Params::parse(b"a=1&b=x+y%2Bz&empty=&c=%C3%A9").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y+z"));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.get("c"), Some("é"));
        assert_eq!(Params::parse(b"a=1&a=2").unwrap_err(), FormError::Repeated("a".into()));
        let (p, rep) = Params::parse_lenient(b"a=1&a=2&b=3");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(rep, vec!["a"]);
    }
}
