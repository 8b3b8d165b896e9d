//! OAuth scopes (RFC 6749 §3.3): a set of space-delimited tokens.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of scope tokens, kept sorted so that its string form is canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

/// A scope token with a character outside RFC 6749's `scope-token` grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope token {0:?} has characters outside %x21 / %x23-5B / %x5D-7E")]
pub struct InvalidScope(pub String);

impl Scope {
    /// Parses a space-delimited scope string. Repeated spaces are tolerated.
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
                return Err(InvalidScope(token.to_owned()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        let s = Scope::parse("profile  openid email").unwrap();
        assert_eq!(s.to_string(), "email openid profile");
        assert!(s.contains("openid"));
        assert!(Scope::parse("openid").unwrap().is_subset(&s));
        assert!(!s.is_subset(&Scope::parse("openid").unwrap()));
    }

    #[test]
    fn rejects_characters_outside_the_grammar() {
        assert!(Scope::parse("ok \"quoted\"").is_err());
        assert!(Scope::parse("back\\slash").is_err());
        assert!(Scope::parse("tab\there").is_err());
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn the_grammar_at_its_edges() {
        // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): the first and last
        // byte of each range in, their neighbours out.
        for ok in ["!", "#", "[", "]", "~", "a:b/c.d-e_f", "https://api.example/read"] {
            assert!(Scope::parse(ok).is_ok_and(|s| s.contains(ok)), "{ok:?} is a scope token");
        }
        for bad in ["\"", "\\", "\u{7f}", "\u{1f}", "caf\u{e9}", "a\u{a0}b", "line\nbreak"] {
            assert_eq!(Scope::parse(bad), Err(InvalidScope(bad.to_string())), "{bad:?}");
        }
        // Only the space separates; leading, trailing and repeated ones are tolerated.
        assert_eq!(Scope::parse("  openid   email ").unwrap().to_string(), "email openid");
    }

    #[test]
    fn a_set_without_duplicates_or_order() {
        let twice = Scope::parse("openid email openid").unwrap();
        assert_eq!(twice.iter().collect::<Vec<_>>(), ["email", "openid"]);
        assert_eq!(twice, Scope::from_tokens(["openid", "email"]));
        assert_eq!(Scope::default().to_string(), "");
        assert!(Scope::default().is_subset(&twice), "the empty scope is in every scope");
        assert!(twice.is_subset(&twice));
    }

    #[test]
    fn serde_uses_the_string_form_and_checks_it() {
        let s = Scope::parse("profile openid").unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), serde_json::json!("openid profile"));
        let back: Scope = serde_json::from_value(serde_json::json!("profile  openid")).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_value::<Scope>(serde_json::json!("open\"id")).is_err());
    }
}
