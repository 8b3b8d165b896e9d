-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are BIGINT Unix seconds and flags BIGINT 0/1, because sqlx's Any
-- driver decodes neither SQLite BOOLEAN nor date-time types.

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    -- hmac-sha256 of the secret; NULL for public clients
    secret_hash TEXT,
    -- every other registered property, as JSON (see latchkey_core::client::ClientSettings)
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    -- lower-cased username: makes names unique regardless of case
    username_key  TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string
    password_hash TEXT,
    disabled      BIGINT NOT NULL DEFAULT 0,
    -- standard OpenID Connect claims, as JSON
    claims        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    -- PKCS#8 PEM, or its AES-256-GCM envelope when encryption at rest is on
    private_key  TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT,
    remove_after BIGINT
);

-- At most one key signs and at most one waits to sign, whatever replicas race.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';
