//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): the one
//! profile every authenticator app supports, HMAC-SHA-1, 6 digits, 30 s.
//!
//! Verification answers the time step a code matched, not a yes/no: the
//! store keeps the last accepted step per person and accepts only a later
//! one, so each code works at most once, across replicas.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step (RFC 6238's X).
pub const PERIOD: i64 = 30;
/// Steps of clock drift accepted either side of now: a code from the
/// previous or the next 30 s still works, one from two steps away does not.
pub const SKEW: i64 = 1;
/// Secret length: 160 bits, the HMAC-SHA-1 output size RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;

/// A shared TOTP secret. Its `Debug` hides the bytes so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh 160-bit secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use rand::TryRngCore;
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS random source failed");
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Reads the unpadded base32 form authenticator apps use (case and
    /// spaces ignored, as people type it); `None` if it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let cleaned: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '=').map(|c| c.to_ascii_uppercase()).collect();
        BASE32_NOPAD.decode(cleaned.as_bytes()).ok().filter(|b| !b.is_empty()).map(Self)
    }

    /// Unpadded upper-case base32 (RFC 4648), the `secret` of an `otpauth://` URI.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The code for `step` with `digits` digits (RFC 4226 §5.3 dynamic truncation).
    fn code(&self, step: i64, digits: u32) -> String {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&(step as u64).to_be_bytes());
        let hash = mac.finalize().into_bytes();
        let offset = (hash[19] & 0x0f) as usize;
        let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
        format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
    }

    /// The 6-digit code for the step containing Unix time `now`.
    pub fn code_at(&self, now: i64) -> String {
        self.code(step(now), DIGITS)
    }

    /// Checks `code` at Unix time `now` against the steps within [`SKEW`],
    /// skipping every step at or before `last_step` (already used). Returns
    /// the step that matched, which the caller must record as used.
    pub fn verify(&self, code: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
        let code = normalize(code)?;
        let current = step(now);
        let mut matched = None;
        // Every candidate is computed and compared in constant time, so
        // which step matched does not show in the time taken.
        for candidate in current - SKEW..=current + SKEW {
            let fresh = last_step.is_none_or(|last| candidate > last);
            let equal: bool = self.code(candidate, DIGITS).as_bytes().ct_eq(code.as_bytes()).into();
            if equal && fresh && matched.is_none() {
                matched = Some(candidate);
            }
        }
        matched
    }

    /// The `otpauth://` URI an authenticator app reads from the QR code or a
    /// tap on a phone (the Key Uri Format of Google Authenticator, which
    /// every app follows): the label is `ISSUER:ACCOUNT`, and `issuer` is
    /// repeated as a parameter for apps that read only that.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let label = format!("{}:{}", encode_component(issuer), encode_component(account));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
            self.to_base32(),
            encode_component(issuer)
        )
    }
}

/// The QR code of an `otpauth://` URI as an SVG document, rendered here so
/// that no third-party service ever sees a secret. Dark modules are black on
/// white with the standard quiet zone, which every phone camera reads.
pub fn qr_svg(uri: &str) -> String {
    use qrcode::render::svg;
    // Medium error correction: a 32-character secret fits in a small code
    // that still scans from a laptop screen.
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .expect("an otpauth URI is far below the QR capacity");
    code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build()
}

/// The time step containing Unix time `now` (RFC 6238 §4.2, T0 = 0).
pub fn step(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// Whether `input` looks like a TOTP code (six digits, spaces allowed), as
/// opposed to a recovery code, so one field can take both.
pub fn looks_like_code(input: &str) -> bool {
    normalize(input).is_some()
}

/// The code without the spaces people type or apps show (`123 456`);
/// `None` unless exactly [`DIGITS`] ASCII digits remain.
fn normalize(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Percent-encoding for a label or parameter: unreserved characters stay,
/// everything else (including `:`, `@`, space) is escaped.
fn encode_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits).
    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let secret = TotpSecret::from_bytes(RFC_KEY.to_vec());
        for (time, expected) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(secret.code(step(time), 8), expected, "T = {time}");
        }
    }

    /// RFC 4226 Appendix D: the HOTP values the 6-digit codes are cut from.
    #[test]
    fn rfc4226_appendix_d_six_digit_values() {
        let secret = TotpSecret::from_bytes(RFC_KEY.to_vec());
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(secret.code(counter as i64, DIGITS), *code);
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_two_are_refused() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let current = step(now);
        for offset in [-1, 0, 1] {
            let code = secret.code(current + offset, DIGITS);
            assert_eq!(secret.verify(&code, now, None), Some(current + offset), "offset {offset}");
        }
        for offset in [-2, 2] {
            let code = secret.code(current + offset, DIGITS);
            assert_eq!(secret.verify(&code, now, None), None, "offset {offset}");
        }
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_refused() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let code = secret.code_at(now);
        let used = secret.verify(&code, now, None).unwrap();
        assert_eq!(secret.verify(&code, now, Some(used)), None, "replay");
        let previous = secret.code(used - 1, DIGITS);
        assert_eq!(secret.verify(&previous, now, Some(used)), None, "older than the last used");
        let next = secret.code(used + 1, DIGITS);
        assert_eq!(secret.verify(&next, now + PERIOD, Some(used)), Some(used + 1));
    }

    #[test]
    fn codes_are_six_digits_spaces_allowed() {
        let secret = TotpSecret::from_bytes(RFC_KEY.to_vec());
        let now = 59;
        let code = secret.code_at(now);
        assert_eq!(code, "287082");
        assert!(secret.verify("287 082", now, None).is_some());
        assert!(secret.verify("28708", now, None).is_none());
        assert!(secret.verify("2870820", now, None).is_none());
        assert!(secret.verify("28708x", now, None).is_none());
        assert!(secret.verify("", now, None).is_none());
        assert!(looks_like_code(" 287082 "));
        assert!(!looks_like_code("abcd-efgh"));
    }

    #[test]
    fn qr_code_is_an_svg_of_the_uri() {
        let uri = TotpSecret::generate().uri("Latchkey", "alice");
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<?xml"), "{}", &svg[..40]);
        assert!(svg.contains("<svg") && svg.contains("<path"));
        assert!(!svg.contains("otpauth"), "the secret is only in the modules, not in text");
    }

    #[test]
    fn negative_times_fall_in_earlier_steps() {
        assert_eq!(step(-1), -1);
        assert_eq!(step(0), 0);
        assert_eq!(step(29), 0);
        assert_eq!(step(30), 1);
    }

    #[test]
    fn base32_round_trip_and_generated_length() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32, "160 bits are 32 base32 characters");
        assert!(text.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
        let lower_spaced = text
            .to_lowercase()
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(TotpSecret::from_base32(&lower_spaced), Some(secret.clone()));
        assert_ne!(TotpSecret::generate(), secret);
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
        assert_eq!(TotpSecret::from_base32(""), None);
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret::from_bytes(RFC_KEY.to_vec());
        let uri = secret.uri("Acme Corp", "alice@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
        let parsed = url::Url::parse(&uri).unwrap();
        assert_eq!(parsed.scheme(), "otpauth");
        let secret_param = parsed.query_pairs().find(|(k, _)| k == "secret").unwrap().1;
        assert_eq!(TotpSecret::from_base32(&secret_param).unwrap().0, RFC_KEY);
        // A colon in a name cannot split the label a second time.
        assert!(secret.uri("a:b", "c").starts_with("otpauth://totp/a%3Ab:c?"));
    }
}
