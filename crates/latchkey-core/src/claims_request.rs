//! The `claims` request parameter (OpenID Connect Core §5.5): individual
//! claims an app asks for in the ID token and at UserInfo, and `acr` values
//! it wants or needs (§5.5.1.1).
//!
//! A requested claim is released like the scope that covers it (`email` is
//! the `email` scope's): the app must be allowed that scope and the person
//! consents to it, so asking by claim never reveals more than asking by
//! scope would. Claims no scope covers (`sub`, `auth_time`, `acr`, `amr`)
//! are in every ID token already; claims we do not know are ignored, as the
//! specification says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Scope;
use crate::acr::{ACR_FEDERATED, Level};

/// Most claims one member (`id_token`, `userinfo`) may name.
const MAX_CLAIMS: usize = 64;
/// Longest claim name, and longest `acr` value, accepted.
const MAX_NAME: usize = 256;

/// The end-user claims each scope releases (OIDC Core §5.4; `groups` is ours).
pub const SCOPE_CLAIMS: [(&str, &[&str]); 5] = [
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    ("groups", &["groups"]),
];

/// The scope whose consent releases `claim`, if a scope covers it.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    SCOPE_CLAIMS.iter().find(|(_, claims)| claims.contains(&claim)).map(|(scope, _)| *scope)
}

/// One requested claim (§5.5.1): `null`, or an object with any of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    #[serde(default)]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
}

/// A parsed `claims` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, ClaimRequest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, ClaimRequest>,
}

/// Why a `claims` parameter was refused (`invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claims {0}")]
pub struct InvalidClaims(&'static str);

impl ClaimsRequest {
    /// Parses the parameter's JSON text. Members other than `id_token` and
    /// `userinfo` are ignored (extensions may add some).
    pub fn parse(text: &str) -> Result<Self, InvalidClaims> {
        let Ok(Value::Object(top)) = serde_json::from_str::<Value>(text) else {
            return Err(InvalidClaims("must be a JSON object"));
        };
        let mut out = Self::default();
        for (member, into) in [("id_token", &mut out.id_token), ("userinfo", &mut out.userinfo)] {
            let requested = match top.get(member) {
                None | Some(Value::Null) => continue,
                Some(Value::Object(m)) => m,
                Some(_) => return Err(InvalidClaims("members id_token and userinfo must be objects")),
            };
            if requested.len() > MAX_CLAIMS {
                return Err(InvalidClaims("names too many claims (64 per member at most)"));
            }
            for (name, request) in requested {
                if name.is_empty() || name.len() > MAX_NAME {
                    return Err(InvalidClaims("has an empty or overlong claim name"));
                }
                let request = match request {
                    Value::Null => ClaimRequest::default(),
                    Value::Object(_) => serde_json::from_value(request.clone())
                        .map_err(|_| InvalidClaims("entries must be null or {essential, value, values}"))?,
                    _ => return Err(InvalidClaims("entries must be null or {essential, value, values}")),
                };
                into.insert(name.clone(), request);
            }
        }
        if let Some(acr) = out.id_token.get("acr").or(out.userinfo.get("acr")) {
            acr.acr_values()?;
        }
        Ok(out)
    }

    /// The `acr` request (§5.5.1.1), from the ID token's member.
    pub fn acr(&self) -> Option<&ClaimRequest> {
        self.id_token.get("acr")
    }

    /// Scopes whose consent the requested claims need: those the app may
    /// ask for (`allowed`); claims of other scopes are not released.
    pub fn scopes(&self, allowed: &Scope) -> Scope {
        let names = self.id_token.keys().chain(self.userinfo.keys());
        Scope::from_tokens(names.filter_map(|n| scope_of(n)).filter(|s| allowed.contains(s)))
    }

    /// The claims to release beyond `scope`, by member, once `consented`
    /// covers their scopes.
    pub fn released(&self, consented: &Scope) -> RequestedClaims {
        let pick = |m: &BTreeMap<String, ClaimRequest>| -> Vec<String> {
            m.keys().filter(|n| scope_of(n).is_some_and(|s| consented.contains(s))).cloned().collect()
        };
        RequestedClaims { id_token: pick(&self.id_token), userinfo: pick(&self.userinfo) }
    }
}

impl ClaimRequest {
    /// `value` and `values` as `acr` values: strings, `value` first.
    pub fn acr_values(&self) -> Result<Vec<String>, InvalidClaims> {
        let bad = InvalidClaims("acr value and values must be strings");
        let mut out = Vec::new();
        for v in self.value.iter().chain(self.values.iter().flatten()) {
            match v {
                Value::String(s) if !s.is_empty() && s.len() <= MAX_NAME => out.push(s.clone()),
                _ => return Err(bad),
            }
        }
        Ok(out)
    }
}

/// What a code, and the tokens after it, release beyond their scope: the
/// names of consented claims asked for individually.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
}

impl RequestedClaims {
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }
}

/// Whether a session whose `acr` is `have` satisfies the requested class
/// `wanted`. Our classes are levels: a stronger sign-in satisfies a weaker
/// class (a passkey sign-in is also `mfa`); a federated one-factor sign-in
/// satisfies only its own class, and an unknown class only itself.
pub fn acr_satisfies(have: &str, wanted: &str) -> bool {
    if have == wanted {
        return true;
    }
    if have == ACR_FEDERATED || wanted == ACR_FEDERATED {
        return false;
    }
    match (Level::of(have), Level::of(wanted)) {
        (Some(have), Some(wanted)) => have >= wanted,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acr::{ACR_MFA, ACR_PASSWORD, ACR_PHR};

    #[test]
    fn parses_members_and_entries_and_refuses_what_is_not_the_shape() {
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"email":null,"acr":{"essential":true,"values":["phr","urn:latchkey:acr:mfa"]}},
                "userinfo":{"phone_number":{"essential":true},"nickname":null},"x-ext":1}"#,
        )
        .unwrap();
        assert_eq!(c.id_token.keys().collect::<Vec<_>>(), ["acr", "email"]);
        assert!(c.acr().unwrap().essential);
        assert_eq!(c.acr().unwrap().acr_values().unwrap(), [ACR_PHR, ACR_MFA]);
        assert_eq!(c.userinfo.len(), 2);
        assert_eq!(ClaimsRequest::parse(r#"{"userinfo":null}"#).unwrap(), ClaimsRequest::default());
        for bad in [
            "",
            "[]",
            "\"x\"",
            "{",
            r#"{"id_token":[]}"#,
            r#"{"userinfo":{"email":true}}"#,
            r#"{"userinfo":{"email":{"essential":"yes"}}}"#,
            r#"{"userinfo":{"email":{"values":"a"}}}"#,
            r#"{"userinfo":{"":null}}"#,
            r#"{"id_token":{"acr":{"value":3}}}"#,
            r#"{"id_token":{"acr":{"values":[""]}}}"#,
        ] {
            assert!(ClaimsRequest::parse(bad).is_err(), "{bad}");
        }
        let many: serde_json::Map<String, Value> = (0..65).map(|i| (format!("c{i}"), Value::Null)).collect();
        let text = serde_json::json!({ "userinfo": many }).to_string();
        assert!(ClaimsRequest::parse(&text).is_err(), "65 claims");
    }

    #[test]
    fn claims_need_their_scope_allowed_and_consented() {
        let c = ClaimsRequest::parse(
            r#"{"id_token":{"email":null,"sub":null,"unknown":null},"userinfo":{"phone_number":null,"groups":null}}"#,
        )
        .unwrap();
        let allowed = Scope::parse("openid email phone").unwrap();
        assert_eq!(c.scopes(&allowed).to_string(), "email phone", "groups is not allowed, sub needs nothing");
        let released = c.released(&Scope::parse("openid email").unwrap());
        assert_eq!(released.id_token, ["email"]);
        assert!(released.userinfo.is_empty(), "phone not consented");
        assert_eq!(scope_of("updated_at"), Some("profile"));
        assert_eq!(scope_of("acr"), None);
    }

    #[test]
    fn stronger_classes_satisfy_weaker_ones_and_federated_only_itself() {
        assert!(acr_satisfies(ACR_PHR, ACR_MFA));
        assert!(acr_satisfies(ACR_MFA, ACR_PASSWORD));
        assert!(!acr_satisfies(ACR_PASSWORD, ACR_MFA));
        assert!(!acr_satisfies(ACR_FEDERATED, ACR_PASSWORD));
        assert!(!acr_satisfies(ACR_MFA, ACR_FEDERATED));
        assert!(acr_satisfies(ACR_FEDERATED, ACR_FEDERATED));
        assert!(!acr_satisfies(ACR_PHR, "urn:other"));
    }
}
