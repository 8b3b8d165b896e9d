//! Lua scripts: each runs atomically in Redis, which is what makes a code
//! single-use and keeps a session's keys consistent across replicas.

use std::sync::LazyLock;

use redis::Script;

/// KEYS: session, sid, user-sessions. ARGV: auth, created_at, expires_at,
/// last_seen_at, ttl, id_hash.
pub static INSERT_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('HSET', KEYS[1], 'auth', ARGV[1], 'created_at', ARGV[2], 'expires_at', ARGV[3], 'last_seen_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], ARGV[6], 'EX', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[6])
-- The user's index lives as long as their longest session.
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[5]) then
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
"#,
    )
});

/// KEYS: session, session-clients. ARGV: client_id. The client set expires
/// with its session.
pub static ADD_SESSION_CLIENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ttl = redis.call('TTL', KEYS[1])
if ttl < 1 then return end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ttl)
"#,
    )
});

/// KEYS: session. ARGV: now. `last_seen_at` only moves forward.
pub static TOUCH_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local seen = redis.call('HGET', KEYS[1], 'last_seen_at')
if seen and tonumber(seen) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
end
"#,
    )
});

/// KEYS: session, session-clients. ARGV: prefix, id_hash. Deletes the
/// session with its sid and index entries and returns it; of concurrent
/// deletions only one gets it.
pub static DELETE_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'auth', 'created_at', 'expires_at', 'last_seen_at')
if not f[1] then return nil end
local clients = redis.call('SMEMBERS', KEYS[2])
local auth = cjson.decode(f[1])
redis.call('DEL', KEYS[1], KEYS[2], ARGV[1] .. 'sid:' .. auth['sid'])
redis.call('ZREM', ARGV[1] .. 'user-sessions:' .. auth['user_id'], ARGV[2])
return {f, clients}
"#,
    )
});

/// KEYS: interaction. ARGV: stage, user_id ("" for none). 1 if it existed.
pub static UPDATE_INTERACTION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'stage', ARGV[1], 'user_id', ARGV[2])
return 1
"#,
    )
});

/// KEYS: code. ARGV: client_id, now. Returns {outcome, data}.
pub static REDEEM_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'client_id', 'data', 'expires_at', 'consumed_at')
if not f[1] then return {'missing', false} end
if f[1] ~= ARGV[1] then return {'wrong_client', false} end
if f[4] then return {'used', f[2]} end
if tonumber(f[3]) <= tonumber(ARGV[2]) then return {'expired', false} end
redis.call('HSET', KEYS[1], 'consumed_at', ARGV[2])
return {'redeemed', f[2]}
"#,
    )
});

/// KEYS: code. ARGV: access_jti, access_exp, seconds until access_exp. 1 if
/// recorded (the code is then kept at least as long as its access token, so
/// that revoking the grant can still find it); 0 if the code was revoked (or
/// is gone).
pub static RECORD_ISSUED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') then return 0 end
redis.call('HSET', KEYS[1], 'access_jti', ARGV[1], 'access_exp', ARGV[2])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"#,
    )
});

/// KEYS: code. Marks it revoked; returns {grant_id, access_jti, access_exp}
/// or nil if unknown.
pub static REVOKE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'grant_id', 'access_jti', 'access_exp')
if not f[1] then return nil end
redis.call('HSET', KEYS[1], 'revoked', '1')
return f
"#,
    )
});

/// KEYS: the record. ARGV: expires_at, now, ttl. Returns 1 the first time
/// (or once an earlier record has expired at `now`), else 0.
pub static FIRST_USE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"#,
    )
});

/// KEYS: the count. ARGV: now, window_seconds, the clock's now (for the
/// TTL). Counts one failure, starting over if the count has ended at `now`;
/// returns {count, locked_until, expires_at}.
pub static ADD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until', 'expires_at')
local count, locked, expires = 1, 0, now + tonumber(ARGV[2])
if f[1] and tonumber(f[3]) > now then
  count, locked, expires = tonumber(f[1]) + 1, tonumber(f[2]), tonumber(f[3])
end
redis.call('HSET', KEYS[1], 'count', count, 'locked_until', locked, 'expires_at', expires)
redis.call('EXPIRE', KEYS[1], math.max(1, expires - tonumber(ARGV[3])))
return {count, locked, expires}
"#,
    )
});

/// KEYS: the count. ARGV: until, the clock's now. Locks until `until` unless
/// locked longer; the count then lives at least that long.
pub static LOCK_FAILURES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'locked_until', 'expires_at')
if not f[1] then return 0 end
local lock = tonumber(ARGV[1])
if tonumber(f[1]) < lock then redis.call('HSET', KEYS[1], 'locked_until', lock) end
if tonumber(f[2]) < lock then
  redis.call('HSET', KEYS[1], 'expires_at', lock)
  redis.call('EXPIRE', KEYS[1], math.max(1, lock - tonumber(ARGV[2])))
end
return 1
"#,
    )
});

/// KEYS: the count. Deletes it and returns {count, locked_until,
/// expires_at}, or nil if there was none.
pub static CLEAR_FAILURES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'count', 'locked_until', 'expires_at')
if not f[1] then return nil end
redis.call('DEL', KEYS[1])
return f
"#,
    )
});

/// KEYS: device request, user code. ARGV: client_id, data, interval,
/// expires_at, ttl, device_code_hash. 0 if the user code is taken.
pub static INSERT_DEVICE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('SET', KEYS[2], ARGV[6], 'NX', 'EX', ARGV[5]) == false then return 0 end
redis.call('HSET', KEYS[1], 'client_id', ARGV[1], 'data', ARGV[2], 'status', 'pending', 'interval', ARGV[3],
  'expires_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"#,
    )
});

/// KEYS: device request. ARGV: status, now. 1 if a pending, unexpired
/// request was decided.
pub static DECIDE_DEVICE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'status', 'expires_at')
if f[1] ~= 'pending' or tonumber(f[2]) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
"#,
    )
});

/// KEYS: device request. ARGV: client_id, now. Returns {status, interval,
/// slowed (0/1), expires_at}, or nil if unknown or another client's. A poll
/// sooner than the interval after the previous one adds 5 s to it.
pub static POLL_DEVICE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'client_id', 'status', 'interval', 'last_poll', 'expires_at')
if not f[1] or f[1] ~= ARGV[1] then return nil end
local now = tonumber(ARGV[2])
local interval = tonumber(f[3])
local slowed = 0
if f[4] and now < tonumber(f[4]) + interval then
  interval = interval + 5
  slowed = 1
end
redis.call('HSET', KEYS[1], 'interval', interval, 'last_poll', now)
return {f[2], interval, slowed, tonumber(f[5])}
"#,
    )
});

/// KEYS: pushed request. ARGV: client_id, now. Returns the request's
/// params, created_at and expires_at, deleting it, if it is the client's and
/// unexpired; nothing otherwise (another client's request stays).
pub static TAKE_PUSHED_REQUEST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'client_id', 'params', 'created_at', 'expires_at')
if not f[1] or f[1] ~= ARGV[1] or tonumber(f[4]) <= tonumber(ARGV[2]) then return false end
redis.call('DEL', KEYS[1])
return {f[2], f[3], f[4]}
"#,
    )
});
