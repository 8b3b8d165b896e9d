//! Sign-in limits: failed password checks are counted per account and per
//! source address. An account that reaches its limit is locked for a while,
//! longer with each further failure; an address that reaches its limit is
//! refused until its count ends. A correct password clears the account's
//! count, never the address's (a sprayer must not reset it with one account
//! of their own). The store keeps the counts; this module decides.

use std::net::IpAddr;

/// What the operator configured (`login.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// Failures of one account before it is locked (0: accounts are never locked).
    pub max_failures: u64,
    /// Failures from one source address, across accounts, before it is
    /// refused (0: no address limit).
    pub max_failures_per_address: u64,
    /// How long a count lasts from its first failure.
    pub window_seconds: u32,
    /// The first lock of an account; each further failure doubles it.
    pub lock_seconds: u32,
    /// The longest lock.
    pub max_lock_seconds: u32,
}

impl LockPolicy {
    /// How long the `failures`-th failure in a row locks an account, if at
    /// all: `lock_seconds` at the limit, doubled by each failure beyond it,
    /// capped at `max_lock_seconds`.
    pub fn account_lock_seconds(&self, failures: u64) -> Option<i64> {
        if self.max_failures == 0 || failures < self.max_failures {
            return None;
        }
        let doublings = (failures - self.max_failures).min(32) as u32;
        let seconds = u64::from(self.lock_seconds).saturating_mul(1u64 << doublings);
        Some(seconds.min(u64::from(self.max_lock_seconds)) as i64)
    }

    /// Whether `failures` from one address reach its limit.
    pub fn address_limited(&self, failures: u64) -> bool {
        self.max_failures_per_address > 0 && failures >= self.max_failures_per_address
    }
}

/// The key of an account's count: a hash of the lowercased username as
/// typed, so that unknown names are counted (and locked) exactly like real
/// ones and the store names no one.
pub fn account_key(username: &str) -> String {
    format!("account:{}", crate::secret::hash_token(&username.to_lowercase()))
}

/// The key of a source address's count. IPv6 addresses count per /64, the
/// block one host can use freely.
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockPolicy {
        LockPolicy {
            max_failures: 10,
            max_failures_per_address: 100,
            window_seconds: 900,
            lock_seconds: 60,
            max_lock_seconds: 900,
        }
    }

    #[test]
    fn locks_start_at_the_limit_and_double_up_to_the_cap() {
        let p = policy();
        assert_eq!(p.account_lock_seconds(9), None);
        assert_eq!(p.account_lock_seconds(10), Some(60));
        assert_eq!(p.account_lock_seconds(11), Some(120));
        assert_eq!(p.account_lock_seconds(13), Some(480));
        assert_eq!(p.account_lock_seconds(14), Some(900), "capped");
        assert_eq!(p.account_lock_seconds(u64::MAX), Some(900), "no overflow");
        assert_eq!(LockPolicy { max_failures: 0, ..p }.account_lock_seconds(1_000), None, "off");
        assert!(!p.address_limited(99));
        assert!(p.address_limited(100));
        assert!(!LockPolicy { max_failures_per_address: 0, ..p }.address_limited(1_000_000), "off");
    }

    #[test]
    fn keys_ignore_case_and_group_ipv6_by_64() {
        assert_eq!(account_key("Alice"), account_key("alice"));
        assert_ne!(account_key("alice"), account_key("bob"));
        assert!(!account_key("alice").contains("alice"), "the key names no one");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address_key(ip("203.0.113.7")), "address:203.0.113.7");
        assert_eq!(address_key(ip("::ffff:203.0.113.7")), "address:203.0.113.7", "mapped IPv4 is IPv4");
        assert_eq!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:3::1")));
    }
}
