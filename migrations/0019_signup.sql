-- Sign-up (docs/self-service.md, "Sign-up and invitations").
--
-- invitations: an operator's invitation to create an account. Only the
-- SHA-256 of its link's token is stored; accepting spends it with one
-- conditional DELETE (single use across replicas); revoking deletes it.
-- `groups` is a JSON array given to the new account.
--
-- signup_unverified: accounts made by open sign-up while
-- signup.require_verified_email is on. Such an account gets no token while
-- its address is not verified; the row is removed once it is.

CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    groups     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX invitations_expiry ON invitations (expires_at);

CREATE TABLE signup_unverified (
    user_id    TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
