-- Passkeys (WebAuthn credentials, docs/mfa.md): any number per person,
-- named by them. `credential_id` is the credential's id, base64url without
-- padding; `data` is the library's serialized credential (public key,
-- counter, flags), rewritten after each use. `sign_count` is the
-- authenticator's signature counter, kept apart so that its update is one
-- conditional UPDATE (a counter that does not rise, on an authenticator that
-- counts, is refused across replicas).
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    data          TEXT NOT NULL,
    sign_count    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony in progress (a registration or a sign-in): the
-- challenge's server-side state, bound to what started it (`binding`: the
-- person, or the sign-in in progress), taken once (deleted when finished)
-- and short-lived.
CREATE TABLE passkey_ceremonies (
    id_hash    TEXT PRIMARY KEY,
    binding    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
