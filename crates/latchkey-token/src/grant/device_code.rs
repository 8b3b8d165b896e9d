//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628
//! §3.4, §3.5): the device polls until the person decides at `/device`.

use latchkey_core::device::{DevicePoll, DeviceStatus};
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, GrantType};
use latchkey_domain::tokens;
use latchkey_store::Redemption;

use super::authorization_code::{issue, replayed};
use crate::mint::TokenResponse;
use crate::{TokenError, TokenState};

pub async fn poll(
    state: &TokenState,
    client: &Client,
    device_code: &str,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(TokenError::UnauthorizedClient(latchkey_core::device::GRANT_TYPE));
    }
    let hash = hash_token(device_code);
    let now = state.clock.now();
    // Every poll is counted (and slowed down) before its answer, so that
    // of many polls at once after approval one gets the tokens and the
    // others `slow_down`.
    match state.codes.poll_device_code(&hash, &client.client_id, now).await? {
        DevicePoll::NotFound => Err(TokenError::DeviceCodeInvalid),
        DevicePoll::Expired => Err(TokenError::DeviceCodeExpired),
        DevicePoll::SlowDown(_) => Err(TokenError::SlowDown),
        DevicePoll::Polled(DeviceStatus::Pending) => Err(TokenError::AuthorizationPending),
        DevicePoll::Polled(DeviceStatus::Denied) => Err(TokenError::DeviceDenied),
        DevicePoll::Polled(DeviceStatus::Approved) => {
            match tokens::redeem_code(&*state.codes, &hash, &client.client_id, now).await? {
                Redemption::Redeemed(record) if record.device => issue(state, client, &hash, record, jkt, now).await,
                Redemption::AlreadyUsed(record) if record.device => {
                    replayed(state, client, &hash, &record, now).await?;
                    Err(TokenError::DeviceCodeUsed)
                }
                // Approved at the last second, and expired since.
                Redemption::NotFound => Err(TokenError::DeviceCodeExpired),
                _ => Err(TokenError::DeviceCodeInvalid),
            }
        }
    }
}
