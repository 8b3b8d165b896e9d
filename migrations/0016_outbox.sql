-- Outgoing email waiting to be sent (docs/self-service.md). Stored, not in
-- memory, so that a restart loses nothing; every replica's sender claims a
-- due row with one conditional UPDATE that moves `next_attempt_at` past a
-- lease and records its `lease` token, so two replicas never send the same
-- row at once. A sent row is deleted; a failed one is rescheduled with
-- backoff until its attempts run out.

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease           TEXT NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
