-- A feed of changes to rows that servers cache in memory (clients, users,
-- the access-token denylist). Every writer appends one row per change; every
-- server polls for rows after the last sequence number it has seen and drops
-- what it cached. `seq` is assigned as MAX + 1 under the primary key, so a row
-- becomes visible only after every lower one (no gaps a poller could skip).
-- Rows older than an hour are purged by garbage collection.

CREATE TABLE changes (
    seq        BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX changes_age ON changes (created_at);
