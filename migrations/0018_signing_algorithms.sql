-- Keys of several algorithms (RS256, PS256, ES256, EdDSA): at most one key
-- of each algorithm signs and at most one waits to sign, whatever replicas race.
DROP INDEX signing_keys_one_active;
DROP INDEX signing_keys_one_next;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';
