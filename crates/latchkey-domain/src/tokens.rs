//! Codes and refresh-token families: redeeming a code (a replay revokes what
//! it got), rotating a refresh token, and revoking a family with the access
//! tokens issued in it. The token endpoint and revocation (RFC 7009) call
//! these; the cascade steps themselves are written once, for every backend,
//! in [`latchkey_store::cascade`].

use latchkey_core::grant::RefreshToken;
use latchkey_store::cascade::Revocations;
use latchkey_store::{Redemption, Rotation, Store, StoreResult};

/// Spends code `code_hash` for `client_id`: of concurrent redemptions one
/// wins, and the others see [`Redemption::AlreadyUsed`] (a replay, for
/// [`revoke_replayed_code`]).
pub async fn redeem_code(store: &dyn Store, code_hash: &str, client_id: &str, now: i64) -> StoreResult<Redemption> {
    store.redeem_code(code_hash, client_id, now).await
}

/// Records what a redeemed code got (its access token, and its refresh
/// token if any). False if a replay revoked the code meanwhile: then the
/// access token is denied at once and no refresh token is kept.
pub async fn record_issued(
    store: &dyn Store,
    code_hash: &str,
    access_jti: &str,
    access_exp: i64,
    refresh: Option<&RefreshToken>,
    now: i64,
) -> StoreResult<bool> {
    store.record_issued(code_hash, access_jti, access_exp, refresh, now).await
}

/// A code that was redeemed before came back (RFC 6749 §4.1.2): the code
/// can record nothing more, its refresh-token family is revoked, and the
/// access tokens issued from it are denied.
pub async fn revoke_replayed_code(store: &dyn Store, code_hash: &str, now: i64) -> StoreResult<()> {
    store.revoke_code_grant(code_hash, now).await
}

/// Spends refresh token `old_hash` of `client_id` for its successor (and the
/// access token issued with it); of concurrent rotations one wins (true).
pub async fn rotate_refresh_token(
    store: &dyn Store,
    old_hash: &str,
    client_id: &str,
    now: i64,
    rotation: Rotation<'_>,
) -> StoreResult<bool> {
    store.rotate_refresh_token(old_hash, client_id, now, rotation).await
}

/// Revokes refresh-token family `grant_id` (a spent token presented again,
/// or RFC 7009 revocation): every refresh token of it and every unexpired
/// access token issued in it, in one unit of work. Returns how many refresh
/// tokens were live.
pub async fn revoke_family(store: &dyn Store, grant_id: &str, now: i64) -> StoreResult<u64> {
    store.revoke_family(grant_id, now).await
}
