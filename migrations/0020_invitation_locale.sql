-- The language an operator chose for an invitation (`latchkey invite create
-- --locale`, the admin API's `locale`): a shipped language tag, or '' when
-- none was chosen. Its email, its page and the new account's `locale`
-- follow it (docs/self-service.md, "Invitations").

ALTER TABLE invitations ADD COLUMN locale TEXT NOT NULL DEFAULT '';
