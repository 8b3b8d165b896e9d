-- Client assertions (private_key_jwt) already presented, by a hash of
-- client id and jti, until the assertion expires: a JWT is accepted once.
-- Used when no Redis is configured; purged by garbage collection.

CREATE TABLE used_assertions (
    key_hash   TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_assertions_expiry ON used_assertions (expires_at);
