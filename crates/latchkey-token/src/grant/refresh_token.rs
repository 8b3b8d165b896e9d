//! `grant_type=refresh_token` (RFC 6749 §6) with rotation on every use and
//! reuse detection (RFC 9700 §4.14.2): presenting a spent token revokes the
//! whole family, unless it arrives within the configured grace window, in
//! which case it receives the same successor.

use latchkey_core::grant::RefreshToken;
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, GrantType, Scope, random};
use latchkey_domain::tokens;
use latchkey_keys::{EncryptionKey, open_private_key, seal_private_key};
use latchkey_store::Rotation;
use sha2::{Digest, Sha256};

use crate::mint::{Person, TokenResponse, mint_tokens};
use crate::{TokenError, TokenState};

const SEAL_AAD: &str = "latchkey/refresh-successor/v1";

/// The key that seals a token's successor: derived from the token's own
/// value, so only a holder of the old token can open it, and only the server
/// holds the sealed copy.
fn successor_key(old_value: &str) -> EncryptionKey {
    let mut h = Sha256::new();
    h.update(SEAL_AAD.as_bytes());
    h.update(old_value.as_bytes());
    EncryptionKey::from_bytes(h.finalize().into())
}

pub async fn refresh(
    state: &TokenState,
    client: &Client,
    value: &str,
    scope: Option<&str>,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(TokenError::UnauthorizedClient("refresh_token"));
    }
    let now = state.clock.now();
    let old_hash = hash_token(value);
    let record = state.refresh.get_refresh_token(&old_hash).await?.ok_or(TokenError::RefreshTokenInvalid)?;
    let old = &record.token;
    if old.client_id != client.client_id {
        return Err(TokenError::RefreshClientMismatch);
    }
    if record.revoked_at.is_some() || old.expires_at <= now {
        return Err(TokenError::RefreshTokenInvalid);
    }
    if let Some(bound) = &old.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        return Err(TokenError::DpopKeyMismatch("the refresh token is bound to another DPoP key"));
    }
    // A refresh may narrow the access token's scope, never widen it.
    let access_scope = match scope {
        None => old.scope.clone(),
        Some(s) => {
            let asked = Scope::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if asked.is_empty() || !asked.is_subset(&old.scope) {
                return Err(TokenError::InvalidScope("the scope exceeds the original grant".into()));
            }
            asked
        }
    };
    let user = match state.users.get_user(&old.auth.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(TokenError::UserGone),
    };
    let person = Person { user: &user, scope: &access_scope, auth: &old.auth, claims: &old.claims };

    if record.consumed_at.is_none() {
        let successor_value = random::token(32);
        let successor = RefreshToken {
            token_hash: hash_token(&successor_value),
            grant_id: old.grant_id.clone(),
            client_id: old.client_id.clone(),
            scope: old.scope.clone(),
            auth: old.auth.clone(),
            offline: old.offline,
            created_at: now,
            expires_at: (now + state.settings.tokens.refresh_idle_ttl_seconds.secs())
                .min(old.family_expires_at.max(now)),
            family_expires_at: old.family_expires_at,
            claims: old.claims.clone(),
            dpop_jkt: old.dpop_jkt.clone(),
        };
        let sealed = seal_private_key(&successor_value, SEAL_AAD, Some(&successor_key(value)))
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        let minted = mint_tokens(state, client, person, None, jkt, now)?;
        let rotation = Rotation {
            successor: &successor,
            successor_sealed: &sealed,
            access_jti: &minted.jti,
            access_exp: minted.expires_at,
        };
        let won = tokens::rotate_refresh_token(&*state.refresh, &old_hash, &client.client_id, now, rotation).await?;
        if won {
            tracing::info!(event = "tokens_issued", grant = "refresh_token", client_id = %client.client_id, "refresh token rotated");
            return Ok(minted.response(Some(successor_value)));
        }
    }

    // Spent already (before, or by a concurrent request that just won).
    let record = state.refresh.get_refresh_token(&old_hash).await?.ok_or(TokenError::RefreshTokenInvalid)?;
    let mut grace = state.settings.tokens.refresh_grace_seconds.secs();
    // FAPI 2.0 Security Profile §5.3.2.1: rotation only where a client that
    // lost the answer can retry with the token it sent.
    if client.settings.fapi2_security_profile {
        grace = grace.max(latchkey_core::fapi2::REFRESH_RETRY_SECONDS);
    }
    if let (Some(consumed_at), Some(sealed), None) = (record.consumed_at, &record.successor_sealed, record.revoked_at)
        && grace > 0
        && now - consumed_at <= grace
        && let Ok(successor_value) = open_private_key(sealed, SEAL_AAD, Some(&successor_key(value)))
        && let Some(successor) = state.refresh.get_refresh_token(&hash_token(&successor_value)).await?
        && successor.consumed_at.is_none()
        && successor.revoked_at.is_none()
    {
        let minted = mint_tokens(state, client, person, None, jkt, now)?;
        state.refresh.add_family_access_token(&old_hash, &minted.jti, minted.expires_at).await?;
        tracing::info!(client_id = %client.client_id, "duplicate refresh within the grace window: same successor");
        return Ok(minted.response(Some(successor_value)));
    }
    let revoked = tokens::revoke_family(&*state.refresh, &old.grant_id, now).await?;
    metrics::counter!("latchkey_refresh_token_reuse_total").increment(1);
    tracing::warn!(
        event = "refresh_token_reuse",
        client_id = %client.client_id,
        grant_id = %old.grant_id,
        user_id = %old.auth.user_id,
        live_tokens_revoked = revoked,
        "a spent refresh token was presented: the whole token family was revoked"
    );
    let event =
        latchkey_core::audit::AuditEvent::new(now, "token_family.revoked", format!("client:{}", client.client_id))
            .subject(&old.auth.user_id)
            .client(&client.client_id)
            .detail("reason", "refresh_token_reuse")
            .detail("grant_id", old.grant_id.as_str())
            .detail("tokens_revoked", revoked);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Err(TokenError::RefreshTokenReused)
}
