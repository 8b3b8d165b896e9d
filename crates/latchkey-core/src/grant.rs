//! Records of the authorization code flow: sessions, consents, pending
//! interactions, codes and refresh tokens. Secrets among them (session ids,
//! interaction ids, codes, refresh tokens) are kept only as hashes.

use serde::{Deserialize, Serialize};

use crate::claims_request::RequestedClaims;
use crate::scope::Scope;

/// How and when a person signed in; copied from the session into codes and
/// tokens so that `auth_time`, `amr` and `acr` travel with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    /// Public session id (`sid` claim); not the cookie value.
    pub sid: String,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    pub auth: Authentication,
    pub created_at: i64,
    /// Absolute end of the session.
    pub expires_at: i64,
    /// Last time the session was used (idle timeout).
    pub last_seen_at: i64,
    /// Clients that received a code in this session.
    pub client_ids: Vec<String>,
}

impl Session {
    /// What operators see of a session (CLI and admin API): everything but
    /// the hash of its cookie.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sid": self.auth.sid,
            "user_id": self.auth.user_id,
            "auth_time": self.auth.auth_time,
            "amr": self.auth.amr,
            "acr": self.auth.acr,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "expires_at": self.expires_at,
            "clients": self.client_ids,
        })
    }
}

/// Scopes a person granted to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scope: Scope,
    pub granted_at: i64,
    pub updated_at: i64,
}

/// Where a pending authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionStage {
    Login,
    Consent,
    /// The person went to an upstream identity provider; the record is keyed
    /// by the `state` sent there and holds what the return needs.
    Upstream,
    /// The first factor was given (a password, an upstream provider, or the
    /// browser's session when a request needs more than it has) and the
    /// record names the person and waits for a code. No session exists
    /// yet, or the existing one is upgraded (a step-up).
    SecondFactor,
    /// A person who must have a second factor and has none sets one up
    /// here (the secret is pending until a code from it is entered).
    Enroll,
    /// Signed in; a notice is shown (the recovery codes just made, the
    /// recovery codes left) and the flow goes on when the person continues.
    Continue,
}

impl InteractionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Consent => "consent",
            Self::Upstream => "upstream",
            Self::SecondFactor => "second_factor",
            Self::Enroll => "enroll",
            Self::Continue => "continue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "login" => Self::Login,
            "consent" => Self::Consent,
            "upstream" => Self::Upstream,
            "second_factor" => Self::SecondFactor,
            "enroll" => Self::Enroll,
            "continue" => Self::Continue,
            _ => return None,
        })
    }
}

/// A validated authorization request waiting for the person (login, consent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub id_hash: String,
    /// Must equal the browser's CSRF cookie and the form's `csrf` field.
    pub csrf: String,
    pub stage: InteractionStage,
    /// The signed-in user once login is done.
    pub user_id: Option<String>,
    /// The validated request, as JSON (owned by the authorization endpoint).
    pub request: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A pushed authorization request (RFC 9126): the parameters a client sent
/// to `/par`, validated there, kept under the hash of the `request_uri` it
/// got back until the browser brings that to `/authorize`, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// SHA-256 of the random part of the `request_uri`.
    pub uri_hash: String,
    /// The client that pushed it; only that client may use it.
    pub client_id: String,
    /// The authorization request's parameters, form-encoded (client
    /// credentials removed; owned by the authorization endpoint).
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An issued authorization code (RFC 6749 §4.1.2), stored by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    /// Ties together everything issued from this code (for revocation on replay).
    pub grant_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (then the
    /// token request must carry the same, RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub scope: Scope,
    pub nonce: Option<String>,
    /// S256 PKCE challenge, if the request had one.
    pub code_challenge: Option<String>,
    pub auth: Authentication,
    pub created_at: i64,
    pub expires_at: i64,
    /// What a person approved for a device (RFC 8628), keyed by the hash of
    /// the device code: redeemed only by the device_code grant, never as an
    /// authorization code.
    #[serde(default)]
    pub device: bool,
    /// Claims asked for one by one (the `claims` parameter) and consented.
    #[serde(default, skip_serializing_if = "RequestedClaims::is_empty")]
    pub claims: RequestedClaims,
    /// RFC 9449 §10: the `dpop_jkt` of the authorization request. Redeeming
    /// the code takes a DPoP proof by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// A refresh token, stored by its hash. Tokens of one grant form a family
/// (same `grant_id`): each use replaces the token by a successor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    /// The scope of the grant (a refresh may narrow the access token, never this).
    pub scope: Scope,
    pub auth: Authentication,
    /// Issued because `offline_access` was granted: outlives the session.
    #[serde(default)]
    pub offline: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// Absolute end of the family, carried from token to successor.
    #[serde(default)]
    pub family_expires_at: i64,
    /// The code's individually requested claims, for the tokens refreshed.
    #[serde(default, skip_serializing_if = "RequestedClaims::is_empty")]
    pub claims: RequestedClaims,
    /// A public client's refresh token is bound to the DPoP key it was
    /// issued with (RFC 9449 §5): using it takes a proof by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// A stored refresh token with its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token: RefreshToken,
    pub consumed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The successor, sealed with a key derived from this token's value.
    pub successor_sealed: Option<String>,
}
