//! PKCE (RFC 7636) with the S256 method only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn unreserved(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A `code_verifier`: 43 to 128 unreserved characters (§4.1).
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && unreserved(v)
}

/// An S256 `code_challenge`: the base64url SHA-256 of a verifier, 43 characters.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// BASE64URL(SHA256(verifier)) == challenge, compared in constant time (§4.6).
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_verifier(verifier));
        assert!(is_valid_s256_challenge(challenge));
        assert!(verify_s256(verifier, challenge));
        assert!(!verify_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", challenge));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_valid_s256_challenge("plain-challenge"));
    }

    #[test]
    fn verifier_length_and_alphabet_on_both_sides() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        // Every unreserved character (RFC 3986 §2.3), and nothing else.
        let all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
        assert!(is_valid_verifier(all));
        for c in ['+', '/', '=', ' ', '%', '\u{e9}', '\0'] {
            let v = format!("{}{c}", "a".repeat(50));
            assert!(!is_valid_verifier(&v), "{c:?}");
        }
    }

    #[test]
    fn challenges_are_unpadded_base64url_of_exactly_43_characters() {
        let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_s256_challenge(good));
        for bad in [
            &good[..42],
            &format!("{good}="),
            &format!("{good}A"),
            &good.replace('-', "+"),
            &good.replace('E', "/"),
            &good.replace('9', "."),
        ] {
            assert!(!is_valid_s256_challenge(bad), "{bad}");
        }
    }

    #[test]
    fn only_the_exact_challenge_verifies() {
        let verifier = "x".repeat(60);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert!(verify_s256(&verifier, &challenge));
        assert!(!verify_s256(&verifier, &challenge.to_lowercase()), "case matters");
        assert!(!verify_s256(&verifier, &challenge[..42]), "a prefix is not the challenge");
        assert!(!verify_s256(&verifier, &format!("{challenge}=")), "nor is it padded");
        assert!(!verify_s256(&challenge, &challenge), "plain is not S256");
        assert!(!verify_s256(&verifier, ""));
    }
}
