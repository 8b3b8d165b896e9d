-- Second factors (docs/mfa.md): one TOTP secret per person, pending until
-- confirmed with a code, and single-use recovery codes.
--
-- `secret` is sealed with keys.encryption_key when one is configured
-- (AES-256-GCM, the person's id as associated data). `last_step` is the last
-- RFC 6238 time step accepted; a code is accepted only for a later step, in
-- one conditional UPDATE, so each code works once across replicas.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT,
    last_used_at BIGINT
);

-- Recovery codes, stored only as keyed SHA-256 hashes of 80-bit codes. A
-- used code is deleted, so the rows are the codes left.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
