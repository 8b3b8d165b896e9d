//! People who sign in, and the standard OpenID Connect claims kept for them
//! (OIDC Core §5.1).

use serde::{Deserialize, Serialize};

/// Standard claims released according to the granted scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
}

/// A user account. `id` is the stable, opaque `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string; `None` for accounts that cannot sign in with a password.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub claims: UserClaims,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a user needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: Option<String>,
    pub claims: UserClaims,
}

/// Checks a username: 1 to 64 characters, no white space or control characters.
pub fn validate_username(username: &str) -> Result<(), String> {
    let n = username.chars().count();
    if n == 0 || n > 64 {
        return Err("must be 1 to 64 characters long".into());
    }
    if username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space or control characters".into());
    }
    Ok(())
}

/// The key that makes usernames unique regardless of case.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("alice@example.com").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("al ice").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert_eq!(username_key("Alice"), "alice");
    }
}
