//! Software statements (RFC 7591 §2.3): a JWS whose claims are client
//! metadata, signed by a party the operator trusts. Checked here: the
//! algorithm (RS256, PS256, ES256 or EdDSA; never `none`, never HMAC), the
//! signature against the configured keys, `exp`, `iat` and `nbf` with a
//! minute of clock skew, and `iss` against the accepted issuers. Its claims
//! then take precedence over the same members of the request body, and the
//! result is checked like any other metadata.

use latchkey_core::client_keys::{ASSERTION_ALGORITHMS, verify_jws};
use latchkey_core::jws::{JwsShapeError, decode_unverified};
use serde_json::{Map, Value};

/// What the operator trusts and requires.
#[derive(Debug, Clone, Default)]
pub struct SoftwareStatementPolicy {
    /// A registration (or RFC 7592 replacement) without a statement is refused.
    pub required: bool,
    /// The trusted issuers' public keys (a validated JWK Set); `None`: no
    /// statement can be verified, so every statement is unapproved.
    pub jwks: Option<Value>,
    /// Accepted `iss` values; empty: any issuer whose key verifies.
    pub issuers: Vec<String>,
}

/// Larger statements are refused before any parsing.
pub const MAX_STATEMENT_BYTES: usize = 16 * 1024;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY: i64 = 60;

/// Claims that describe the statement itself, or that the server alone sets:
/// never copied into the client's metadata.
const NOT_METADATA: [&str; 13] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "software_statement",
    "client_id",
    "client_secret",
    "client_secret_expires_at",
    "client_id_issued_at",
    "registration_access_token",
];

/// Why a statement was refused (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementError {
    /// `invalid_software_statement`: missing when required, malformed, wrong
    /// algorithm, bad signature, expired or not yet valid.
    Invalid(&'static str),
    /// `unapproved_software_statement`: no trusted keys, or an issuer that is
    /// not accepted.
    Unapproved(&'static str),
}

/// What a verified statement contributed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    pub issuer: Option<String>,
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, StatementError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            v.as_i64().map(Some).ok_or(StatementError::Invalid("a time claim of the statement is not an integer"))
        }
    }
}

impl SoftwareStatementPolicy {
    /// Takes `software_statement` out of the request body `body` (a JSON
    /// object) and, if it verifies, writes its claims over the body's
    /// members. Without a statement, the body is left as it is unless one is
    /// required.
    pub fn apply(&self, body: &mut Map<String, Value>, now: i64) -> Result<Verified, StatementError> {
        let Some(statement) = body.remove("software_statement") else {
            return if self.required {
                Err(StatementError::Invalid("a software_statement is required"))
            } else {
                Ok(Verified::default())
            };
        };
        let claims = self.verify(&statement, now)?;
        let issuer = claims.get("iss").and_then(Value::as_str).map(str::to_string);
        for (name, value) in claims {
            if !NOT_METADATA.contains(&name.as_str()) {
                body.insert(name, value);
            }
        }
        Ok(Verified { issuer })
    }

    /// The statement's claims, if it is a JWS by a trusted key, in its
    /// validity period, from an accepted issuer.
    pub fn verify(&self, statement: &Value, now: i64) -> Result<Map<String, Value>, StatementError> {
        let jwt = statement.as_str().ok_or(StatementError::Invalid("software_statement must be a string"))?;
        if jwt.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::Invalid("the statement is too large"));
        }
        let header = match decode_unverified(jwt) {
            Ok(jws) => jws.header,
            Err(JwsShapeError::NotCompact) => {
                return Err(StatementError::Invalid("the statement is not a compact JWS"));
            }
            Err(JwsShapeError::NotBase64url) => return Err(StatementError::Invalid("the statement is not base64url")),
            Err(JwsShapeError::NotJsonObject) => {
                return Err(StatementError::Invalid("the statement is not a JSON object"));
            }
        };
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
        if !ASSERTION_ALGORITHMS.contains(&alg) {
            return Err(StatementError::Invalid(
                "the statement's algorithm is not allowed; use RS256, PS256, ES256 or EdDSA",
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(StatementError::Invalid("the statement's kid is not a string")),
        };
        let Some(jwks) = &self.jwks else {
            return Err(StatementError::Unapproved("this server trusts no software statement issuers"));
        };
        let claims = verify_jws(jwks, alg, kid, jwt)
            .ok_or(StatementError::Invalid("the statement's signature does not verify with a trusted key"))?;
        if time_claim(&claims, "exp")?.is_some_and(|exp| exp + LEEWAY <= now) {
            return Err(StatementError::Invalid("the statement has expired"));
        }
        for name in ["iat", "nbf"] {
            if time_claim(&claims, name)?.is_some_and(|t| t > now + LEEWAY) {
                return Err(StatementError::Invalid("the statement is not valid yet"));
            }
        }
        let iss = match claims.get("iss") {
            None => None,
            Some(Value::String(iss)) => Some(iss.as_str()),
            Some(_) => return Err(StatementError::Invalid("the statement's iss is not a string")),
        };
        if !self.issuers.is_empty() && !iss.is_some_and(|iss| self.issuers.iter().any(|a| a == iss)) {
            return Err(StatementError::Unapproved("the statement's issuer is not accepted by this server"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use josekit::jws::{ES256, HS256, JwsHeader};
    use josekit::jwt::JwtPayload;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    struct Issuer {
        pair: josekit::jwk::alg::ec::EcKeyPair,
        policy: SoftwareStatementPolicy,
    }

    fn issuer(issuers: &[&str]) -> Issuer {
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("k1");
        let jwks = json!({"keys": [serde_json::to_value(public.as_ref()).unwrap()]});
        latchkey_core::client_keys::validate_client_jwks(&jwks).unwrap();
        let policy = SoftwareStatementPolicy {
            required: false,
            jwks: Some(jwks),
            issuers: issuers.iter().map(|s| s.to_string()).collect(),
        };
        Issuer { pair, policy }
    }

    fn sign(pair: &josekit::jwk::alg::ec::EcKeyPair, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        header.set_token_type("JWT");
        // Raw JWS, so that claims of the wrong type can be signed too.
        let signer = ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
        josekit::jws::serialize_compact(&serde_json::to_vec(&claims).unwrap(), &header, &signer).unwrap()
    }

    #[test]
    fn claims_override_the_body() {
        let i = issuer(&["https://issuer.example"]);
        let jwt = sign(
            &i.pair,
            json!({"iss": "https://issuer.example", "exp": NOW + 60, "client_name": "Signed", "software_id": "s1"}),
        );
        let mut body = json!({"client_name": "Body", "software_statement": jwt, "logo_uri": "x"});
        let body = body.as_object_mut().unwrap();
        let v = i.policy.apply(body, NOW).unwrap();
        assert_eq!(v.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(body["client_name"], "Signed");
        assert_eq!(body["software_id"], "s1");
        assert_eq!(body["logo_uri"], "x");
        assert!(!body.contains_key("iss") && !body.contains_key("exp") && !body.contains_key("software_statement"));
    }

    #[test]
    fn refusals_name_the_rfc_error() {
        let i = issuer(&["https://issuer.example"]);
        let good = |extra: Value| {
            let mut c = json!({"iss": "https://issuer.example", "client_name": "A"});
            c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            sign(&i.pair, c)
        };
        let hs = {
            let payload = JwtPayload::from_map(json!({"iss": "https://issuer.example"}).as_object().unwrap().clone());
            josekit::jwt::encode_with_signer(
                &payload.unwrap(),
                &JwsHeader::new(),
                &HS256.signer_from_bytes(b"0123456789abcdef0123456789abcdef").unwrap(),
            )
            .unwrap()
        };
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"iss":"https://issuer.example"}"#)
        );
        let other = issuer(&[]);
        let invalid = [
            json!(42),
            json!("garbage"),
            json!("a.b.c"),
            json!(hs),
            json!(none),
            json!(sign(&other.pair, json!({"iss": "https://issuer.example"}))),
            json!(good(json!({"exp": NOW - 61}))),
            json!(good(json!({"iat": NOW + 61}))),
            json!(good(json!({"nbf": NOW + 3600}))),
            json!(good(json!({"exp": "soon"}))),
            json!("x".repeat(MAX_STATEMENT_BYTES + 1)),
        ];
        for s in invalid {
            let r = i.policy.verify(&s, NOW);
            assert!(matches!(r, Err(StatementError::Invalid(_))), "{s}: {r:?}");
        }
        assert!(i.policy.verify(&json!(good(json!({"exp": NOW - 30, "iat": NOW + 30}))), NOW).is_ok(), "skew");
        let stranger = sign(&i.pair, json!({"iss": "https://stranger.example"}));
        assert!(matches!(i.policy.verify(&json!(stranger), NOW), Err(StatementError::Unapproved(_))));
        let anonymous = sign(&i.pair, json!({"client_name": "A"}));
        assert!(matches!(i.policy.verify(&json!(anonymous), NOW), Err(StatementError::Unapproved(_))));
        let untrusting = SoftwareStatementPolicy::default();
        assert!(matches!(untrusting.verify(&json!(good(json!({}))), NOW), Err(StatementError::Unapproved(_))));
        let required = SoftwareStatementPolicy { required: true, ..SoftwareStatementPolicy::default() };
        let mut body = Map::new();
        assert!(matches!(required.apply(&mut body, NOW), Err(StatementError::Invalid(_))));
    }
}
