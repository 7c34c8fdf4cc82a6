-- API tokens are kept as their SHA-256 only, as browser sessions are
-- (0003): a copy of the database, a backup or `manage tokens list` logs no
-- one in. A token's secret is shown once, when it is created; afterwards
-- its first characters (secret_prefix) tell tokens apart. Tokens that exist
-- already are hashed here and keep working.
ALTER TABLE auth_tokens ADD COLUMN secret_hash char(64), ADD COLUMN secret_prefix varchar(8) NOT NULL DEFAULT '';
UPDATE auth_tokens SET secret_hash = encode(sha256(convert_to(secret, 'UTF8')), 'hex'), secret_prefix = left(secret, 8);
ALTER TABLE auth_tokens ALTER COLUMN secret_hash SET NOT NULL;
ALTER TABLE auth_tokens ADD CONSTRAINT auth_tokens_secret_hash_key UNIQUE (secret_hash);
ALTER TABLE auth_tokens DROP COLUMN secret;
