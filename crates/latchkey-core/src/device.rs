//! The device authorization grant (RFC 8628): user codes that people can
//! type, and the record of a device's request.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// `grant_type` of the device's token requests (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Letters only, and no vowels or look-alikes (RFC 8628 §6.1): no 0/O, 1/I/L
/// confusion, no digits to mistake, no words spelled by accident.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code: 20^8 ≈ 2^34.6 codes.
pub const USER_CODE_LENGTH: usize = 8;

/// A new user code, shown as `XXXX-XXXX`.
pub fn new_user_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(USER_CODE_LENGTH + 1);
    for i in 0..USER_CODE_LENGTH {
        if i == USER_CODE_LENGTH / 2 {
            code.push('-');
        }
        code.push(USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char);
    }
    code
}

/// A user code as typed, in its canonical form (upper case, without dashes
/// or spaces), or None if it cannot be one of ours: what is hashed and
/// looked up, so that `bcdf-ghjk`, `BCDFGHJK` and `bcdf ghjk` are the same.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}')).collect::<String>().to_uppercase();
    (code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

/// How a canonical user code is shown: `XXXX-XXXX`.
pub fn display_user_code(canonical: &str) -> String {
    let (a, b) = canonical.split_at(canonical.len().min(USER_CODE_LENGTH / 2));
    format!("{a}-{b}")
}

/// The hash a user code is stored and looked up by (of its canonical form).
pub fn user_code_hash(canonical: &str) -> String {
    crate::secret::hash_token(&format!("user_code:{canonical}"))
}

/// A device's pending authorization request (RFC 8628 §3.1), stored by the
/// hashes of its device code and its user code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCode {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: Scope,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds the device waits between polls; each `slow_down` adds 5.
    pub interval: i64,
}

/// Where a device's request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    /// Approved: an authorization code keyed by the device code's hash holds
    /// what the person granted.
    Approved,
    Denied,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            _ => return None,
        })
    }
}

/// What a poll at the token endpoint found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePoll {
    /// Unknown, or issued to another client.
    NotFound,
    Expired,
    /// Polled sooner than the interval after the previous poll; the interval
    /// is now this many seconds (5 more, RFC 8628 §3.5).
    SlowDown(i64),
    Polled(DeviceStatus),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typable_and_forgiving() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 9);
            assert_eq!(code.as_bytes()[4], b'-');
            let canonical = normalize_user_code(&code).expect("our own code");
            assert_eq!(display_user_code(&canonical), code);
            assert_eq!(normalize_user_code(&code.to_lowercase()).as_deref(), Some(canonical.as_str()));
            assert_eq!(normalize_user_code(&canonical).as_deref(), Some(canonical.as_str()));
        }
        assert_eq!(normalize_user_code(" bcdf ghjk ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code("BCDF-GHJ"), None, "too short");
        assert_eq!(normalize_user_code("BCDF-GHJA"), None, "a vowel is never in a code");
        assert_eq!(normalize_user_code("BCDF-GHJ0"), None, "no digits");
        assert_ne!(user_code_hash("BCDFGHJK"), crate::secret::hash_token("BCDFGHJK"));
    }

    #[test]
    fn the_alphabet_has_no_vowels_or_look_alikes() {
        for c in b"AEIOUY01" {
            assert!(!USER_CODE_ALPHABET.contains(c));
        }
        let mut sorted = USER_CODE_ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
    }
}
