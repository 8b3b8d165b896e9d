//! `grant_type=client_credentials` (RFC 6749 §4.4) for confidential clients,
//! with RFC 9068 access tokens whose `sub` is the client, and the audience
//! chosen by a resource indicator (RFC 8707) among those the client may use.

use latchkey_core::{Client, GrantType, Scope};
use url::Url;

use crate::mint::{TokenResponse, mint_client_token};
use crate::{TokenError, TokenState};

/// Scopes that make sense only with a person present.
const PERSONAL: &[&str] = &["openid", "offline_access", "profile", "email", "phone", "address", "groups"];

pub async fn issue(
    state: &TokenState,
    client: &Client,
    scope: Option<&str>,
    resource: Option<&str>,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(TokenError::UnauthorizedClient("client_credentials"));
    }
    let allowed =
        Scope::from_tokens(client.settings.scope.iter().filter(|s| !PERSONAL.contains(s)).map(str::to_string));
    let scope = match scope {
        None => allowed,
        Some(s) => {
            let asked = Scope::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if let Some(extra) = asked.iter().find(|s| !allowed.contains(s)) {
                return Err(TokenError::InvalidScope(format!("the client may not request scope {extra}")));
            }
            asked
        }
    };
    let audience = match resource {
        None => state.settings.default_audience().to_string(),
        Some(r) => {
            let valid = Url::parse(r).is_ok() && !r.contains('#');
            if !valid {
                return Err(TokenError::InvalidTarget("resource must be an absolute URI without a fragment".into()));
            }
            if !client.settings.audiences.iter().any(|a| a == r) {
                return Err(TokenError::InvalidTarget("the client may not request tokens for this resource".into()));
            }
            r.to_string()
        }
    };
    let now = state.clock.now();
    let minted = mint_client_token(state, client, &scope, &audience, jkt, now)?;
    Ok(minted.response(None))
}
