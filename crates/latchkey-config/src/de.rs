//! How some values are read: an empty string means "unset" (as the example
//! file has always written it), and addresses say what they should look like.

use std::net::SocketAddr;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// `""` is `None`; anything else is read as `T`.
pub fn empty_is_none<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::Null => Ok(None),
        v => T::deserialize(v).map(Some).map_err(D::Error::custom),
    }
}

fn parse_address<E: serde::de::Error>(s: &str, example: &str) -> Result<SocketAddr, E> {
    s.parse().map_err(|_| E::custom(format!("{s:?} is not an address like {example}")))
}

/// A listening address (`127.0.0.1:8080`).
pub fn address<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    parse_address(&String::deserialize(d)?, "127.0.0.1:8080")
}

/// An optional listening address; `""` is `None`.
pub fn optional_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    match String::deserialize(d)?.as_str() {
        "" => Ok(None),
        s => parse_address(s, "127.0.0.1:9001").map(Some),
    }
}

/// Groups and their console roles: a table (`{ "it-admins" = "full" }`),
/// or, from the environment, `it-admins=full,helpdesk=support`.
pub fn group_roles<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, crate::ConsoleRole>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => {
            let mut out = std::collections::BTreeMap::new();
            for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (group, role) = pair
                    .split_once('=')
                    .ok_or_else(|| D::Error::custom(format!("{pair:?} is not GROUP=ROLE (e.g. it-admins=full)")))?;
                let role = crate::ConsoleRole::deserialize(serde_json::Value::String(role.trim().to_string()))
                    .map_err(D::Error::custom)?;
                out.insert(group.trim().to_string(), role);
            }
            Ok(out)
        }
        v => std::collections::BTreeMap::deserialize(v).map_err(D::Error::custom),
    }
}
