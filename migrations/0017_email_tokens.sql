-- The links of self-service email (docs/self-service.md): verifying an
-- address and resetting a password. Only the SHA-256 of a link's token is
-- stored; a link is spent by deleting its row (one conditional DELETE), and
-- a new link of the same purpose replaces the person's previous one, so the
-- table holds at most one row per person and purpose. Expired rows are
-- purged by garbage collection.

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (user_id, purpose)
);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);
