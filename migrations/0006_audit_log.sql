-- The audit log: security-relevant events (sign-ins, consents, token
-- families revoked on reuse, client and user changes, key rotations), in
-- order. Append-only: nothing in Latchkey updates or deletes these rows;
-- retention is the operator's decision. `id` is assigned as MAX + 1 under
-- the primary key, like `changes.seq`.

CREATE TABLE audit_events (
    id         BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    subject    TEXT,
    client_id  TEXT,
    ip         TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
