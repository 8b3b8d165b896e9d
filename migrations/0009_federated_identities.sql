-- Accounts at upstream identity providers (enterprise SSO), linked to local
-- accounts. A person is recognised by (upstream issuer, upstream subject),
-- never by email.
CREATE TABLE federated_identities (
    issuer    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    -- the configured upstream's id (for display; the issuer is the identity)
    provider  TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX federated_identities_user ON federated_identities (user_id);
