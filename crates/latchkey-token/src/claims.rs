//! Standard claims released by scope (OIDC Core §5.4).

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
    out
}
