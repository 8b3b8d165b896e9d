//! The FAPI 2.0 Security Profile's rules for a client's registration
//! (FAPI 2.0 Security Profile §5.3.2, §5.4.1, §5.6 "Cryptography"). The
//! rules that apply to each request (pushed requests, PKCE, DPoP, the code
//! lifetime, proof and request-object algorithms) are checked where the
//! request is handled; docs/advanced-protocols.md, "FAPI 2.0" lists them all.

use crate::{AuthMethod, GrantType};

/// The signature algorithms the profile allows (§5.6: PS256, ES256, EdDSA
/// with Ed25519; RS256 is not among them).
pub const ALGORITHMS: [&str; 3] = ["PS256", "ES256", "EdDSA"];

/// Whether `alg` is one the profile allows.
pub fn allows(alg: &str) -> bool {
    ALGORITHMS.contains(&alg)
}

/// Longest lifetime of an authorization code under the profile (§5.3.2.1).
pub const MAX_CODE_LIFETIME_SECONDS: i64 = 60;

/// How long a FAPI 2.0 client may retry a refresh with the token it just
/// used and get the same successor (at least; `tokens.refresh_grace_seconds`
/// if longer): the profile allows rotation only when a lost answer can be
/// retried (§5.3.2.1).
pub const REFRESH_RETRY_SECONDS: i64 = 60;

/// What the registration rules look at.
pub struct Fapi2Client<'a> {
    pub auth_method: AuthMethod,
    pub assertion_alg: Option<&'a str>,
    pub grant_types: &'a [GrantType],
    /// (metadata name, value, whether it must be named): the algorithms the
    /// client's responses are signed with.
    pub signed_response_algs: [(&'static str, Option<&'a str>, bool); 3],
}

/// Checks a registration against the profile; the error names what to change.
pub fn check(client: &Fapi2Client<'_>) -> Result<(), String> {
    // §5.3.2.1: confidential clients authenticated with private_key_jwt or
    // mutual TLS (which Latchkey does not offer).
    if client.auth_method != AuthMethod::PrivateKeyJwt {
        return Err("FAPI 2.0: token_endpoint_auth_method must be private_key_jwt".into());
    }
    match client.assertion_alg {
        Some(alg) if allows(alg) => {}
        _ => return Err("FAPI 2.0: token_endpoint_auth_signing_alg must be PS256, ES256 or EdDSA".into()),
    }
    // The profile covers the authorization code flow (with refresh tokens)
    // and machine clients; the device grant has no pushed request or PKCE.
    if let Some(g) = client
        .grant_types
        .iter()
        .find(|g| !matches!(g, GrantType::AuthorizationCode | GrantType::RefreshToken | GrantType::ClientCredentials))
    {
        return Err(format!("FAPI 2.0: grant type {} is not allowed", g.as_str()));
    }
    for (name, alg, required) in client.signed_response_algs {
        match alg {
            Some(alg) if !allows(alg) => {
                return Err(format!("FAPI 2.0: {name} must be PS256, ES256 or EdDSA, not {alg}"));
            }
            None if required => {
                return Err(format!("FAPI 2.0: {name} must be named (PS256, ES256 or EdDSA; RS256 is not allowed)"));
            }
            _ => {}
        }
    }
    Ok(())
}
