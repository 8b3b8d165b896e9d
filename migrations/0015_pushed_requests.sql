-- Pushed authorization requests (RFC 9126, docs/par-jar.md), used when no
-- Redis is configured. A request is stored under the SHA-256 of the random
-- part of its request_uri, bound to the client that pushed it, and deleted
-- when /authorize takes it (once). Expired rows are purged by garbage
-- collection.

CREATE TABLE pushed_requests (
    uri_hash   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
