//! What `latchkey token inspect` says about a JWT: its kind, its header and
//! claims with readable times, and every check it passed or failed. No I/O:
//! the keys and what to expect come in, a report goes out. Signatures are
//! checked by `latchkey_core::client_keys::verify_jws`, the JOSE code that
//! checks every other JWT Latchkey receives.

use latchkey_core::calendar::rfc3339;
use latchkey_core::claims::{BACKCHANNEL_LOGOUT_EVENT, RegisteredClaims};
use latchkey_core::client_keys::{ASSERTION_ALGORITHMS, verify_jws};
use latchkey_core::jws::decode_unverified;
use serde_json::{Map, Value, json};

/// Claims shown as times.
const TIME_CLAIMS: [&str; 5] = ["exp", "iat", "nbf", "auth_time", "updated_at"];

/// What a JWT is, from its `typ` and claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RFC 9068 JWT access token (`typ` at+jwt), or a token with an access
    /// token's claims (then the `typ` check fails).
    AccessToken,
    /// OpenID Connect ID token.
    IdToken,
    /// OpenID Connect Back-Channel Logout token.
    LogoutToken,
    OtherJwt,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::AccessToken => "access_token",
            Kind::IdToken => "id_token",
            Kind::LogoutToken => "logout_token",
            Kind::OtherJwt => "jwt",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Kind::AccessToken => "access token (RFC 9068 JWT)",
            Kind::IdToken => "ID token (OpenID Connect)",
            Kind::LogoutToken => "logout token (OpenID Connect Back-Channel Logout)",
            Kind::OtherJwt => "JWT (not an access, ID or logout token)",
        }
    }

    /// Access, ID and logout tokens must expire.
    fn must_expire(self) -> bool {
        self != Kind::OtherJwt
    }
}

/// The header's `typ`, lower-cased, without an `application/` prefix.
fn typ(header: &Map<String, Value>) -> Option<String> {
    let t = header.get("typ")?.as_str()?.to_ascii_lowercase();
    Some(t.strip_prefix("application/").map(str::to_string).unwrap_or(t))
}

pub fn classify(header: &Map<String, Value>, claims: &Map<String, Value>) -> Kind {
    let has = |c: &str| claims.contains_key(c);
    let typ = typ(header);
    if typ.as_deref() == Some("at+jwt") {
        return Kind::AccessToken;
    }
    if typ.as_deref() == Some("logout+jwt")
        || claims.get("events").is_some_and(|e| e.get(BACKCHANNEL_LOGOUT_EVENT).is_some())
    {
        return Kind::LogoutToken;
    }
    if has("client_id") && (has("scope") || has("jti")) && !has("nonce") && !has("at_hash") {
        return Kind::AccessToken;
    }
    let id_shape = ["iss", "sub", "aud", "exp", "iat"].iter().all(|c| has(c));
    let id_only = ["nonce", "at_hash", "c_hash", "auth_time", "azp", "acr", "amr", "sid"].iter().any(|c| has(c));
    if id_shape && id_only { Kind::IdToken } else { Kind::OtherJwt }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Nothing to check against (no --audience, no nbf claim, …); not a failure.
    Skip,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
}

fn check(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { check, status, detail: detail.into() }
}

/// Public keys to check the signature with, and where they came from.
pub struct Keys {
    /// A JWK Set (`{"keys": [...]}`).
    pub jwks: Value,
    /// Shown in the verdict: "this server's database (…)", a JWKS URL.
    pub source: String,
}

/// What the token is checked against.
pub struct Expectations<'a> {
    /// The keys, or why there are none.
    pub keys: Result<Keys, String>,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    /// The keys and issuer are this server's (so a foreign token gets a hint).
    pub local: bool,
    pub now: i64,
}

pub struct Report {
    pub kind: Kind,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub checks: Vec<Check>,
    pub now: i64,
}

impl Report {
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.check).collect()
    }

    pub fn valid(&self) -> bool {
        self.failed().is_empty()
    }
}

/// Decodes and checks `token`; an error if it is not a compact JWS.
pub fn inspect(token: &str, expect: &Expectations) -> Result<Report, String> {
    let jws = decode_unverified(token).map_err(|e| format!("not a JWT ({e:?})"))?;
    let (header, claims) = (jws.header, jws.payload);
    let kind = classify(&header, &claims);
    let now = expect.now;
    let str_of = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    // The claims every check reads, from a token of anywhere: a claim of the wrong type counts as absent.
    let registered: RegisteredClaims = serde_json::from_value(Value::Object(claims.clone())).unwrap_or_default();
    let mut checks = Vec::new();

    let alg = str_of(&header, "alg").unwrap_or_default();
    let kid = str_of(&header, "kid");
    checks.push(match &expect.keys {
        _ if !ASSERTION_ALGORITHMS.contains(&alg.as_str()) => check(
            "signature",
            Status::Fail,
            format!(
                "alg {alg:?} is not checked: only {} signatures verify against published keys",
                ASSERTION_ALGORITHMS.join(", ")
            ),
        ),
        Err(why) => check("signature", Status::Fail, format!("not verified: {why}")),
        Ok(keys) => {
            let published = keys.jwks.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
            let known = kid.as_deref().is_none_or(|kid| published.iter().any(|k| k.get("kid") == Some(&json!(kid))));
            let key = kid.as_deref().map(|k| format!("key {k}")).unwrap_or_else(|| "no kid".into());
            if !known {
                check("signature", Status::Fail, format!("signed with {key}, which {} does not publish", keys.source))
            } else if verify_jws(&keys.jwks, &alg, kid.as_deref(), token).is_some() {
                check("signature", Status::Pass, format!("{alg}, {key}, published by {}", keys.source))
            } else {
                check(
                    "signature",
                    Status::Fail,
                    format!("does not verify ({alg}, {key}) with the keys of {}", keys.source),
                )
            }
        }
    });

    checks.push(match (expect.issuer, &registered.iss) {
        (None, _) => check("issuer", Status::Skip, "no issuer to compare with: give --issuer"),
        (Some(_), None) => check("issuer", Status::Fail, "no iss claim"),
        (Some(want), Some(got)) if want == got => check("issuer", Status::Pass, got.clone()),
        (Some(want), Some(got)) => {
            let hint = if expect.local {
                format!(" (the issuer in this command's configuration); for a token from there: --issuer {got}")
            } else {
                String::new()
            };
            check("issuer", Status::Fail, format!("{got} is not {want}{hint}"))
        }
    });

    let auds: Vec<&str> = registered.aud.iter().flat_map(|a| a.iter()).collect();
    checks.push(match expect.audience {
        None => check("audience", Status::Skip, "give --audience to check it"),
        Some(want) if auds.contains(&want) => check("audience", Status::Pass, want),
        Some(want) if auds.is_empty() => check("audience", Status::Fail, format!("no aud claim; wanted {want}")),
        Some(want) => check("audience", Status::Fail, format!("aud {} does not include {want}", auds.join(" "))),
    });

    checks.push(match registered.exp {
        Some(exp) if now < exp => check("expiry", Status::Pass, format!("expires {}", relative(exp - now))),
        Some(exp) => check("expiry", Status::Fail, format!("expired {}", relative(exp - now))),
        None if kind.must_expire() => check("expiry", Status::Fail, "no exp claim"),
        None => check("expiry", Status::Skip, "no exp claim: it never expires"),
    });

    checks.push(match registered.nbf {
        Some(nbf) if nbf <= now => check("not-before", Status::Pass, format!("valid since {}", relative(nbf - now))),
        Some(nbf) => {
            check("not-before", Status::Fail, format!("not valid until {} ({})", rfc3339(nbf), relative(nbf - now)))
        }
        None => check("not-before", Status::Skip, "no nbf claim"),
    });

    let t = typ(&header);
    let shown = str_of(&header, "typ").unwrap_or_else(|| "none".into());
    checks.push(match (kind, t.as_deref()) {
        (Kind::AccessToken, Some("at+jwt")) => check("typ", Status::Pass, shown),
        (Kind::AccessToken, _) => check(
            "typ",
            Status::Fail,
            format!(
                "{shown}: a JWT access token carries typ at+jwt (RFC 9068 §2.1), so it cannot pass for another JWT"
            ),
        ),
        (Kind::IdToken, None | Some("jwt")) => check("typ", Status::Pass, shown),
        (Kind::IdToken, _) => check("typ", Status::Fail, format!("{shown}: an ID token's typ is JWT or absent")),
        (Kind::LogoutToken, Some("logout+jwt")) => check("typ", Status::Pass, shown),
        (Kind::LogoutToken, None | Some("jwt")) => {
            check("typ", Status::Pass, format!("{shown} (logout+jwt is recommended)"))
        }
        (Kind::LogoutToken, _) => check("typ", Status::Fail, format!("{shown}: a logout token's typ is logout+jwt")),
        (Kind::OtherJwt, _) => check("typ", Status::Skip, format!("{shown}: no rule for this kind of JWT")),
    });

    Ok(Report { kind, header, claims, checks, now })
}

/// "in 13 min", "2 h ago": `delta` seconds from now, rounded.
pub fn relative(delta: i64) -> String {
    if delta == 0 {
        return "now".into();
    }
    let s = delta.unsigned_abs();
    let amount = match s {
        0..90 => format!("{s} s"),
        90..5_400 => format!("{} min", (s + 30) / 60),
        5_400..172_800 => format!("{} h", (s + 1_800) / 3_600),
        _ => format!("{} d", (s + 43_200) / 86_400),
    };
    if delta >= 0 { format!("in {amount}") } else { format!("{amount} ago") }
}

/// A time claim for people: UTC, and relative to now.
fn when(claim: &str, secs: i64, now: i64) -> String {
    let rel = relative(secs - now);
    let rel = match claim {
        "exp" if secs > now => format!("expires {rel}"),
        "exp" => format!("expired {rel}"),
        _ => rel,
    };
    format!("{} ({rel})", rfc3339(secs))
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rows(map: &Map<String, Value>, now: i64) -> String {
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    map.iter()
        .map(|(k, v)| {
            let text = match v.as_i64() {
                Some(secs) if TIME_CLAIMS.contains(&k.as_str()) => when(k, secs, now),
                _ => shown(v),
            };
            format!("  {k:<width$}  {text}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report as text: kind, header, claims, checks, verdict.
pub fn render(report: &Report) -> String {
    let width = report.checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let checks: Vec<String> = report
        .checks
        .iter()
        .map(|c| {
            let status = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            format!("  {status}  {:<width$}  {}", c.check, c.detail)
        })
        .collect();
    let failed = report.failed();
    let verdict = if failed.is_empty() {
        "valid: every check passed".to_string()
    } else {
        format!("NOT VALID: {} failed", failed.join(", "))
    };
    format!(
        "Kind:    {}\nHeader:\n{}\nClaims:\n{}\nChecks:\n{}\nVerdict: {verdict}",
        report.kind.description(),
        rows(&report.header, report.now),
        rows(&report.claims, report.now),
        checks.join("\n"),
    )
}

/// The report for scripts (`--json`).
pub fn to_json(report: &Report) -> Value {
    let times: Map<String, Value> = TIME_CLAIMS
        .iter()
        .filter_map(|c| {
            let secs = report.claims.get(*c)?.as_i64()?;
            Some((c.to_string(), json!({"utc": rfc3339(secs), "relative": relative(secs - report.now)})))
        })
        .collect();
    json!({
        "format": "jwt",
        "kind": report.kind.name(),
        "description": report.kind.description(),
        "header": report.header,
        "claims": report.claims,
        "times": times,
        "checks": report.checks,
        "valid": report.valid(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_keys::{SigningKey, generate_rsa};

    const NOW: i64 = 1_800_000_000;
    const ISS: &str = "https://id.example";

    struct Signer {
        key: SigningKey,
        jwks: Value,
    }

    fn signer() -> Signer {
        let generated = generate_rsa(2048).unwrap();
        let key =
            SigningKey::from_pem(&generated.kid, latchkey_keys::Algorithm::RS256, &generated.private_pem).unwrap();
        Signer { key, jwks: json!({"keys": [generated.public_jwk]}) }
    }

    fn expect<'a>(s: &Signer, audience: Option<&'a str>) -> Expectations<'a> {
        Expectations {
            keys: Ok(Keys { jwks: s.jwks.clone(), source: "the test".into() }),
            issuer: Some(ISS),
            audience,
            local: true,
            now: NOW,
        }
    }

    fn status(report: &Report, name: &str) -> (Status, String) {
        let c = report.checks.iter().find(|c| c.check == name).unwrap();
        (c.status, c.detail.clone())
    }

    #[test]
    fn kinds_and_their_checks() {
        let s = signer();
        let access = s
            .key
            .sign_jwt(
                "at+jwt",
                &json!({"iss": ISS, "sub": "u", "aud": "https://api", "client_id": "c", "scope": "openid",
                        "exp": NOW + 780, "iat": NOW - 120, "jti": "j"}),
            )
            .unwrap();
        let report = inspect(&access, &expect(&s, Some("https://api"))).unwrap();
        assert_eq!(report.kind, Kind::AccessToken);
        assert!(report.valid(), "{}", render(&report));
        assert_eq!(status(&report, "expiry"), (Status::Pass, "expires in 13 min".into()));
        let text = render(&report);
        assert!(text.contains("(expires in 13 min)") && text.contains("(2 min ago)"), "{text}");
        assert!(text.contains("Verdict: valid"), "{text}");

        // The same claims under another typ: an access token posing as something else.
        let posing = s
            .key
            .sign_jwt("JWT", &json!({"iss": ISS, "sub": "u", "client_id": "c", "scope": "x", "exp": NOW + 5}))
            .unwrap();
        let report = inspect(&posing, &expect(&s, None)).unwrap();
        assert_eq!(report.kind, Kind::AccessToken);
        assert_eq!(report.failed(), ["typ"]);

        let id = s
            .key
            .sign_jwt(
                "JWT",
                &json!({"iss": ISS, "sub": "u", "aud": "c", "exp": NOW - 7_200, "iat": NOW - 10_800,
                        "nonce": "n", "auth_time": NOW - 10_800}),
            )
            .unwrap();
        let report = inspect(&id, &expect(&s, Some("c"))).unwrap();
        assert_eq!(report.kind, Kind::IdToken);
        assert_eq!(report.failed(), ["expiry"]);
        assert_eq!(status(&report, "expiry").1, "expired 2 h ago");
        assert!(render(&report).contains("NOT VALID: expiry failed"));

        let logout = s
            .key
            .sign_jwt(
                "logout+jwt",
                &json!({"iss": ISS, "aud": "c", "iat": NOW, "exp": NOW + 120, "jti": "j", "sid": "s",
                        "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}),
            )
            .unwrap();
        let report = inspect(&logout, &expect(&s, Some("other"))).unwrap();
        assert_eq!(report.kind, Kind::LogoutToken);
        assert_eq!(report.failed(), ["audience"]);

        let other = s.key.sign_jwt("JWT", &json!({"iss": ISS, "nbf": NOW + 300})).unwrap();
        let report = inspect(&other, &expect(&s, None)).unwrap();
        assert_eq!(report.kind, Kind::OtherJwt);
        assert_eq!(status(&report, "expiry").0, Status::Skip);
        assert_eq!(report.failed(), ["not-before"]);
        assert_eq!(to_json(&report)["valid"], false);
    }

    #[test]
    fn signatures_issuers_and_keys() {
        let (s, elsewhere) = (signer(), signer());
        let token = s.key.sign_jwt("at+jwt", &json!({"iss": "https://other", "exp": NOW + 60})).unwrap();
        let report = inspect(&token, &expect(&elsewhere, None)).unwrap();
        assert_eq!(report.failed(), ["signature", "issuer"]);
        assert!(status(&report, "signature").1.contains("does not publish"));
        assert!(status(&report, "issuer").1.contains("--issuer https://other"), "a hint for foreign tokens");

        // A key with the same kid but other material: the signature itself fails.
        let mut forged = elsewhere.jwks.clone();
        forged["keys"][0]["kid"] = s.jwks["keys"][0]["kid"].clone();
        let e = Expectations { keys: Ok(Keys { jwks: forged, source: "x".into() }), ..expect(&s, None) };
        assert!(status(&inspect(&token, &e).unwrap(), "signature").1.contains("does not verify"));

        let tampered = {
            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            parts[1] = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"iss":"https://other","exp":9999999999}"#,
            );
            parts.join(".")
        };
        assert_eq!(inspect(&tampered, &expect(&s, None)).unwrap().failed(), ["signature", "issuer"]);

        let none = format!(
            "{}.{}.",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"alg":"none"}"#),
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"exp":9999999999}"#)
        );
        assert!(status(&inspect(&none, &expect(&s, None)).unwrap(), "signature").1.contains("\"none\""));
        let no_keys = Expectations { keys: Err("no database".into()), ..expect(&s, None) };
        assert_eq!(status(&inspect(&token, &no_keys).unwrap(), "signature").0, Status::Fail);
        assert!(inspect("not-a-token", &expect(&s, None)).is_err());
    }

    #[test]
    fn claims_of_the_wrong_type_count_as_absent() {
        let s = signer();
        let token = s
            .key
            .sign_jwt("JWT", &json!({"iss": 7, "aud": ["https://a", "https://api"], "exp": "soon", "nbf": NOW - 1}))
            .unwrap();
        let report = inspect(&token, &expect(&s, Some("https://api"))).unwrap();
        assert_eq!(status(&report, "issuer"), (Status::Fail, "no iss claim".into()));
        assert_eq!(status(&report, "audience").0, Status::Pass, "one of several audiences");
        assert_eq!(status(&report, "expiry").0, Status::Skip, "a string is no exp");
        assert_eq!(status(&report, "not-before").0, Status::Pass);
        assert_eq!(report.claims["exp"], "soon", "shown as it is");
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(45), "in 45 s");
        assert_eq!(relative(0), "now");
        assert_eq!(relative(-780), "13 min ago");
        assert_eq!(relative(7_200), "in 2 h");
        assert_eq!(relative(-3 * 86_400), "3 d ago");
    }
}
