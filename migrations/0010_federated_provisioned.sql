-- Whether a link was made by just-in-time provisioning (the upstream created
-- the account) rather than by a person linking an existing account: the
-- upstream's claims are refreshed on sign-in only for provisioned accounts
-- unless configured otherwise (docs/federation.md). Flags as INTEGER (sqlx
-- Any decodes no SQLite BOOLEAN).
ALTER TABLE federated_identities ADD COLUMN provisioned INTEGER NOT NULL DEFAULT 0;

-- Links made before this column: provisioning creates the account and its
-- link in the same second, linking an existing account never does.
UPDATE federated_identities SET provisioned = 1
WHERE linked_at = (SELECT created_at FROM users WHERE users.id = federated_identities.user_id);
