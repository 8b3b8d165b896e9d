-- The authorization code flow: sessions, consents, pending interactions,
-- codes, refresh tokens and revoked access tokens. Bearer values (session
-- ids, interaction ids, codes, refresh tokens) are stored only as SHA-256.

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    sid        TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    -- Authentication (auth_time, amr, acr) as JSON
    auth         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    -- absolute end; the idle limit is checked against last_seen_at
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE session_clients (
    session_id_hash TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    PRIMARY KEY (session_id_hash, client_id)
);

CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE interactions (
    id_hash    TEXT PRIMARY KEY,
    csrf       TEXT NOT NULL,
    stage      TEXT NOT NULL,
    user_id    TEXT,
    request    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX interactions_expiry ON interactions (expires_at);

CREATE TABLE authorization_codes (
    code_hash   TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    grant_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    -- the AuthorizationCode record as JSON
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked     BIGINT NOT NULL DEFAULT 0,
    access_jti  TEXT,
    access_exp  BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);

-- One row per refresh token; rows of one grant (its "family") share grant_id.
CREATE TABLE refresh_tokens (
    token_hash       TEXT PRIMARY KEY,
    grant_id         TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    -- public id of the session it was issued in
    sid              TEXT NOT NULL,
    -- the RefreshToken record as JSON
    data             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    consumed_at      BIGINT,
    revoked_at       BIGINT,
    -- the successor, sealed with a key derived from this token (grace window)
    successor_hash   TEXT,
    successor_sealed TEXT,
    -- the access token issued with this refresh token (revoked with the family)
    access_jti       TEXT,
    access_exp       BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_sid ON refresh_tokens (sid);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Denylist of access tokens revoked before they expire; kept until expiry.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);

-- Access tokens issued alongside an unchanged refresh token (a duplicate
-- refresh inside the grace window), so that revoking the family reaches them.
CREATE TABLE family_access_tokens (
    jti        TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX family_access_tokens_grant ON family_access_tokens (grant_id);
