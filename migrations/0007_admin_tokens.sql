-- Bearer tokens of the admin API (`latchkey admin token create`). Only the
-- SHA-256 of a token is stored; the token is shown once. `scopes` is a
-- space-separated list such as "clients:read clients:write". A token is
-- revoked by deleting its row.

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);

-- Keyset pagination of the admin API's listings.
CREATE INDEX clients_created ON clients (created_at, client_id);
CREATE INDEX users_created ON users (created_at, id);
