//! What revoking means, written once for every backend over the primitive
//! operations of the store traits: a replayed code revokes its grant, a
//! revoked refresh-token family takes its access tokens with it, ending a
//! session or cutting an app off revokes the families it covers.
//!
//! Each rule comes twice: a `*_in` function that runs its steps on any
//! [`Operations`] (a [`Transaction`](crate::Transaction), so that a larger
//! unit of work can include it), and a method of [`Revocations`], which every
//! [`Store`] has, that runs it as a unit of work of its own.

use async_trait::async_trait;
use latchkey_core::grant::RefreshToken;

use crate::{IssuedToken, Operations, Store, StoreResult};

/// The tokens of `tokens` that are unexpired at `now` (an expired one needs
/// no denying).
fn unexpired(tokens: impl IntoIterator<Item = IssuedToken>, now: i64) -> Vec<IssuedToken> {
    tokens.into_iter().filter(|t| t.expires_at > now).collect()
}

async fn deny(ops: &dyn Operations, tokens: Vec<IssuedToken>, now: i64) -> StoreResult<()> {
    let tokens = unexpired(tokens, now);
    if tokens.is_empty() {
        return Ok(());
    }
    ops.deny_access_tokens(&tokens).await
}

/// Revokes a refresh-token family: every refresh token of it, and every
/// access token issued in it. Returns how many refresh tokens were live.
/// Its first step writes (see [`UnitOfWork::begin_writing`](crate::UnitOfWork::begin_writing)).
pub async fn revoke_family_in(ops: &dyn Operations, grant_id: &str, now: i64) -> StoreResult<u64> {
    let family = ops.revoke_refresh_tokens(grant_id, now).await?;
    deny(ops, family.access_tokens, now).await?;
    Ok(family.live)
}

/// After a replay of a code: the code can no longer record tokens, its
/// family is revoked, and the access token issued from it is denied. Its
/// first step writes.
pub async fn revoke_code_grant_in(ops: &dyn Operations, code_hash: &str, now: i64) -> StoreResult<()> {
    let Some(code) = ops.revoke_code(code_hash).await? else {
        return Ok(());
    };
    let family = ops.revoke_refresh_tokens(&code.grant_id, now).await?;
    deny(ops, family.access_tokens.into_iter().chain(code.access_token).collect(), now).await
}

/// Revokes the families issued in session `sid` (all, or only those not
/// issued for offline access); returns how many.
pub async fn revoke_session_families_in(
    ops: &dyn Operations,
    sid: &str,
    include_offline: bool,
    now: i64,
) -> StoreResult<u64> {
    let families = ops.list_session_families(sid, include_offline).await?;
    let mut tokens = Vec::new();
    for grant_id in &families {
        tokens.extend(ops.revoke_refresh_tokens(grant_id, now).await?.access_tokens);
    }
    deny(ops, tokens, now).await?;
    Ok(families.len() as u64)
}

/// Everything `client_id` holds for `user_id` (the person cut the app off):
/// every refresh-token family, and every unexpired access token issued from
/// a code or a refresh. Returns the number of families that had a live
/// refresh token.
pub async fn revoke_client_grants_in(
    ops: &dyn Operations,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<u64> {
    let codes = ops.revoke_client_codes(user_id, client_id, now).await?;
    let mut tokens: Vec<IssuedToken> = codes.into_iter().filter_map(|c| c.access_token).collect();
    let mut families = 0;
    for grant_id in ops.list_client_families(user_id, client_id).await? {
        let family = ops.revoke_refresh_tokens(&grant_id, now).await?;
        families += u64::from(family.live > 0);
        tokens.extend(family.access_tokens);
    }
    deny(ops, tokens, now).await?;
    Ok(families)
}

/// The revocation rules, each as a unit of work of its own.
#[async_trait]
pub trait Revocations {
    /// Records the tokens issued for a redeemed code: the access token's
    /// `jti` and expiry, and the refresh token if any, together. If a
    /// replay revoked the code meanwhile, the access token is denied at
    /// once, no refresh token is kept, and the result is false.
    async fn record_issued(
        &self,
        code_hash: &str,
        access_jti: &str,
        access_exp: i64,
        refresh: Option<&RefreshToken>,
        now: i64,
    ) -> StoreResult<bool>;
    /// See [`revoke_code_grant_in`].
    async fn revoke_code_grant(&self, code_hash: &str, now: i64) -> StoreResult<()>;
    /// See [`revoke_family_in`].
    async fn revoke_family(&self, grant_id: &str, now: i64) -> StoreResult<u64>;
    /// See [`revoke_session_families_in`].
    async fn revoke_session_families(&self, sid: &str, include_offline: bool, now: i64) -> StoreResult<u64>;
    /// See [`revoke_client_grants_in`].
    async fn revoke_client_grants(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<u64>;
}

#[async_trait]
impl<S: Store + ?Sized> Revocations for S {
    async fn record_issued(
        &self,
        code_hash: &str,
        access_jti: &str,
        access_exp: i64,
        refresh: Option<&RefreshToken>,
        now: i64,
    ) -> StoreResult<bool> {
        let Some(refresh) = refresh else {
            if self.record_code_access(code_hash, access_jti, access_exp).await? {
                return Ok(true);
            }
            // Revoked by a concurrent replay: the access token is born revoked.
            self.deny_access_token(access_jti, access_exp).await?;
            return Ok(false);
        };
        let tx = self.begin_writing().await?;
        if !tx.record_code_access(code_hash, access_jti, access_exp).await? {
            tx.deny_access_token(access_jti, access_exp).await?;
            tx.commit().await?;
            return Ok(false);
        }
        tx.insert_refresh_token(refresh, access_jti, access_exp).await?;
        tx.commit().await?;
        // Where codes are kept apart from refresh tokens (Redis beside SQL),
        // a replay may have revoked the code after it recorded the access
        // token and before the refresh token was committed, and found no
        // refresh token to revoke: look again, and revoke the family here.
        if self.is_code_revoked(code_hash).await? {
            self.revoke_family(&refresh.grant_id, now).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn revoke_code_grant(&self, code_hash: &str, now: i64) -> StoreResult<()> {
        let tx = self.begin_writing().await?;
        revoke_code_grant_in(&*tx, code_hash, now).await?;
        tx.commit().await
    }

    async fn revoke_family(&self, grant_id: &str, now: i64) -> StoreResult<u64> {
        let tx = self.begin_writing().await?;
        let live = revoke_family_in(&*tx, grant_id, now).await?;
        tx.commit().await?;
        Ok(live)
    }

    async fn revoke_session_families(&self, sid: &str, include_offline: bool, now: i64) -> StoreResult<u64> {
        let tx = self.begin().await?;
        let families = revoke_session_families_in(&*tx, sid, include_offline, now).await?;
        tx.commit().await?;
        Ok(families)
    }

    async fn revoke_client_grants(&self, user_id: &str, client_id: &str, now: i64) -> StoreResult<u64> {
        let tx = self.begin().await?;
        let families = revoke_client_grants_in(&*tx, user_id, client_id, now).await?;
        tx.commit().await?;
        Ok(families)
    }
}
