//! Which backend each operation of `RedisStore` needs, so that a server can
//! fail fast on the operations of a backend it knows is down, and serve the
//! others (with Redis down, client credentials still work; with the SQL
//! database down, a signed-in session is still recognised).

/// The backends one operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backends {
    pub sql: bool,
    pub redis: bool,
}

/// Operations served from Redis alone: sessions, interactions, codes, the
/// denylist, rate limits, sign-in failure counts and one-time use.
const REDIS_ONLY: &[&str] = &[
    "insert_session",
    "get_session",
    "add_session_client",
    "touch_session",
    "delete_session",
    "list_user_sessions",
    "find_session_by_sid",
    "insert_interaction",
    "get_interaction",
    "update_interaction",
    "delete_interaction",
    "insert_code",
    "find_code",
    "redeem_code",
    "deny_access_token",
    "is_access_token_denied",
    "hit",
    "get_failures",
    "add_failure",
    "lock_failures",
    "clear_failures",
    "first_use",
];

/// Operations that cross the two: tokens issued from a code (the code in
/// Redis, the refresh token in SQL) and revocations (families in SQL, the
/// access tokens they deny in Redis).
const BOTH: &[&str] = &[
    "record_issued",
    "revoke_code_grant",
    "revoke_refresh_family",
    "revoke_session_families",
    "revoke_client_grants",
    "ping",
];

/// What `op` (a store trait method's name) needs; everything else is SQL's.
pub fn backends_of(op: &str) -> Backends {
    if REDIS_ONLY.contains(&op) {
        Backends { sql: false, redis: true }
    } else if BOTH.contains(&op) {
        Backends { sql: true, redis: true }
    } else {
        Backends { sql: true, redis: false }
    }
}
