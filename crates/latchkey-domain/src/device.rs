//! The device authorization grant's limit on wrong user codes: failures are
//! counted per source address in the shared `FailureStore` (as sign-in
//! failures are), and an address that reaches the limit is refused until
//! its count ends, before any look-up. A correct code never counts.

use std::net::IpAddr;

use latchkey_core::audit::AuditEvent;
use latchkey_core::lockout::address_key;
use latchkey_store::{AuditStore, FailureStore, StoreResult, record_audit};

/// `device.user_code_max_failures` per `device.user_code_window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCodeLimit {
    /// 0: no limit.
    pub max_failures: u64,
    pub window_seconds: u32,
}

fn key(ip: IpAddr) -> String {
    format!("user-code:{}", address_key(ip))
}

/// When the address's refusal ends, if it is refused now.
pub async fn refused_until(
    failures: &dyn FailureStore,
    limit: UserCodeLimit,
    ip: IpAddr,
    now: i64,
) -> StoreResult<Option<i64>> {
    if limit.max_failures == 0 {
        return Ok(None);
    }
    Ok(failures.get_failures(&key(ip), now).await?.filter(|f| f.locked_at(now)).map(|f| f.locked_until))
}

/// Counts a wrong user code from `ip`; at the limit, the address is refused
/// until its count ends (returned).
pub async fn wrong_code(
    failures: &dyn FailureStore,
    audit: &dyn AuditStore,
    limit: UserCodeLimit,
    ip: IpAddr,
    now: i64,
) -> StoreResult<Option<i64>> {
    if limit.max_failures == 0 {
        return Ok(None);
    }
    let key = key(ip);
    let count = failures.add_failure(&key, now, limit.window_seconds).await?;
    if count.count < limit.max_failures {
        return Ok(None);
    }
    if !count.locked_at(now) {
        failures.lock_failures(&key, count.expires_at).await?;
        tracing::warn!(event = "user_code_locked", failures = count.count, "wrong user codes: address refused");
        metrics::counter!("latchkey_login_locks_total", "limit" => "user_code").increment(1);
        let event = AuditEvent::new(now, "login.locked", "anonymous")
            .ip(ip)
            .detail("limit", "user_code")
            .detail("failures", count.count)
            .detail("until", count.expires_at);
        record_audit(audit, event).await;
    }
    Ok(Some(count.expires_at))
}
