-- A person revoking an app at /account (or an admin revoking a consent)
-- revokes every grant that client holds for them: codes are found by user.
-- (Refresh tokens already have refresh_tokens_user.)
CREATE INDEX authorization_codes_user ON authorization_codes (user_id);
