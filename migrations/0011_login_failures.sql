-- Failed sign-ins per account and per source address, and the locks they led
-- to (docs/operations.md, "Sign-in limits"), used when no Redis is
-- configured. One row per key; rows that ended are purged by garbage
-- collection.

CREATE TABLE login_failures (
    bucket       TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX login_failures_expiry ON login_failures (expires_at);
