//! A configuration problem, named by its key and the environment variable
//! that sets it, and by its place in the file when the file set it.

/// What is wrong with one setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub key: String,
    pub env: String,
    pub message: String,
    /// `FILE:LINE:COLUMN` of the key, when the file sets it.
    pub at: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "`{}` ({}): {}", self.key, self.env, self.message)
    }
}

impl ConfigError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Self { key: key.to_string(), env: env_name(key), message: message.into(), at: None }
    }

    /// A problem in the `index`-th `[[upstream]]` table, which only the file sets.
    pub fn upstream(index: usize, field: &str, message: impl Into<String>) -> Self {
        Self { key: format!("upstream[{index}].{field}"), env: FILE_ONLY.into(), message: message.into(), at: None }
    }
}

/// What stands for the variable of a setting that only the file can set.
pub const FILE_ONLY: &str = "config file only";

/// The environment variable for a key: `keys.rsa_bits` → `LATCHKEY_KEYS_RSA_BITS`.
pub fn env_name(key: &str) -> String {
    format!("LATCHKEY_{}", key.replace('.', "_").to_uppercase())
}

/// `{value:?} is out of range; use MIN to MAX` when `value` is outside.
pub fn check_range(key: &str, value: i64, min: i64, max: i64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(key, format!("{value} is out of range; use {min} to {max}")));
    }
    Ok(())
}
