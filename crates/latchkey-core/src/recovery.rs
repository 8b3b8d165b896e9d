//! Recovery codes: single-use second factors for a person who lost their
//! authenticator. Ten at a time, shown once, stored only hashed.
//!
//! Each code is 80 random bits (16 base32 characters, shown in groups of
//! four), so a fast keyed hash is enough: a database dump cannot be brute
//! forced back to a code, and verifying one is a single indexed look-up.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Codes issued at enrollment and on every regeneration.
pub const COUNT: usize = 10;
const CODE_BYTES: usize = 10;
const GROUP: usize = 4;

/// `COUNT` fresh codes, as shown to the person (`abcd-efgh-ijkl-mnop`).
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| generate_one()).collect()
}

fn generate_one() -> String {
    use rand::TryRngCore;
    let mut bytes = [0u8; CODE_BYTES];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS random source failed");
    let text = BASE32_NOPAD.encode(&bytes).to_ascii_lowercase();
    text.as_bytes()
        .chunks(GROUP)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of a code: HMAC-SHA-256 under a purpose label of the
/// code as typed, with case, dashes and spaces ignored. `None` for input
/// that cannot be a recovery code, so it is never looked up.
pub fn hash(input: &str) -> Option<String> {
    let normalized: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    let bytes = BASE32_NOPAD.decode(normalized.as_bytes()).ok().filter(|b| b.len() == CODE_BYTES)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"latchkey/recovery-code/v1").expect("HMAC takes any key length");
    mac.update(&bytes);
    Some(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_in_groups_of_four() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.split('-').count(), 4);
            assert!(code.bytes().all(|b| b == b'-' || b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        }
    }

    #[test]
    fn hash_ignores_case_dashes_and_spaces_and_differs_per_code() {
        let [a, b] = [generate_one(), generate_one()];
        let stored = hash(&a).unwrap();
        assert_eq!(hash(&a.to_uppercase()), Some(stored.clone()));
        assert_eq!(hash(&a.replace('-', " ")), Some(stored.clone()));
        assert_eq!(hash(&a.replace('-', "")), Some(stored.clone()));
        assert_ne!(hash(&b), Some(stored.clone()));
        assert!(!stored.contains(&a.replace('-', "")), "the stored form is not the code");
    }

    #[test]
    fn input_that_is_no_code_has_no_hash() {
        assert_eq!(hash(""), None);
        assert_eq!(hash("123456"), None);
        assert_eq!(hash("abcd-efgh"), None, "too short");
        assert_eq!(hash("abcd-efgh-ijkl-mno1"), None, "1 is not base32");
    }
}
