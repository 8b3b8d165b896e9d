//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).

use latchkey_core::grant::{AuthorizationCode, RefreshToken};
use latchkey_core::pkce::{is_valid_verifier, verify_s256};
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, GrantType, random};
use latchkey_domain::tokens;
use latchkey_store::{CodeLookup, Redemption};

use crate::mint::{Person, TokenResponse, mint_tokens};
use crate::{TokenError, TokenState};

pub async fn exchange(
    state: &TokenState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(TokenError::UnauthorizedClient("authorization_code"));
    }
    let code_hash = hash_token(code);
    let now = state.clock.now();
    // Look first, and check what the client can correct before anything is
    // spent: a request with a typo fails and leaves the code redeemable.
    let record = match state.codes.find_code(&code_hash, now).await? {
        // What a person approved for a device is redeemed by the device_code grant only.
        CodeLookup::Redeemable(record) | CodeLookup::Spent(record) if record.device => {
            return Err(TokenError::CodeNotFound);
        }
        CodeLookup::Redeemable(record) | CodeLookup::Spent(record) if record.client_id != client.client_id => {
            return Err(TokenError::CodeClientMismatch);
        }
        CodeLookup::Redeemable(record) => record,
        CodeLookup::Spent(record) => return Err(replayed(state, client, &code_hash, &record, now).await?),
        CodeLookup::NotFound => return Err(TokenError::CodeNotFound),
    };
    check_binding(&record, redirect_uri, code_verifier)?;
    // RFC 9449 §10: a code bound by dpop_jkt is redeemed with that key only.
    if let Some(bound) = &record.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        return Err(TokenError::DpopKeyMismatch("the code is bound to another DPoP key (dpop_jkt)"));
    }
    // Only now is the code spent; of concurrent redemptions one wins, and
    // the others are replays.
    let record = match tokens::redeem_code(&*state.codes, &code_hash, &client.client_id, now).await? {
        Redemption::Redeemed(record) => record,
        Redemption::AlreadyUsed(record) => return Err(replayed(state, client, &code_hash, &record, now).await?),
        Redemption::WrongClient => return Err(TokenError::CodeClientMismatch),
        Redemption::NotFound => return Err(TokenError::CodeNotFound),
    };
    issue(state, client, &code_hash, record, jkt, now).await
}

/// Issues the tokens of a redeemed code (an authorization code, or what a
/// person approved for a device): access token, ID token with `openid`,
/// refresh token with `offline_access`, recorded against the code.
pub(crate) async fn issue(
    state: &TokenState,
    client: &Client,
    code_hash: &str,
    record: AuthorizationCode,
    jkt: Option<&str>,
    now: i64,
) -> Result<TokenResponse, TokenError> {
    let grant = if record.device { "device_code" } else { "authorization_code" };
    let user = match state.users.get_user(&record.auth.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(TokenError::UserGone),
    };

    let offline = record.scope.contains("offline_access");
    let session_bound = state.settings.tokens.refresh_without_offline_access && !record.scope.contains("openid");
    let refresh = ((offline || session_bound) && client.allows_grant(GrantType::RefreshToken)).then(|| {
        let value = random::token(32);
        let stored = RefreshToken {
            token_hash: hash_token(&value),
            grant_id: record.grant_id.clone(),
            client_id: client.client_id.clone(),
            scope: record.scope.clone(),
            auth: record.auth.clone(),
            offline,
            created_at: now,
            expires_at: now
                + state
                    .settings
                    .tokens
                    .refresh_idle_ttl_seconds
                    .secs()
                    .min(state.settings.tokens.refresh_token_ttl_seconds.secs()),
            family_expires_at: now + state.settings.tokens.refresh_token_ttl_seconds.secs(),
            claims: record.claims.clone(),
            // RFC 9449 §5: a public client's refresh token is bound to its
            // key; a confidential client's is bound by its authentication.
            dpop_jkt: if client.is_public() { jkt.map(str::to_string) } else { None },
        };
        (value, stored)
    });
    let minted = mint_tokens(
        state,
        client,
        Person { user: &user, scope: &record.scope, auth: &record.auth, claims: &record.claims },
        record.nonce.as_deref(),
        jkt,
        now,
    )?;
    // Record what was issued; if a replay revoked the code meanwhile, issue nothing.
    let issued_refresh = refresh.as_ref().map(|(_, s)| s);
    let recorded =
        tokens::record_issued(&*state.codes, code_hash, &minted.jti, minted.expires_at, issued_refresh, now).await?;
    if !recorded {
        // A concurrent replay came first: this exchange still answers (the one
        // success of the race), but its access token is already revoked and
        // no refresh token exists.
        tracing::warn!(event = "code_replay", client_id = %client.client_id, "tokens issued from a replayed code are revoked");
        return Ok(minted.response(None));
    }
    tracing::info!(event = "tokens_issued", grant, client_id = %client.client_id, "tokens issued");
    Ok(minted.response(refresh.map(|(v, _)| v)))
}

/// The checks a legitimate client can fail and correct: the `redirect_uri`
/// of the authorization request, and the PKCE verifier of its challenge.
fn check_binding(
    record: &AuthorizationCode,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<(), TokenError> {
    // RFC 6749 §4.1.3: redirect_uri must be present and identical if it was in the request.
    match (record.redirect_uri_sent, redirect_uri) {
        (true, Some(uri)) if uri == record.redirect_uri => {}
        (false, None) => {}
        (false, Some(uri)) if uri == record.redirect_uri => {}
        _ => return Err(TokenError::RedirectUriMismatch),
    }
    match (&record.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !is_valid_verifier(verifier) {
                return Err(TokenError::Pkce("code_verifier must be 43 to 128 unreserved characters"));
            }
            if !verify_s256(verifier, challenge) {
                return Err(TokenError::Pkce("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(TokenError::Pkce("code_verifier is required")),
        // A verifier for a code issued without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => return Err(TokenError::Pkce("the authorization request had no code_challenge")),
        (None, None) => {}
    }
    Ok(())
}

/// A code that was redeemed before came back: whoever holds it, revoke what
/// the first redemption got (RFC 6749 §4.1.2), and refuse.
pub(crate) async fn replayed(
    state: &TokenState,
    client: &Client,
    code_hash: &str,
    record: &AuthorizationCode,
    now: i64,
) -> Result<TokenError, TokenError> {
    tokens::revoke_replayed_code(&*state.codes, code_hash, now).await?;
    tracing::warn!(
        event = "code_replay",
        client_id = %client.client_id,
        grant_id = %record.grant_id,
        "authorization code reused; tokens issued from it were revoked"
    );
    let event =
        latchkey_core::audit::AuditEvent::new(now, "token_family.revoked", format!("client:{}", client.client_id))
            .subject(&record.auth.user_id)
            .client(&client.client_id)
            .detail("reason", if record.device { "device_code_replay" } else { "authorization_code_replay" })
            .detail("grant_id", record.grant_id.as_str());
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(TokenError::CodeAlreadyUsed)
}
