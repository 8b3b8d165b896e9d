//! Access tokens (RFC 9068 JWTs) and ID tokens (OIDC Core §2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::claims::{AccessTokenClaims, Confirmation, IdTokenClaims, StandardClaims};
use latchkey_core::claims_request::RequestedClaims;
use latchkey_core::grant::Authentication;
use latchkey_core::{Client, Scope, User, random};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use crate::{TokenError, TokenState};

/// The token response body (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Token exchange only (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// Signed tokens before they are recorded.
pub struct Minted {
    pub access_token: String,
    pub jti: String,
    pub expires_at: i64,
    pub expires_in: i64,
    pub scope: Scope,
    pub id_token: Option<String>,
    /// Bound to a DPoP key (`token_type` DPoP).
    pub bound: bool,
}

/// `token_type` of an access token (RFC 9449 §5).
pub fn token_type(bound: bool) -> &'static str {
    if bound { "DPoP" } else { "Bearer" }
}

/// The `cnf` claim of a token bound to the DPoP key `jkt`.
pub fn confirmation(jkt: Option<&str>) -> Option<Confirmation> {
    jkt.map(|jkt| Confirmation { jkt: jkt.to_string() })
}

impl Minted {
    pub fn response(self, refresh_token: Option<String>) -> TokenResponse {
        TokenResponse {
            access_token: self.access_token,
            token_type: token_type(self.bound),
            expires_in: self.expires_in,
            scope: self.scope.to_string(),
            id_token: self.id_token,
            refresh_token,
            issued_token_type: None,
        }
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access
/// token, base64url, with the ID token's algorithm's hash: SHA-256 for
/// RS256, PS256 and ES256, SHA-512 for EdDSA with Ed25519 (as the OpenID
/// Foundation's errata and relying-party libraries compute it).
pub fn at_hash(access_token: &str, alg: latchkey_keys::Algorithm) -> String {
    match alg {
        latchkey_keys::Algorithm::EdDSA => URL_SAFE_NO_PAD.encode(&Sha512::digest(access_token.as_bytes())[..32]),
        _ => URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16]),
    }
}

/// Whose tokens, for what, signed in how: what a person granted a client,
/// as a code or refresh token carries it.
#[derive(Clone, Copy)]
pub struct Person<'a> {
    pub user: &'a User,
    /// The access token's scope (a refresh may narrow the grant's).
    pub scope: &'a Scope,
    pub auth: &'a Authentication,
    /// Claims asked for one by one (the `claims` parameter) and consented.
    pub claims: &'a RequestedClaims,
}

/// A person's access token (bound to the DPoP key `jkt` if given) and, for
/// `openid`, ID token.
pub fn mint_tokens(
    state: &TokenState,
    client: &Client,
    person: Person<'_>,
    nonce: Option<&str>,
    jkt: Option<&str>,
    now: i64,
) -> Result<Minted, TokenError> {
    let Person { user, scope, auth, claims } = person;
    let keys = state.keys.current();
    let key = access_key(state, &keys)?;
    let s = &state.settings;
    let jti = random::token(16);
    let expires_at = now + s.tokens.access_token_ttl_seconds.secs();
    let mut access_claims = AccessTokenClaims::person(
        &s.issuer,
        s.default_audience(),
        &client.client_id,
        user,
        scope,
        auth,
        jti.clone(),
        now,
        expires_at,
    );
    access_claims.userinfo_claims.clone_from(&claims.userinfo);
    access_claims.cnf = confirmation(jkt);
    let access_token = key.sign_jwt("at+jwt", &access_claims).map_err(|e| TokenError::Signing(e.to_string()))?;

    let id_token = if scope.contains("openid") {
        // The client's registered algorithm (OIDC Registration §2), RS256 by default.
        let alg = client.settings.id_token_signed_response_alg.as_deref();
        let id_key = keys.signing_key_named(alg).ok_or_else(|| no_key(alg.unwrap_or("RS256")))?;
        let claims = IdTokenClaims {
            acr: Some(auth.acr.clone()),
            amr: Some(auth.amr.clone()),
            at_hash: Some(at_hash(&access_token, id_key.algorithm())),
            aud: client.client_id.as_str().into(),
            auth_time: Some(auth.auth_time),
            azp: Some(client.client_id.clone()),
            exp: now + s.tokens.id_token_ttl_seconds.secs(),
            iat: now,
            iss: s.issuer.clone(),
            nonce: nonce.map(str::to_string),
            sid: Some(auth.sid.clone()),
            sub: user.id.clone(),
            profile: StandardClaims::released_with(user, scope, &claims.id_token),
        };
        Some(id_key.sign_jwt("JWT", &claims).map_err(|e| TokenError::Signing(e.to_string()))?)
    } else {
        None
    };
    Ok(Minted {
        access_token,
        jti,
        expires_at,
        expires_in: s.tokens.access_token_ttl_seconds.secs(),
        scope: scope.clone(),
        id_token,
        bound: jkt.is_some(),
    })
}

/// The key access tokens are signed with (`keys.algorithm`).
pub(crate) fn access_key<'k>(
    state: &TokenState,
    keys: &'k latchkey_keys::KeySet,
) -> Result<&'k std::sync::Arc<latchkey_keys::SigningKey>, TokenError> {
    let alg = state.settings.access_token_alg;
    keys.signing_key_named(Some(alg)).ok_or_else(|| no_key(alg))
}

fn no_key(alg: &str) -> TokenError {
    TokenError::Signing(format!("no active {alg} signing key"))
}

/// An access token for the client itself (client_credentials): `sub` is the client.
pub fn mint_client_token(
    state: &TokenState,
    client: &Client,
    scope: &Scope,
    audience: &str,
    jkt: Option<&str>,
    now: i64,
) -> Result<Minted, TokenError> {
    let keys = state.keys.current();
    let key = access_key(state, &keys)?;
    let s = &state.settings;
    let jti = random::token(16);
    let expires_at = now + s.tokens.access_token_ttl_seconds.secs();
    let mut claims =
        AccessTokenClaims::client(&s.issuer, audience, &client.client_id, scope, jti.clone(), now, expires_at);
    claims.cnf = confirmation(jkt);
    let access_token = key.sign_jwt("at+jwt", &claims).map_err(|e| TokenError::Signing(e.to_string()))?;
    Ok(Minted {
        access_token,
        jti,
        expires_at,
        expires_in: s.tokens.access_token_ttl_seconds.secs(),
        scope: scope.clone(),
        id_token: None,
        bound: jkt.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use latchkey_keys::Algorithm::{ES256, EdDSA, RS256};

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // Cross-checked with Python: urlsafe_b64encode(sha256(t).digest()[:16]).
        // (The at_hash printed in OIDC Core Appendix A.3 does not match its own token.)
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNhkP", RS256), "7cig1UWPZpV5HkFyloK0nA");
        assert_eq!(super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNhkP", ES256), "7cig1UWPZpV5HkFyloK0nA");
        // EdDSA: the left half of SHA-512, cross-checked with Python:
        // urlsafe_b64encode(sha512(t).digest()[:32]).
        assert_eq!(
            super::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNhkP", EdDSA),
            "PJRhtvQDW2EUZSl_G3-xqeASfCWzNdyJNtfdGEJ7tAI"
        );
    }
}
