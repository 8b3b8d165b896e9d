//! Standard claims released by scope (OIDC Core §5.4), and `groups` for the
//! `groups` scope.

use latchkey_core::{Scope, User};
use serde_json::{Map, Value};

/// The claims `scope` allows, from what the user has (absent values are left out).
pub fn user_claims(user: &User, scope: &Scope) -> Map<String, Value> {
    let c = &user.claims;
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.to_string(), v);
        }
    };
    if scope.contains("profile") {
        put("name", c.name.clone().map(Value::from));
        put("given_name", c.given_name.clone().map(Value::from));
        put("family_name", c.family_name.clone().map(Value::from));
        put("preferred_username", Some(user.username.clone().into()));
        put("updated_at", Some(user.updated_at.into()));
    }
    if scope.contains("email") && c.email.is_some() {
        put("email", c.email.clone().map(Value::from));
        put("email_verified", Some(c.email_verified.into()));
    }
    if scope.contains("phone") && c.phone_number.is_some() {
        put("phone_number", c.phone_number.clone().map(Value::from));
        put("phone_number_verified", Some(c.phone_number_verified.into()));
    }
    if let Some(groups) = groups_claim(user, scope) {
        out.insert("groups".into(), groups);
    }
    out
}

/// `groups` when the scope grants it: always an array, empty for an account
/// in no group, so that an app that was granted the scope can tell "no
/// groups" from "not allowed to know".
pub fn groups_claim(user: &User, scope: &Scope) -> Option<Value> {
    scope.contains("groups").then(|| user.claims.groups.clone().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::UserClaims;

    fn user(groups: &[&str]) -> User {
        User {
            id: "u".into(),
            username: "ann".into(),
            password_hash: None,
            disabled: false,
            claims: UserClaims { groups: groups.iter().map(|g| g.to_string()).collect(), ..UserClaims::default() },
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn groups_only_with_the_groups_scope() {
        let scope = |s| Scope::parse(s).unwrap();
        let ann = user(&["staff", "admins"]);
        assert_eq!(user_claims(&ann, &scope("openid groups"))["groups"], serde_json::json!(["staff", "admins"]));
        assert!(!user_claims(&ann, &scope("openid profile email")).contains_key("groups"));
        assert_eq!(user_claims(&user(&[]), &scope("openid groups"))["groups"], serde_json::json!([]));
    }
}
