//! People who sign in, and the standard OpenID Connect claims kept for them
//! (OIDC Core §5.1).

use serde::{Deserialize, Serialize};

/// Standard claims released according to the granted scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// URL of the person's profile page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// URL of the person's picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// `YYYY-MM-DD`, `0000-MM-DD` or `YYYY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// An IANA time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    /// A BCP 47 language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Group names (the `groups` scope and claim). Stored with the other
    /// claims as JSON; absent in claims stored before groups existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// A postal address (OIDC Core §5.1.1), released with the `address` scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The whole address as it is written on a letter (may have line breaks
    /// as `\n` in JSON; set through the parts, it is one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City or locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// State, province, prefecture or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A user account. `id` is the stable, opaque `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string; `None` for accounts that cannot sign in with a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub claims: UserClaims,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a user needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: Option<String>,
    pub claims: UserClaims,
}

/// Checks a username: 1 to 64 characters, no white space or control characters.
pub fn validate_username(username: &str) -> Result<(), String> {
    let n = username.chars().count();
    if n == 0 || n > 64 {
        return Err("must be 1 to 64 characters long".into());
    }
    if username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space or control characters".into());
    }
    Ok(())
}

/// At most this many characters in a text claim (`name`, `email`, …).
pub const MAX_CLAIM_LEN: usize = 256;

/// Checks a text claim an operator gave: blank means unset (`None`), else at
/// most [`MAX_CLAIM_LEN`] characters and no control characters. The error
/// reads after the field's name, in the caller's words.
pub fn validate_claim_text(value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) if v.chars().any(char::is_control) || v.chars().count() > MAX_CLAIM_LEN => {
            Err(format!("must be at most {MAX_CLAIM_LEN} characters without control characters"))
        }
        other => Ok(other),
    }
}

/// Checks that `email` looks like an address (something, `@`, a domain with
/// a dot, no spaces): a typo is caught, deliverability is not checked.
pub fn validate_email(email: &str) -> Result<(), String> {
    let ok = email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !email.contains(' '));
    if ok { Ok(()) } else { Err(format!("{email:?} is not an email address")) }
}

/// At most this many groups per account: they travel in every ID token and
/// access token of the `groups` scope, so the list stays small.
pub const MAX_GROUPS: usize = 100;
/// At most this many characters per group name (room for Entra's object ids,
/// Keycloak's group paths and Okta's names).
pub const MAX_GROUP_LEN: usize = 128;

/// Checks one group name: 1 to 128 characters, no white space or control
/// characters (names are compared exactly, case included).
pub fn validate_group(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > MAX_GROUP_LEN {
        return Err(format!("group {name:?} must be 1 to {MAX_GROUP_LEN} characters long"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("group {name:?} must not contain white space or control characters"));
    }
    Ok(())
}

/// Checks a list of groups an operator gave: every name valid, at most
/// `MAX_GROUPS`; duplicates are removed, the first order kept.
pub fn validate_groups<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.as_ref();
        validate_group(name)?;
        if !out.iter().any(|g| g == name) {
            out.push(name.to_string());
        }
    }
    if out.len() > MAX_GROUPS {
        return Err(format!("at most {MAX_GROUPS} groups"));
    }
    Ok(out)
}

/// Merges group lists from elsewhere (an upstream provider): invalid names
/// and duplicates are dropped, and the result is cut at `MAX_GROUPS`.
/// Returns the list and how many names were dropped.
pub fn merge_groups<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> (Vec<String>, usize) {
    let mut out: Vec<String> = Vec::new();
    let mut dropped = 0;
    for name in lists.into_iter().flatten() {
        if validate_group(name).is_err() || out.len() == MAX_GROUPS {
            dropped += 1;
        } else if !out.contains(name) {
            out.push(name.clone());
        }
    }
    (out, dropped)
}

/// The key that makes usernames unique regardless of case.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_texts() {
        assert_eq!(validate_claim_text(None), Ok(None));
        assert_eq!(validate_claim_text(Some("  ".into())), Ok(None), "blank unsets");
        assert_eq!(validate_claim_text(Some("Zoë Ångström".into())), Ok(Some("Zoë Ångström".into())));
        assert!(validate_claim_text(Some("é".repeat(MAX_CLAIM_LEN))).is_ok(), "characters, not bytes");
        assert!(validate_claim_text(Some("x".repeat(MAX_CLAIM_LEN + 1))).is_err());
        assert!(validate_claim_text(Some("line\nbreak".into())).is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@example.com", "first.last+tag@mail.example.co.uk", "o'brien@example.ie"] {
            assert_eq!(validate_email(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a", "@example.com", "a@localhost", "a b@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("alice@example.com").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("al ice").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert_eq!(username_key("Alice"), "alice");
    }

    #[test]
    fn group_names() {
        assert!(validate_group("admins").is_ok());
        assert!(validate_group("/org/team-a").is_ok());
        assert!(validate_group("0f3c6a8e-1b7d-4a4c-9c1e-6f2b8a7d5e41").is_ok());
        assert!(validate_group("Ärzte").is_ok());
        assert!(validate_group(&"g".repeat(MAX_GROUP_LEN)).is_ok());
        for bad in ["", "two words", "tab\there", "nl\n", "nul\0", "\u{85}next"] {
            assert!(validate_group(bad).is_err(), "{bad:?}");
        }
        assert!(validate_group(&"g".repeat(MAX_GROUP_LEN + 1)).is_err());
    }

    #[test]
    fn group_lists() {
        assert_eq!(validate_groups(["b", "a", "b"]).unwrap(), vec!["b", "a"]);
        assert!(validate_groups(["ok", ""]).is_err());
        let many: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
        assert!(validate_groups(&many[..MAX_GROUPS]).is_ok());
        assert!(validate_groups(&many).unwrap_err().contains("at most"));

        let defaults = ["staff".to_string()];
        let upstream = ["staff".to_string(), "bad name".into(), "".into(), "admins".into()];
        assert_eq!(merge_groups([&defaults[..], &upstream[..]]), (vec!["staff".to_string(), "admins".into()], 2));
        let (kept, dropped) = merge_groups([&many[..]]);
        assert_eq!((kept.len(), dropped), (MAX_GROUPS, 1));
    }

    #[test]
    fn stored_claims_without_groups_still_read() {
        let old: UserClaims = serde_json::from_str(r#"{"email":"a@example.com","email_verified":true}"#).unwrap();
        assert!(old.groups.is_empty());
        // And no groups, no member: stored claims stay as they were.
        assert!(!serde_json::to_string(&old).unwrap().contains("groups"));
        let with = UserClaims { groups: vec!["g".into()], ..old };
        assert!(serde_json::to_string(&with).unwrap().contains(r#""groups":["g"]"#));
    }
}
