-- Fixed-window rate-limit counters (sign-in attempts per account, ...), used
-- when no Redis is configured. One row per key and window; old windows are
-- purged by garbage collection.

CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_expiry ON rate_limits (expires_at);
