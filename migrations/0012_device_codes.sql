-- Device authorization requests (RFC 8628, docs/device-and-exchange.md),
-- used when no Redis is configured. Device codes and user codes are stored
-- only as SHA-256. What a person approves becomes an authorization code
-- (authorization_codes, keyed by the device code's hash), redeemed once.
-- Rows are kept an hour past expiry (a late poll is told expired_token),
-- then purged by garbage collection.

CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    data             TEXT NOT NULL,
    status           TEXT NOT NULL,
    poll_interval    BIGINT NOT NULL,
    last_poll_at     BIGINT,
    slowed           BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);
