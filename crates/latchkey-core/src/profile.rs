//! The standard claims an account holds (OIDC Core §5.1), by name: which
//! there are, what a valid value of each is, and setting one on
//! [`UserClaims`]. One table for everyone who sets claims (the CLI, the admin
//! API, `/account`, an upstream provider), so a claim has one rule.
//!
//! Values are normalised where the spec has a canonical form: phone numbers
//! to E.164 (`+4930123456`, spaces and punctuation dropped, `;ext=` kept),
//! locales to BCP 47 with hyphens (`en_US` → `en-US`). Blank means unset.

use serde_json::{Map, Value};

use crate::user::{Address, UserClaims, validate_claim_text, validate_email};

/// What a valid value of a claim is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// At most [`crate::user::MAX_CLAIM_LEN`] characters, no control characters.
    Text,
    Email,
    /// An absolute `https` or `http` URL of at most [`MAX_URL_LEN`] characters.
    Url,
    /// `YYYY-MM-DD`, `0000-MM-DD` (year withheld) or `YYYY` (§5.1).
    Date,
    /// A BCP 47 language tag (RFC 5646), e.g. `en-US`.
    Locale,
    /// An IANA time zone name, e.g. `Europe/Paris`.
    TimeZone,
    /// An E.164 number with `+`, optionally `;ext=` digits.
    Phone,
}

/// Every string claim an account holds, with its kind: the names of OIDC
/// Core §5.1, the parts of `address` as `address.<member>`.
pub const STRING_CLAIMS: &[(&str, ClaimKind)] = &[
    ("name", ClaimKind::Text),
    ("given_name", ClaimKind::Text),
    ("family_name", ClaimKind::Text),
    ("middle_name", ClaimKind::Text),
    ("nickname", ClaimKind::Text),
    ("profile", ClaimKind::Url),
    ("picture", ClaimKind::Url),
    ("website", ClaimKind::Url),
    ("email", ClaimKind::Email),
    ("gender", ClaimKind::Text),
    ("birthdate", ClaimKind::Date),
    ("zoneinfo", ClaimKind::TimeZone),
    ("locale", ClaimKind::Locale),
    ("phone_number", ClaimKind::Phone),
    ("address.formatted", ClaimKind::Text),
    ("address.street_address", ClaimKind::Text),
    ("address.locality", ClaimKind::Text),
    ("address.region", ClaimKind::Text),
    ("address.postal_code", ClaimKind::Text),
    ("address.country", ClaimKind::Text),
];

/// URLs (`picture` from a CDN can be long) may have this many characters.
pub const MAX_URL_LEN: usize = 2048;

/// A claim that could not be set: its name and why, in words that read
/// after the name ("birthdate must be …"), for operators (CLI, admin API);
/// pages say [`ClaimError::refusal`] in the person's language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{claim} {reason}")]
pub struct ClaimError {
    pub claim: String,
    pub reason: String,
    pub refusal: Refusal,
}

impl ClaimError {
    fn new(claim: &str, reason: impl Into<String>) -> Self {
        Self { claim: claim.to_string(), reason: reason.into(), refusal: Refusal::Other }
    }
}

/// What is wrong with a refused value, as a page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Longer than [`MAX_CLAIM_LEN`](crate::user::MAX_CLAIM_LEN), or control characters.
    Text,
    /// Not of its claim's form (an address, a URL, a date…).
    Form(ClaimKind),
    /// Not a claim an account holds, or not a string (operators' input).
    Other,
}

impl Refusal {
    /// The catalog message (latchkey-i18n) that says it, reading after the
    /// field's label ("Website: enter a full web address…").
    pub fn message_id(self) -> &'static str {
        match self {
            Refusal::Text => "claim-refused-text",
            Refusal::Form(ClaimKind::Text) | Refusal::Other => "claim-refused-other",
            Refusal::Form(ClaimKind::Email) => "claim-refused-email",
            Refusal::Form(ClaimKind::Url) => "claim-refused-url",
            Refusal::Form(ClaimKind::Date) => "claim-refused-date",
            Refusal::Form(ClaimKind::Locale) => "claim-refused-locale",
            Refusal::Form(ClaimKind::TimeZone) => "claim-refused-time-zone",
            Refusal::Form(ClaimKind::Phone) => "claim-refused-phone",
        }
    }

    /// Every refusal (the catalogs are checked to say each).
    pub const ALL: [Refusal; 8] = [
        Refusal::Text,
        Refusal::Form(ClaimKind::Email),
        Refusal::Form(ClaimKind::Url),
        Refusal::Form(ClaimKind::Date),
        Refusal::Form(ClaimKind::Locale),
        Refusal::Form(ClaimKind::TimeZone),
        Refusal::Form(ClaimKind::Phone),
        Refusal::Other,
    ];
}

/// The kind of the string claim `name`, if the account holds one by that name.
pub fn kind_of(name: &str) -> Option<ClaimKind> {
    STRING_CLAIMS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Checks `value` as a value of a claim of `kind` and returns it normalised;
/// blank is `None` (unset). The error reads after the claim's name.
pub fn check(kind: ClaimKind, value: &str) -> Result<Option<String>, String> {
    check_value(kind, value).map_err(|(_, reason)| reason)
}

/// [`check`], saying also what kind of refusal it is.
fn check_value(kind: ClaimKind, value: &str) -> Result<Option<String>, (Refusal, String)> {
    let Some(text) = validate_claim_text(Some(value.to_string()))
        .or_else(|e| match kind {
            // A URL may be longer than a text claim; the URL rule bounds it.
            ClaimKind::Url if !value.chars().any(char::is_control) => Ok(Some(value.to_string())),
            _ => Err(e),
        })
        .map_err(|reason| (Refusal::Text, reason))?
    else {
        return Ok(None);
    };
    let text = text.trim().to_string();
    check_form(kind, text).map_err(|reason| (Refusal::Form(kind), reason))
}

fn check_form(kind: ClaimKind, text: String) -> Result<Option<String>, String> {
    match kind {
        ClaimKind::Text => Ok(Some(text)),
        ClaimKind::Email => validate_email(&text).map(|()| Some(text)),
        ClaimKind::Url => check_url(&text).map(Some),
        ClaimKind::Date => check_date(&text).map(|()| Some(text)),
        ClaimKind::Locale => check_locale(&text).map(Some),
        ClaimKind::TimeZone => check_time_zone(&text).map(|()| Some(text)),
        ClaimKind::Phone => normalise_phone(&text).map(Some),
    }
}

fn check_url(text: &str) -> Result<String, String> {
    let bad = || format!("must be an absolute https:// or http:// URL of at most {MAX_URL_LEN} characters");
    if text.chars().count() > MAX_URL_LEN {
        return Err(bad());
    }
    let url = url::Url::parse(text).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(bad());
    }
    Ok(text.to_string())
}

fn check_date(text: &str) -> Result<(), String> {
    let bad = || "must be a date as YYYY-MM-DD, 0000-MM-DD (year withheld) or YYYY".to_string();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = text.split('-').collect();
    match parts[..] {
        [y] if y.len() == 4 && digits(y) && y != "0000" => Ok(()),
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 && digits(y) && digits(m) && digits(d) => {
            let (y, m, d) = (y.parse::<u32>().unwrap(), m.parse::<u32>().unwrap(), d.parse::<u32>().unwrap());
            // 0000 withholds the year: any day that exists in some year (29 February too).
            let leap = y == 0 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return Err(bad()),
            };
            if (1..=days).contains(&d) { Ok(()) } else { Err(bad()) }
        }
        _ => Err(bad()),
    }
}

/// A well-formed BCP 47 tag (RFC 5646 §2.1: language, script, region,
/// variants, extensions, private use), `_` read as `-` (as POSIX locales
/// and some providers write them). Grandfathered irregular tags are refused.
fn check_locale(text: &str) -> Result<String, String> {
    let tag = text.replace('_', "-");
    let bad = || format!("must be a BCP 47 language tag such as en-US (got {text:?})");
    let alpha = |s: &str, r: std::ops::RangeInclusive<usize>| {
        r.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
    };
    let alnum = |s: &str, r: std::ops::RangeInclusive<usize>| {
        r.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let subtags: Vec<&str> = tag.split('-').collect();
    if tag.len() > 64 || subtags.iter().any(|s| s.is_empty()) {
        return Err(bad());
    }
    let mut rest = &subtags[..];
    if rest.first().is_some_and(|s| s.eq_ignore_ascii_case("x")) {
        // Private use only.
        return if rest.len() > 1 && rest[1..].iter().all(|s| alnum(s, 1..=8)) { Ok(tag) } else { Err(bad()) };
    }
    let (Some(language), tail) = (rest.first(), &rest[1..]) else { return Err(bad()) };
    if !alpha(language, 2..=8) || language.len() == 4 {
        return Err(bad());
    }
    rest = tail;
    // Up to three extended language subtags after a 2–3 letter language.
    let mut extlang = 0;
    while language.len() <= 3 && extlang < 3 && rest.first().is_some_and(|s| alpha(s, 3..=3)) {
        rest = &rest[1..];
        extlang += 1;
    }
    if rest.first().is_some_and(|s| alpha(s, 4..=4)) {
        rest = &rest[1..]; // script
    }
    if rest.first().is_some_and(|s| alpha(s, 2..=2) || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))) {
        rest = &rest[1..]; // region
    }
    let variant = |s: &str| alnum(s, 5..=8) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit() && alnum(s, 4..=4));
    while rest.first().is_some_and(|s| variant(s)) {
        rest = &rest[1..];
    }
    // Extensions: a singleton and at least one 2–8 character subtag each.
    while rest.first().is_some_and(|s| s.len() == 1 && alnum(s, 1..=1) && !s.eq_ignore_ascii_case("x")) {
        let n = rest[1..].iter().take_while(|s| alnum(s, 2..=8)).count();
        if n == 0 {
            return Err(bad());
        }
        rest = &rest[1 + n..];
    }
    if rest.first().is_some_and(|s| s.eq_ignore_ascii_case("x")) {
        if rest.len() == 1 || !rest[1..].iter().all(|s| alnum(s, 1..=8)) {
            return Err(bad());
        }
        rest = &[];
    }
    if rest.is_empty() { Ok(tag) } else { Err(bad()) }
}

fn check_time_zone(text: &str) -> Result<(), String> {
    // The time zone database bundled with the binary, so the answer does not
    // depend on the host's /usr/share/zoneinfo.
    match jiff::tz::db().get(text) {
        Ok(_) if !text.is_empty() => Ok(()),
        _ => Err(format!("must be an IANA time zone name such as Europe/Paris (got {text:?})")),
    }
}

/// E.164 (`+` and 8 to 15 digits, no leading zero) after dropping spaces and
/// `-().` and `/`; an extension `;ext=` digits is kept (OIDC Core §5.1).
fn normalise_phone(text: &str) -> Result<String, String> {
    let bad = || "must be an international number in E.164 form, e.g. +44 20 7946 0958".to_string();
    let (number, ext) = match text.split_once(";ext=") {
        Some((n, e)) if !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_digit()) => (n, Some(e)),
        Some(_) => return Err(bad()),
        None => (text, None),
    };
    let compact: String = number.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')).collect();
    let digits = compact.strip_prefix('+').ok_or_else(bad)?;
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(bad());
    }
    Ok(match ext {
        Some(e) => format!("+{digits};ext={e}"),
        None => format!("+{digits}"),
    })
}

impl UserClaims {
    /// The slot of the string claim `name` (see [`STRING_CLAIMS`]); the
    /// address is created when one of its parts is asked for.
    pub fn slot_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        if let Some(part) = name.strip_prefix("address.") {
            let a = self.address.get_or_insert_with(Address::default);
            return match part {
                "formatted" => Some(&mut a.formatted),
                "street_address" => Some(&mut a.street_address),
                "locality" => Some(&mut a.locality),
                "region" => Some(&mut a.region),
                "postal_code" => Some(&mut a.postal_code),
                "country" => Some(&mut a.country),
                _ => None,
            };
        }
        Some(match name {
            "name" => &mut self.name,
            "given_name" => &mut self.given_name,
            "family_name" => &mut self.family_name,
            "middle_name" => &mut self.middle_name,
            "nickname" => &mut self.nickname,
            "profile" => &mut self.profile,
            "picture" => &mut self.picture,
            "website" => &mut self.website,
            "email" => &mut self.email,
            "gender" => &mut self.gender,
            "birthdate" => &mut self.birthdate,
            "zoneinfo" => &mut self.zoneinfo,
            "locale" => &mut self.locale,
            "phone_number" => &mut self.phone_number,
            _ => return None,
        })
    }

    /// The value of the string claim `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let Some(part) = name.strip_prefix("address.") else {
            return self.plain(name);
        };
        let a = self.address.as_ref()?;
        match part {
            "formatted" => a.formatted.as_deref(),
            "street_address" => a.street_address.as_deref(),
            "locality" => a.locality.as_deref(),
            "region" => a.region.as_deref(),
            "postal_code" => a.postal_code.as_deref(),
            "country" => a.country.as_deref(),
            _ => None,
        }
    }

    fn plain(&self, name: &str) -> Option<&str> {
        match name {
            "name" => self.name.as_deref(),
            "given_name" => self.given_name.as_deref(),
            "family_name" => self.family_name.as_deref(),
            "middle_name" => self.middle_name.as_deref(),
            "nickname" => self.nickname.as_deref(),
            "profile" => self.profile.as_deref(),
            "picture" => self.picture.as_deref(),
            "website" => self.website.as_deref(),
            "email" => self.email.as_deref(),
            "gender" => self.gender.as_deref(),
            "birthdate" => self.birthdate.as_deref(),
            "zoneinfo" => self.zoneinfo.as_deref(),
            "locale" => self.locale.as_deref(),
            "phone_number" => self.phone_number.as_deref(),
            _ => None,
        }
    }

    /// Sets the string claim `name` to `value`, checked and normalised
    /// (blank unsets it). A changed email address or phone number is no
    /// longer verified.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ClaimError> {
        let kind = kind_of(name).ok_or_else(|| ClaimError::new(name, "is not a claim an account holds"))?;
        let value = check_value(kind, value).map_err(|(refusal, reason)| ClaimError {
            claim: name.to_string(),
            reason,
            refusal,
        })?;
        let slot = self.slot_mut(name).expect("every claim in the table has a slot");
        let changed = *slot != value;
        *slot = value;
        if changed && name == "email" {
            self.email_verified = false;
        }
        if changed && name == "phone_number" {
            self.phone_number_verified = false;
        }
        self.tidy();
        Ok(())
    }

    /// Drops an address with no part set, and verified flags without a value.
    pub fn tidy(&mut self) {
        if self.address.as_ref().is_some_and(Address::is_empty) {
            self.address = None;
        }
        self.email_verified &= self.email.is_some();
        self.phone_number_verified &= self.phone_number.is_some();
    }
}

/// The claims as operators' tools see them (the admin API, `latchkey user
/// --json`): every string claim (`null` when unset), both verified flags,
/// `address` as an object or `null`. Groups are not here (they are a member
/// of their own beside the claims).
pub fn to_json(c: &UserClaims) -> Value {
    let mut out = Map::new();
    for (name, _) in STRING_CLAIMS.iter().filter(|(n, _)| !n.starts_with("address.")) {
        out.insert((*name).into(), c.get(name).map_or(Value::Null, |v| Value::String(v.into())));
    }
    out.insert("email_verified".into(), c.email_verified.into());
    out.insert("phone_number_verified".into(), c.phone_number_verified.into());
    let address = c.address.as_ref().map_or(Value::Null, |a| serde_json::to_value(a).expect("an address serializes"));
    out.insert("address".into(), address);
    Value::Object(out)
}

/// Claims from the JSON of [`to_json`] (every member optional, `null` or
/// `""` unset, unknown members refused), each checked as [`UserClaims::set`]
/// does; a verified flag counts only with its value.
pub fn from_json(fields: &Map<String, Value>) -> Result<UserClaims, ClaimError> {
    let mut claims = UserClaims::default();
    let (mut email_verified, mut phone_number_verified) = (false, false);
    let text = |name: &str, v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        _ => Err(ClaimError::new(name, "must be a string or null")),
    };
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("email_verified", Value::Bool(b)) => email_verified = *b,
            ("phone_number_verified", Value::Bool(b)) => phone_number_verified = *b,
            ("email_verified" | "phone_number_verified", _) => {
                return Err(ClaimError::new(name, "must be true or false"));
            }
            ("address", Value::Null) => {}
            ("address", Value::Object(parts)) => {
                for (part, v) in parts {
                    let name = format!("address.{part}");
                    claims.set(&name, &text(&name, v)?)?;
                }
            }
            ("address", _) => return Err(ClaimError::new(name, "must be an object or null")),
            (name, v) if !name.contains('.') => claims.set(name, &text(name, v)?)?,
            (name, _) => return Err(ClaimError::new(name, "is not a claim an account holds")),
        }
    }
    claims.email_verified = email_verified;
    claims.phone_number_verified = phone_number_verified;
    claims.tidy();
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(check(ClaimKind::Url, "https://example.com/me.png"), Ok(Some("https://example.com/me.png".into())));
        let long = format!("https://cdn.example.com/{}", "a".repeat(1000));
        assert!(check(ClaimKind::Url, &long).is_ok(), "longer than a text claim");
        for bad in ["example.com", "javascript:alert(1)", "ftp://example.com/x", "https://", "data:image/png;base64,AA"]
        {
            assert!(check(ClaimKind::Url, bad).is_err(), "{bad}");
        }
        assert!(check(ClaimKind::Url, &format!("https://e.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn dates() {
        for ok in ["1990-04-30", "0000-02-29", "2000-02-29", "1984"] {
            assert_eq!(check(ClaimKind::Date, ok), Ok(Some(ok.into())), "{ok}");
        }
        for bad in ["1990-4-30", "1990-02-30", "1900-02-29", "0000", "1990-13-01", "30/04/1990", "19900430", "199O"] {
            assert!(check(ClaimKind::Date, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locales() {
        for (given, stored) in [
            ("en", "en"),
            ("en-US", "en-US"),
            ("en_GB", "en-GB"),
            ("zh-Hant-TW", "zh-Hant-TW"),
            ("es-419", "es-419"),
            ("de-CH-1996", "de-CH-1996"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
            ("x-whatever", "x-whatever"),
            ("en-x-private", "en-x-private"),
        ] {
            assert_eq!(check(ClaimKind::Locale, given), Ok(Some(stored.into())), "{given}");
        }
        for bad in ["e", "english language", "en--US", "en-", "1en", "en-US-u", "abcd", "en-x", "de-a-"] {
            assert!(check(ClaimKind::Locale, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        for ok in ["Europe/Paris", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"] {
            assert_eq!(check(ClaimKind::TimeZone, ok), Ok(Some(ok.into())), "{ok}");
        }
        for bad in ["Mars/Olympus_Mons", "Europe/", "../../etc/passwd", "+02:00"] {
            assert!(check(ClaimKind::TimeZone, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers() {
        for (given, stored) in [
            ("+44 20 7946 0958", "+442079460958"),
            ("+1 (425) 555-1212", "+14255551212"),
            ("+49.30.123456", "+4930123456"),
            ("+1 604 555 1234;ext=5678", "+16045551234;ext=5678"),
        ] {
            assert_eq!(check(ClaimKind::Phone, given), Ok(Some(stored.into())), "{given}");
        }
        for bad in ["020 7946 0958", "+0 123 4567 89", "+1 555", "+1234567890123456", "+44 20 7946 O958", "+1;ext="] {
            assert!(check(ClaimKind::Phone, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn setting_claims_by_name() {
        let mut c = UserClaims { email: Some("a@example.com".into()), email_verified: true, ..Default::default() };
        c.set("email", "a@example.com").unwrap();
        assert!(c.email_verified, "the same address stays verified");
        c.set("email", "b@example.com").unwrap();
        assert!(!c.email_verified, "a new address is not verified");
        c.set("address.locality", "Berlin").unwrap();
        c.set("address.country", "DE").unwrap();
        assert_eq!(c.get("address.locality"), Some("Berlin"));
        assert_eq!(c.address.as_ref().unwrap().country.as_deref(), Some("DE"));
        c.set("address.locality", " ").unwrap();
        c.set("address.country", "").unwrap();
        assert_eq!(c.address, None, "an address with no part is no address");
        c.set("locale", "fr_CA").unwrap();
        assert_eq!(c.get("locale"), Some("fr-CA"));
        let e = c.set("shoe_size", "9").unwrap_err();
        assert_eq!(e.to_string(), "shoe_size is not a claim an account holds");
        let e = c.set("birthdate", "yesterday").unwrap_err();
        assert!(e.to_string().starts_with("birthdate must be"), "{e}");
        assert_eq!(c.get("birthdate"), None, "a refused value changes nothing");
        for (name, _) in STRING_CLAIMS {
            assert!(UserClaims::default().slot_mut(name).is_some(), "{name}");
        }
    }

    #[test]
    fn claims_to_and_from_json() {
        let body = serde_json::json!({
            "email": "ann@example.com", "email_verified": true, "name": "Ann", "website": "https://ann.example",
            "phone_number": "+1 425 555 1212", "phone_number_verified": true,
            "address": {"street_address": "1 Main St", "country": "US"},
        });
        let claims = from_json(body.as_object().unwrap()).unwrap();
        assert_eq!(claims.phone_number.as_deref(), Some("+14255551212"));
        assert!(claims.email_verified && claims.phone_number_verified);
        let json = to_json(&claims);
        assert_eq!(json["address"], serde_json::json!({"street_address": "1 Main St", "country": "US"}));
        assert_eq!(json["nickname"], Value::Null, "unset claims are null");
        assert_eq!(from_json(json.as_object().unwrap()).unwrap(), claims, "round trip");

        let unverified = from_json(serde_json::json!({"email_verified": true}).as_object().unwrap()).unwrap();
        assert!(!unverified.email_verified, "no flag without its value");
        for bad in [
            serde_json::json!({"shoe_size": "9"}),
            serde_json::json!({"address.country": "US"}),
            serde_json::json!({"address": {"planet": "Mars"}}),
            serde_json::json!({"address": "1 Main St"}),
            serde_json::json!({"name": 7}),
            serde_json::json!({"email_verified": "yes"}),
            serde_json::json!({"zoneinfo": "Mars/Base"}),
        ] {
            assert!(from_json(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
